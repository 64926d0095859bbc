"""Embedding losses (note 004: "Negative sampling", "GloVe word vector");
CTC lives in :mod:`losses._ctc`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C

_sp = C.softplus


# --- word2vec negative sampling ---------------------------------------------
def _sgns_forward(center, context, negatives):
  sp = jnp.sum(center * context, -1)
  sn = jnp.einsum("...kd,...d->...k", negatives, center)
  return _sp(-sp) + jnp.sum(_sp(sn), -1), sp, sn


@jax.custom_jvp
def _sgns(center, context, negatives):
  return _sgns_forward(center, context, negatives)[0]


def _sgns_jvp(primals, tangents):
  center, context, negatives = primals
  d_center, d_context, d_negatives = tangents
  v, sp, sn = _sgns_forward(center, context, negatives)
  gp = -jax.nn.sigmoid(-sp)  # sigma - t, t = 1 (no 1 - sigma rounding)
  gn = jax.nn.sigmoid(sn)  # sigma - t, t = 0
  terms = []
  if C.has_tangent(d_center):
    g_center = gp[..., None] * context + jnp.einsum("...k,...kd->...d", gn, negatives)
    terms.append(jnp.sum(g_center * d_center, -1))
  if C.has_tangent(d_context):
    terms.append(gp * jnp.sum(center * d_context, -1))
  if C.has_tangent(d_negatives):
    terms.append(jnp.sum(gn * jnp.einsum("...kd,...d->...k", d_negatives, center), -1))
  return v, C.tangent_sum(v, terms)


_sgns.defjvp(_sgns_jvp, symbolic_zeros=True)


@jax.jit
def negative_sampling(
  center: ArrayLike,
  context: ArrayLike,
  negatives: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
) -> jax.Array:
  """word2vec skip-gram negative sampling (note 004):
  ``-log sigma(u_o . v_c) - sum_k log sigma(-u_k . v_c)``.

  ``center`` v_c and ``context`` u_o: (..., D); ``negatives`` u_k:
  (..., K, D). Each dot product is a logistic regression ("is this a
  context-target pair?"), so the gradients are note 003's ``sigma - t``:
  ``dv_c = (sigma(s_o) - 1) u_o + sum_k sigma(s_k) u_k``, ``du_o =
  (sigma(s_o) - 1) v_c``, ``du_k = sigma(s_k) v_c``. Returns shape (...).
  """
  fn = "negative_sampling"
  for x, name in ((center, "center"), (context, "context"), (negatives, "negatives")):
    C.check_floating(x, name, fn)
  C.check_same_shape(center, context, "center", "context", fn)
  C.check_min_rank(center, 1, "center", fn)
  sc = jnp.shape(center)
  if jnp.ndim(negatives) != len(sc) + 1 or (
    jnp.shape(negatives)[:-2] + jnp.shape(negatives)[-1:] != sc
  ):
    raise ValueError(
      f"{fn}: center shape {sc} and negatives shape "
      f"{jnp.shape(negatives)} disagree (negatives must be "
      f"{sc[:-1] + ('K',) + sc[-1:]})."
    )
  out = sc[:-1]
  C.check_broadcast_to(where, out, "where", fn)
  C.check_broadcast_to(weights, out, "weights", fn)
  cdt, odt = C.compute_dtype(center, context, negatives)
  mask = C.as_mask(where, out)
  m1, m2 = C.expand_mask(mask), C.expand_mask(mask, 2)
  v = _sgns(
    C.safe(jnp.asarray(center).astype(cdt), m1),
    C.safe(jnp.asarray(context).astype(cdt), m1),
    C.safe(jnp.asarray(negatives).astype(cdt), m2),
  )
  return C.finish(v, mask, weights, odt)


# --- GloVe ----------------------------------------------------------------------
def _glove_forward(w, c, bw, bc, x, x_max, alpha):
  pos = x > 0
  xs = jnp.where(pos, x, 1.0)  # double-where: log 0
  f = jnp.where(pos, jnp.minimum(1.0, (xs / x_max) ** alpha), 0.0)
  err = jnp.sum(w * c, -1) + bw + bc - jnp.log(xs)
  return f * err * err, f, err


@jax.custom_jvp
def _glove(w, c, bw, bc, x, x_max, alpha):
  return _glove_forward(w, c, bw, bc, x, x_max, alpha)[0]


def _glove_jvp(primals, tangents):
  w, c, bw, bc, x, x_max, alpha = primals
  dw, dc, dbw, dbc = tangents[:4]  # counts and hyperparameters: data
  v, f, err = _glove_forward(w, c, bw, bc, x, x_max, alpha)
  k = 2.0 * f * err  # dv/d(err)
  terms = [
    jnp.sum(k[..., None] * c * dw, -1) if C.has_tangent(dw) else None,
    jnp.sum(k[..., None] * w * dc, -1) if C.has_tangent(dc) else None,
    k * dbw if C.has_tangent(dbw) else None,
    k * dbc if C.has_tangent(dbc) else None,
  ]
  return v, C.tangent_sum(v, terms)


_glove.defjvp(_glove_jvp, symbolic_zeros=True)


# x_max is the count at which the weighting saturates at 1; alpha = 0 weighs
# every observed pair 1, a negative alpha would weigh rare pairs the most
@C.with_hyperparameter_checks(x_max="> 0", alpha=">= 0")
@jax.jit
def glove(
  word_vectors: ArrayLike,
  context_vectors: ArrayLike,
  word_biases: ArrayLike,
  context_biases: ArrayLike,
  cooccurrences: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  x_max: ArrayLike = 100.0,
  alpha: ArrayLike = 0.75,
) -> jax.Array:
  """GloVe weighted least squares (note 004):
  ``f(X_ij) (theta_i . e_j + b_i + b'_j - log X_ij)^2`` per pair, with the
  weighting ``f(x) = min(1, (x / x_max)^alpha)`` and ``f(0) = 0`` (pairs that
  never co-occur contribute exactly 0, no log 0). Vectors: (..., D); biases and
  counts: (...). Gradient: ``2 f err`` times the partner vector (and 1 for the
  biases); the counts are data (no gradient). ``x_max`` must be > 0 and
  ``alpha`` >= 0 (ValueError when concrete; unchecked under ``jax.jit``).
  """
  fn = "glove"
  C.check_floating(word_vectors, "word_vectors", fn)
  C.check_same_shape(word_vectors, context_vectors, "word_vectors", "context_vectors", fn)
  C.check_min_rank(word_vectors, 1, "word_vectors", fn)
  out = jnp.shape(word_vectors)[:-1]
  for x, name in (
    (word_biases, "word_biases"),
    (context_biases, "context_biases"),
    (cooccurrences, "cooccurrences"),
  ):
    C.check_real(x, name, fn)
    if jnp.shape(x) != out:
      raise ValueError(
        f"{fn}: word_vectors shape {jnp.shape(word_vectors)} "
        f"and {name} shape {jnp.shape(x)} disagree ({name} "
        f"must be {out})."
      )
  C.check_broadcast_to(where, out, "where", fn)
  C.check_broadcast_to(weights, out, "weights", fn)
  cdt, odt = C.compute_dtype(word_vectors, context_vectors)
  mask = C.as_mask(where, out)
  m1 = C.expand_mask(mask)
  args = [
    C.safe(jnp.asarray(a).astype(cdt), m)
    for a, m in (
      (word_vectors, m1),
      (context_vectors, m1),
      (word_biases, mask),
      (context_biases, mask),
      (cooccurrences, mask),
    )
  ]
  v = _glove(*args, C.hyper(x_max, cdt), C.hyper(alpha, cdt))
  return C.finish(v, mask, weights, odt)
