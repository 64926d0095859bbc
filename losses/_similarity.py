"""Similarity losses of optax's catalogue (optax parity, issue 16; note 004
covers metric learning generally): cosine similarity / distance, and the
normalized-temperature cross-entropy NT-Xent of SimCLR (Chen et al. 2020).

Both are built on the clamped unit vector ``e_hat = e / n``,
``n = sqrt(max(||e||^2, epsilon))`` (optax clamps the *squared* norm at
``epsilon``, so the norm at ``sqrt(epsilon)``). Its tangent, the one fact
every rule below uses, is

    d e_hat = (de - [||e||^2 > epsilon] e_hat <e_hat, de>) / n

(below the clamp the norm is a constant and only ``de / n`` remains).
The hand-derived derivatives are given as custom JVPs (see docs/losses.md).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

from losses import _common as C
from losses._common import Axis


def _unit(x, epsilon):
  """(e_hat, n, s > epsilon, ok) over the last axis.

  ``ok`` is False only for a zero vector with ``epsilon = 0`` (0/0): there
  the unit vector is taken as 0 (double ``where``: n is replaced by 1 before
  dividing), so no derivative of any order is NaN.
  """
  s = jnp.sum(x * x, axis=-1, keepdims=True)
  above = s > epsilon
  q = jnp.where(above, s, epsilon)
  ok = q > 0
  n = jnp.sqrt(jnp.where(ok, q, 1.0))
  return jnp.where(ok, x / n, 0.0), n, above, ok


def _unit_tangent(x_hat, n, above, ok, dx):
  """d e_hat for a tangent dx (see the module docstring); 0 where not ok."""
  radial = jnp.where(above, x_hat * jnp.sum(x_hat * dx, axis=-1, keepdims=True), 0.0)
  return jnp.where(ok, (dx - radial) / n, 0.0)


# --- cosine similarity -----------------------------------------------------------
def _inverse_norm(x, epsilon):
  """(1 / n, ||x||^2 > epsilon) with the axis kept; 1 / n is 0 for a zero
  vector with epsilon = 0 (double ``where``: finite at every order)."""
  s = jnp.sum(x * x, axis=-1, keepdims=True)
  above = s > epsilon
  q = jnp.where(above, s, epsilon)
  ok = q > 0
  return jnp.where(ok, jax.lax.rsqrt(jnp.where(ok, q, 1.0)), 0.0), above


@jax.custom_jvp
def _cosine(a, b, epsilon):
  ia, _ = _inverse_norm(a, epsilon)
  ib, _ = _inverse_norm(b, epsilon)
  return jnp.sum(a * b, axis=-1) * (ia * ib)[..., 0]


def _cosine_jvp(primals, tangents):
  a, b, epsilon = primals
  ta, tb, te = tangents
  ia, above_a = _inverse_norm(a, epsilon)
  ib, above_b = _inverse_norm(b, epsilon)
  iab = ia * ib
  cos = jnp.sum(a * b, axis=-1, keepdims=True) * iab
  terms = [None, None, None]
  # d cos/da = b / (n_a n_b) - [||a||^2 > eps] cos a / n_a^2, i.e.
  # (b_hat - cos a_hat) / ||a|| unclamped: per-row scales, so the partial is
  # one fused pass over the features (no per-element selects)
  if C.has_tangent(ta):
    scale = jnp.where(above_a, cos * ia * ia, 0.0)
    terms[0] = jnp.sum((b * iab - a * scale) * ta, -1)
  if C.has_tangent(tb):
    scale = jnp.where(above_b, cos * ib * ib, 0.0)
    terms[1] = jnp.sum((a * iab - b * scale) * tb, -1)
  if C.has_tangent(te):
    # a clamped norm is sqrt(epsilon): d(1/n)/d epsilon = -1 / (2 n^3)
    clamped = lambda above, i: jnp.where(above, 0.0, 0.5 * i * i)[..., 0]
    terms[2] = -cos[..., 0] * (clamped(above_a, ia) + clamped(above_b, ib)) * te
  return cos[..., 0], C.tangent_sum(cos[..., 0], terms)


_cosine.defjvp(_cosine_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("fn", "axis"))
def _cosine_jit(fn, predictions, targets, where, weights, axis, epsilon, distance):
  C.check_floating(targets, "targets", fn)
  a, b, mask, odt = C.axis_setup(
    fn, predictions, targets, axis, where, weights, ("predictions", "targets")
  )
  v = _cosine(a, b, C.hyper(epsilon, a.dtype))
  # distance is a traced 0/1: both public names share one compiled program
  return C.finish(distance - (2.0 * distance - 1.0) * v, mask, weights, odt)


def _check_epsilon(fn, epsilon):
  if C.is_concrete(epsilon) and not np.all(np.asarray(epsilon) >= 0):
    raise ValueError(f"{fn}: epsilon must be >= 0, got {epsilon}.")


def cosine_similarity(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  epsilon: ArrayLike = 0.0,
) -> jax.Array:
  """Cosine similarity ``<a, b> / (n_a n_b)`` over ``axis`` (a similarity:
  higher is better; not in ``losses.LOSSES``), ``n = sqrt(max(||x||^2,
  epsilon))``: equals ``optax.losses.cosine_similarity(..., epsilon=)``.

  Gradient: ``(b_hat - cos a_hat) / ||a||`` for ``a`` (``b / (n_a n_b)``
  while ``||a||^2 <= epsilon``), symmetrically for ``b``.

  A zero vector with ``epsilon = 0`` (optax: NaN) gives similarity 0 with
  zero gradient; with ``epsilon > 0`` the clamp already makes it 0, with
  the finite gradient ``b / (sqrt(epsilon) n_b)``. ``where`` masks whole
  examples (the library's convention), not feature entries as optax's does.
  Returns the input shape without ``axis``.
  """
  _check_epsilon("cosine_similarity", epsilon)
  return _cosine_jit("cosine_similarity", predictions, targets, where, weights, axis, epsilon, 0.0)


def cosine_distance(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  epsilon: ArrayLike = 0.0,
) -> jax.Array:
  """Cosine distance ``1 - cosine_similarity`` (in [0, 2]) over ``axis``:
  equals ``optax.losses.cosine_distance(..., epsilon=)``; gradient the
  negative of ``cosine_similarity``'s, ``-(b_hat - cos a_hat) / ||a||``.
  A zero vector with ``epsilon = 0`` has distance 1 and zero gradient
  (optax: NaN). ``where`` masks whole examples (optax's: feature entries).
  """
  _check_epsilon("cosine_distance", epsilon)
  return _cosine_jit("cosine_distance", predictions, targets, where, weights, axis, epsilon, 1.0)


# --- NT-Xent -----------------------------------------------------------------------
def _ntxent_parts(e, labels, valid, temperature, epsilon):
  """Per-anchor losses and what the rule needs: (v, e_hat, n, above, G) with
  ``G_ij = dv_i / dS_ij`` for the cosine matrix ``S``."""
  e_hat, n, above, _ = _unit(e, epsilon)
  cos = jnp.einsum("...id,...jd->...ij", e_hat, e_hat)
  s = cos / temperature
  b = e.shape[-2]
  same = labels[..., :, None] == labels[..., None, :]
  both = valid[..., :, None] & valid[..., None, :]
  pos = same & both & ~jnp.eye(b, dtype=bool)
  neg = ~same & both
  has_neg = jnp.any(neg, -1, keepdims=True)
  # lam_i = log sum_{k in N(i)} e^{s_ik}, shifted by the row max (exact)
  m = jax.lax.stop_gradient(jnp.max(jnp.where(neg, s, -jnp.inf), -1, keepdims=True))
  m = jnp.where(has_neg, m, 0.0)
  ex = jnp.where(neg, jnp.exp(jnp.where(neg, s - m, 0.0)), 0.0)
  z = jnp.sum(ex, -1, keepdims=True)
  z_safe = jnp.where(has_neg, z, 1.0)
  lam = jnp.log(z_safe) + m
  # l_ij = -log(e^{s_ij} / (e^{s_ij} + sum_N e^{s_ik})) = softplus(lam_i - s_ij)
  # (no negatives: 0); the positives' weights are A / N (see ntxent)
  arg = jnp.where(pos & has_neg, lam - s, 0.0)
  n_pos = jnp.sum(pos, -1)
  anchors = jnp.sum(n_pos > 0, -1, keepdims=True).astype(e.dtype)
  pairs = jnp.sum(n_pos, -1, keepdims=True).astype(e.dtype)
  scale = anchors / jnp.where(pairs > 0, pairs, 1.0)  # A / N, a constant
  w = jnp.where(pos & has_neg, scale[..., None], 0.0)
  v = jnp.sum(w * C.softplus(arg), -1)
  # dv_i/ds_ij = -w_ij sig_ij (positives), (sum_j w_ij sig_ij) q_ik (negatives)
  sig = jax.nn.sigmoid(arg)
  q = ex / z_safe  # softmax over N(i)
  g = (jnp.sum(w * sig, -1, keepdims=True) * q - w * sig) / temperature
  return v, e_hat, n, above, cos, g


@jax.custom_jvp
def _ntxent(e, labels, valid, temperature, epsilon):
  return _ntxent_parts(e, labels, valid, temperature, epsilon)[0]


def _ntxent_jvp(primals, tangents):
  e, labels, valid, temperature, epsilon = primals
  te, _, _, tt, _ = tangents
  v, e_hat, n, above, cos, g = _ntxent_parts(e, labels, valid, temperature, epsilon)
  terms = [None, None]
  if C.has_tangent(te):
    # dS = dE_hat E_hat^T + E_hat dE_hat^T; dv_i = sum_j G_ij dS_ij
    d_hat = _unit_tangent(e_hat, n, above, True, te)
    terms[0] = jnp.sum(g * jnp.einsum("...id,...jd->...ij", d_hat, e_hat), -1) + jnp.sum(
      g * jnp.einsum("...id,...jd->...ij", e_hat, d_hat), -1
    )
  if C.has_tangent(tt):
    # s = S / T: dv/dT = sum_j (dv/ds_ij)(-s_ij / T) = -sum_j G_ij S_ij / T
    terms[1] = -jnp.sum(g * cos, -1) / temperature * tt
  return v, C.tangent_sum(v, terms)


_ntxent.defjvp(_ntxent_jvp, symbolic_zeros=True)


@jax.jit
def _ntxent_jit(embeddings, labels, where, weights, temperature):
  e, labels, valid, cdt, odt = C.embedding_batch_setup("ntxent", embeddings, labels, where, weights)
  # optax's epsilon: the machine epsilon of the embeddings' own dtype
  eps = C.hyper(jnp.finfo(odt).eps, cdt)
  v = _ntxent(e, labels, valid, C.hyper(temperature, cdt), eps)
  return C.finish(v, None, weights, odt)


def ntxent(
  embeddings: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  temperature: ArrayLike = 0.07,
) -> jax.Array:
  """NT-Xent (normalized temperature-scaled cross-entropy; SimCLR, Chen et
  al. 2020), per anchor: ``optax.losses.ntxent``'s definition.

  ``embeddings``: (..., B, D); ``labels``: (..., B) integers, equal labels
  mark positive pairs; leading dimensions are independent batches. With
  ``S`` the cosine matrix (squared norms clamped at the dtype's ``eps``, as
  optax does), ``s = S / temperature``, positives ``P(i)`` (same label,
  ``j != i``) and negatives ``N(i)`` (other labels), each positive pair costs

      l_ij = -log(e^{s_ij} / (e^{s_ij} + sum_{k in N(i)} e^{s_ik}))
           = softplus(lam_i - s_ij),   lam_i = log sum_{k in N(i)} e^{s_ik}

  (the other positives are not in the denominator; no negatives: 0). optax
  averages ``l_ij`` over all ``N = sum_i |P(i)|`` ordered positive pairs; so
  anchor i returns ``(A / N) sum_{j in P(i)} l_ij``, ``A`` = the number of
  anchors with a positive, whose mean over those A anchors is optax's scalar
  (``losses.reduce(v, where=has_positive)``; when every anchor has a
  positive, as with two views per image, the plain mean; with equal group
  sizes ``A / N = 1 / |P(i)|``, a mean over the positives). Anchors without
  a positive return 0.

  ``where`` (..., B) and negative labels (the library's "ignore"; optax has
  no such rule) drop items both as anchors and as candidates.

  Gradient: ``dv_i/ds_ij = -(A/N) sigmoid(lam_i - s_ij)`` for positives and
  ``(A/N) q_ik sum_{j in P(i)} sigmoid(lam_i - s_ij)`` for negatives
  (``q_i`` the softmax of ``s_i`` over ``N(i)``), chained through
  ``dS_ij = <de_hat_i, e_hat_j> + <e_hat_i, de_hat_j>``.
  """
  fn = "ntxent"
  C.check_embedding_labels(embeddings, labels, fn)
  if C.is_concrete(temperature) and not np.all(np.asarray(temperature) > 0):
    raise ValueError(f"{fn}: temperature must be > 0, got {temperature}.")
  return _ntxent_jit(embeddings, labels, where, weights, temperature)
