"""Metric-learning losses on embeddings (note 004 "Triplet Loss": for every
anchor-positive pair find the hardest negative, ``||f(a) - f(p)||^2 <
||f(a) - f(n)||^2``; contrastive loss of Hadsell, Chopra & LeCun 2006).

Distances have no derivative at 0 (identical embeddings); there the zero
subgradient is used, so gradients stay finite.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from losses import _common as C


def _dist(x, p, squared):
  """(distance over last axis, d distance / d x)."""
  if squared:
    return jnp.sum(x * x, axis=-1), 2.0 * x
  return C.safe_norm(x, p)


# --- triplet margin ----------------------------------------------------------------
@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _triplet(a, pos, neg, margin, p, squared):
  return _triplet_fwd(a, pos, neg, margin, p, squared)[0]


def _triplet_fwd(a, pos, neg, margin, p, squared):
  dap, uap = _dist(a - pos, p, squared)
  dan, uan = _dist(a - neg, p, squared)
  m = dap - dan + margin
  return C.relu(m), (uap, uan, m > 0)


def _triplet_bwd(p, squared, res, g):
  uap, uan, active = res
  h = jnp.where(active, g, 0.0)[..., None]
  return h * (uap - uan), -h * uap, h * uan, None


_triplet.defvjp(_triplet_fwd, _triplet_bwd)


@functools.partial(jax.jit, static_argnames=("axis", "p", "squared"))
def triplet_margin(anchor, positive, negative, *, where=None, weights=None,
                   axis=-1, margin=1.0, p=2, squared=False):
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
  a, pos, mask, odt = C.axis_setup(fn, anchor, positive, axis, where, weights,
                                   ("anchor", "positive"))
  C.check_floating(negative, "negative", fn)
  neg = C.safe(jnp.moveaxis(jnp.asarray(negative), axis, -1).astype(a.dtype),
               C.expand_mask(mask))
  v = _triplet(a, pos, neg, C.hyper(margin, a.dtype), p, squared)
  return C.finish(v, mask, weights, odt)


# --- batch-hard triplet --------------------------------------------------------
@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _bh(e, labels, valid, margin, squared):
  return _bh_fwd(e, labels, valid, margin, squared)[0]


def _bh_fwd(e, labels, valid, margin, squared):
  b = e.shape[-2]
  diff = e[..., :, None, :] - e[..., None, :, :]
  d = jnp.sum(diff * diff, -1) if squared else C.safe_norm(diff)[0]
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
  return v, (e, d, jp, jn, has & (m > 0))


def _bh_bwd(squared, res, g):
  e, d, jp, jn, active = res
  c = jnp.where(active, g, 0.0)[..., None]
  w = c * (C.one_hot_like(d, jp) - C.one_hot_like(d, jn))  # coeff of d_ij
  if squared:
    a = 2.0 * w
  else:
    a = jnp.where(d > 0, w / jnp.where(d > 0, d, 1.0), 0.0)
  s = a + jnp.swapaxes(a, -1, -2)
  ge = jnp.sum(s, -1)[..., None] * e - s @ e   # sum_j s_kj (e_k - e_j)
  return ge, None, None, None


_bh.defvjp(_bh_fwd, _bh_bwd)


@functools.partial(jax.jit, static_argnames=("squared",))
def batch_hard_triplet(embeddings, labels, *, where=None, weights=None,
                       margin=1.0, squared=False):
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
  C.check_floating(embeddings, "embeddings", fn)
  C.check_integer(labels, "labels", fn)
  C.check_min_rank(embeddings, 2, "embeddings", fn)
  if jnp.shape(labels) != jnp.shape(embeddings)[:-1]:
    raise ValueError(
        f"{fn}: embeddings shape {jnp.shape(embeddings)} and labels shape "
        f"{jnp.shape(labels)} are incompatible (labels must be "
        f"{jnp.shape(embeddings)[:-1]}).")
  shape = jnp.shape(labels)
  C.check_broadcast_to(where, shape, "where", fn)
  C.check_broadcast_to(weights, shape, "weights", fn)
  cdt, odt = C.compute_dtype(embeddings)
  mask = C.as_mask(where, shape)
  labels = jnp.asarray(labels)
  valid = labels >= 0 if mask is None else mask & (labels >= 0)
  e = C.safe(jnp.asarray(embeddings).astype(cdt), valid[..., None])
  v = _bh(e, labels, valid, C.hyper(margin, cdt), squared)
  return C.finish(v, None, weights, odt)


# --- contrastive -----------------------------------------------------------------
@jax.custom_vjp
def _contrastive(a, b, y, margin):
  return _contrastive_fwd(a, b, y, margin)[0]


def _contrastive_fwd(a, b, y, margin):
  d, u = C.safe_norm(a - b)
  gap = C.relu(margin - d)
  v = 0.5 * (y * d * d + (1.0 - y) * gap * gap)
  return v, (a - b, u, d, gap, y)


def _contrastive_bwd(res, g):
  diff, u, d, gap, y = res
  ga = g[..., None] * (y[..., None] * diff - ((1.0 - y) * gap)[..., None] * u)
  gy = g * 0.5 * (d * d - gap * gap)
  return ga, -ga, gy, None


_contrastive.defvjp(_contrastive_fwd, _contrastive_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def contrastive(embedding_a, embedding_b, labels_similar, *, where=None,
                weights=None, axis=-1, margin=1.0):
  """Contrastive loss: ``(y d^2 + (1 - y) max(0, margin - d)^2) / 2`` with
  ``d = ||a - b||_2`` over ``axis`` and ``y = 1`` for similar pairs.

  Gradient w.r.t. a: ``y (a - b) - (1 - y) max(0, m - d) (a - b) / d`` (and
  its negative for b). Returns the pair shape (input without ``axis``).
  """
  fn = "contrastive"
  a, b, mask, odt = C.axis_setup(fn, embedding_a, embedding_b, axis, where,
                                 weights, ("embedding_a", "embedding_b"))
  C.check_real(labels_similar, "labels_similar", fn)
  if jnp.shape(labels_similar) != a.shape[:-1]:
    raise ValueError(
        f"{fn}: embedding shape {jnp.shape(embedding_a)} and labels_similar "
        f"shape {jnp.shape(labels_similar)} are incompatible (labels must be "
        f"{a.shape[:-1]}).")
  y = C.safe(jnp.asarray(labels_similar).astype(a.dtype), mask)
  return C.finish(_contrastive(a, b, y, C.hyper(margin, a.dtype)), mask,
                  weights, odt)
