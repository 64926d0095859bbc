"""Metric-learning losses on embeddings (note 004 "Triplet Loss": for every
anchor-positive pair find the hardest negative, ``||f(a) - f(p)||^2 <
||f(a) - f(n)||^2``; contrastive loss of Hadsell, Chopra & LeCun 2006).

Distances have no derivative at 0 (identical embeddings); there the zero
subgradient is used, so gradients stay finite. The hand-derived derivatives
are given as custom JVPs (see docs/losses.md); their second derivatives are
finite there too.

``margin`` must be >= 0 (ValueError when concrete; unchecked under jit).
Margin 0 is legitimate (triplets: only ask for the right order; contrastive:
dissimilar pairs are never pushed apart); a negative margin would accept
negatives closer than the positive, or silence every dissimilar pair, and
has no common use.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C
from losses._common import Axis


def _dist(x, p, squared):
  """(distance over the last axis, u = d distance / d x), both differentiable
  again; at x = 0 the distance is 0 with the zero subgradient u = 0."""
  if squared:
    return jnp.sum(x * x, axis=-1), 2.0 * x
  return C.safe_norm(x, p)


# --- triplet margin ----------------------------------------------------------------
def _triplet_parts(a, pos, neg, margin, p, squared):
  dap, uap = _dist(a - pos, p, squared)
  dan, uan = _dist(a - neg, p, squared)
  m = dap - dan + margin
  return C.relu(m), m, uap, uan


@functools.partial(jax.custom_jvp, nondiff_argnums=(4, 5))
def _triplet(a, pos, neg, margin, p, squared):
  return _triplet_parts(a, pos, neg, margin, p, squared)[0]


def _triplet_jvp(p, squared, primals, tangents):
  a, pos, neg, margin = primals
  ta, tp, tn, tm = tangents
  v, m, uap, uan = _triplet_parts(a, pos, neg, margin, p, squared)
  h = (m > 0).astype(v.dtype)  # the hinge indicator
  hap, han = h[..., None] * uap, h[..., None] * uan
  return v, C.tangent_sum(
    v,
    [
      jnp.sum((hap - han) * ta, axis=-1) if C.has_tangent(ta) else None,
      -jnp.sum(hap * tp, axis=-1) if C.has_tangent(tp) else None,
      jnp.sum(han * tn, axis=-1) if C.has_tangent(tn) else None,
      h * tm if C.has_tangent(tm) else None,
    ],
  )


_triplet.defjvp(_triplet_jvp, symbolic_zeros=True)


_MARGIN = (">= 0", " (0 for no margin)")


@C.with_hyperparameter_checks(margin=_MARGIN)
@functools.partial(jax.jit, static_argnames=("axis", "p", "squared"))
def triplet_margin(
  anchor: ArrayLike,
  positive: ArrayLike,
  negative: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  margin: ArrayLike = 1.0,
  p: float = 2,
  squared: bool = False,
) -> jax.Array:
  """``max(0, d(a, p) - d(a, n) + margin)`` with ``d`` the p-norm distance
  over ``axis`` (``squared=True``: squared L2, as written in note 004).

  Gradient: ``h (u_ap - u_an)`` for the anchor, ``-h u_ap`` for the positive,
  ``h u_an`` for the negative, ``u = d d / d x`` (``(a - p)/||a - p||`` for
  p = 2) and ``h`` the hinge indicator. torch/optax add ``eps = 1e-6`` inside
  the norm; we do not (values differ by at most ~1e-6).
  """
  fn = "triplet_margin"
  if squared and p != 2:
    raise ValueError(f"{fn}: squared=True needs p=2, got p={p}.")
  if p < 1:
    raise ValueError(f"{fn}: p must be >= 1, got {p}.")
  C.check_same_shape(anchor, negative, "anchor", "negative", fn)
  a, pos, mask, odt = C.axis_setup(
    fn, anchor, positive, axis, where, weights, ("anchor", "positive")
  )
  C.check_floating(negative, "negative", fn)
  neg = C.safe(jnp.moveaxis(jnp.asarray(negative), axis, -1).astype(a.dtype), C.expand_mask(mask))
  v = _triplet(a, pos, neg, C.hyper(margin, a.dtype), p, squared)
  return C.finish(v, mask, weights, odt)


# --- batch-hard triplet --------------------------------------------------------
def _bh_parts(e, labels, valid, margin, squared):
  b = e.shape[-2]
  diff = e[..., :, None, :] - e[..., None, :, :]
  d = _dist(diff, 2, squared)[0]
  same = labels[..., :, None] == labels[..., None, :]
  both = valid[..., :, None] & valid[..., None, :]
  eye = jnp.eye(b, dtype=bool)
  pos = same & both & ~eye
  neg = ~same & both
  dp = jnp.where(pos, d, -jnp.inf)
  dn = jnp.where(neg, d, jnp.inf)
  jp, jn = jnp.argmax(dp, -1), jnp.argmin(dn, -1)
  has = jnp.any(pos, -1) & jnp.any(neg, -1)
  hp = jnp.where(has, jnp.max(dp, -1), 0.0)
  hn = jnp.where(has, jnp.min(dn, -1), 0.0)
  m = hp - hn + margin
  v = jnp.where(has, C.relu(m), 0.0)
  return v, jp, jn, has & (m > 0)


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _bh(e, labels, valid, margin, squared):
  return _bh_parts(e, labels, valid, margin, squared)[0]


def _bh_jvp(squared, primals, tangents):
  e, labels, valid, margin = primals
  te, _, _, tm = tangents
  v, jp, jn, active = _bh_parts(e, labels, valid, margin, squared)
  h = active.astype(v.dtype)
  terms = [None, None]
  if C.has_tangent(te):
    # the triplet derivative routed to the selected pair: for anchor i,
    # h (u_ip . (de_i - de_p) - u_in . (de_i - de_n)), u = d d / d(e_i - e_j)
    pick = lambda x, j: jnp.take_along_axis(x, j[..., None], axis=-2)
    up = h[..., None] * _dist(e - pick(e, jp), 2, squared)[1]
    un = h[..., None] * _dist(e - pick(e, jn), 2, squared)[1]
    terms[0] = jnp.sum((up - un) * te - up * pick(te, jp) + un * pick(te, jn), axis=-1)
  if C.has_tangent(tm):
    terms[1] = h * tm
  return v, C.tangent_sum(v, terms)


_bh.defjvp(_bh_jvp, symbolic_zeros=True)


@C.with_hyperparameter_checks(margin=_MARGIN)
@functools.partial(jax.jit, static_argnames=("squared",))
def batch_hard_triplet(
  embeddings: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  margin: ArrayLike = 1.0,
  squared: bool = False,
) -> jax.Array:
  """Batch-hard triplet loss (note 004; Hermans et al. 2017), a pure function.

  ``embeddings``: (..., B, D); ``labels``: (..., B) integer identities. For
  each anchor i: hardest positive ``max_{j != i, y_j = y_i} d_ij`` and hardest
  negative ``min_{y_k != y_i} d_ik``; loss ``max(0, d_ip - d_in + margin)``,
  one value per anchor (shape (..., B)). Anchors without a positive or a
  negative get 0. ``where`` (..., B) and negative labels drop items both as
  anchors and as candidates. Gradient: the triplet gradient routed to the
  selected positive and negative (sum_j s_kj (e_k - e_j) with
  ``s = A + A^T``, ``A_ij = coeff_ij / d_ij``).
  """
  fn = "batch_hard_triplet"
  C.check_embedding_labels(embeddings, labels, fn)
  e, labels, valid, cdt, odt = C.embedding_batch_setup(fn, embeddings, labels, where, weights)
  v = _bh(e, labels, valid, C.hyper(margin, cdt), squared)
  return C.finish(v, None, weights, odt)


# --- contrastive -----------------------------------------------------------------
def _contrastive_parts(a, b, y, margin):
  x = a - b
  d, u = _dist(x, 2, False)
  gap = C.relu(margin - d)
  v = 0.5 * (y * d * d + (1.0 - y) * gap * gap)
  return v, x, d, u, gap


@jax.custom_jvp
def _contrastive(a, b, y, margin):
  return _contrastive_parts(a, b, y, margin)[0]


def _contrastive_jvp(primals, tangents):
  a, b, y, margin = primals
  ta, tb, ty, tm = tangents
  v, x, d, u, gap = _contrastive_parts(a, b, y, margin)
  terms = [None, None, None, None]
  if C.has_tangent(ta) or C.has_tangent(tb):
    ga = y[..., None] * x - ((1.0 - y) * gap)[..., None] * u  # dL/da = -dL/db
    if C.has_tangent(ta):
      terms[0] = jnp.sum(ga * ta, axis=-1)
    if C.has_tangent(tb):
      terms[1] = -jnp.sum(ga * tb, axis=-1)
  if C.has_tangent(ty):
    terms[2] = 0.5 * (d * d - gap * gap) * ty
  if C.has_tangent(tm):
    terms[3] = (1.0 - y) * gap * tm
  return v, C.tangent_sum(v, terms)


_contrastive.defjvp(_contrastive_jvp, symbolic_zeros=True)


@C.with_hyperparameter_checks(margin=_MARGIN)
@functools.partial(jax.jit, static_argnames=("axis",))
def contrastive(
  embedding_a: ArrayLike,
  embedding_b: ArrayLike,
  labels_similar: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  margin: ArrayLike = 1.0,
) -> jax.Array:
  """Contrastive loss: ``(y d^2 + (1 - y) max(0, margin - d)^2) / 2`` with
  ``d = ||a - b||_2`` over ``axis`` and ``y = 1`` for similar pairs.

  Gradient w.r.t. a: ``y (a - b) - (1 - y) max(0, m - d) (a - b) / d`` (and
  its negative for b). Returns the pair shape (input without ``axis``).
  """
  fn = "contrastive"
  a, b, mask, odt = C.axis_setup(
    fn, embedding_a, embedding_b, axis, where, weights, ("embedding_a", "embedding_b")
  )
  C.check_real(labels_similar, "labels_similar", fn)
  if jnp.shape(labels_similar) != a.shape[:-1]:
    raise ValueError(
      f"{fn}: embedding shape {jnp.shape(embedding_a)} and labels_similar "
      f"shape {jnp.shape(labels_similar)} are incompatible (labels must be "
      f"{a.shape[:-1]})."
    )
  y = C.safe(jnp.asarray(labels_similar).astype(a.dtype), mask)
  return C.finish(_contrastive(a, b, y, C.hyper(margin, a.dtype)), mask, weights, odt)
