"""Learning-to-rank losses (note 000 "Learning to Rank").

Note 000 prints ``L(z1, z2) = max(0, M - z2 - z1)`` — a typo for
``max(0, M - (z2 - z1))`` where image 2 should score higher; that is what
``pairwise_margin_ranking(z_better=z2, z_worse=z1)`` computes.

The hand-derived derivatives are given as custom JVPs (see docs/losses.md).

``margin`` must be >= 0 (ValueError when concrete; unchecked under jit):
margin 0 asks only for the right order (torch's default), while a negative
margin would accept pairs ranked the wrong way round by up to |margin|.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C


_sp = C.softplus


@jax.custom_jvp
def _sigmoid(x):
  return jax.nn.sigmoid(x)


@_sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
  (x,), (t,) = primals, tangents
  # sigma' = sigma(x) sigma(-x): unlike sigma (1 - sigma) it keeps its relative
  # accuracy (and never cancels to 0) when sigma rounds to 1
  return _sigmoid(x), _sigmoid(x) * _sigmoid(-x) * t


# --- pairwise margin ------------------------------------------------------------
@jax.custom_jvp
def _pmr(zb, zw, margin):
  return C.relu(margin - (zb - zw))


def _pmr_jvp(primals, tangents):
  zb, zw, margin = primals
  tb, tw, tm = tangents
  m = margin - (zb - zw)
  v = C.relu(m)
  h = (m > 0).astype(v.dtype)  # the pair is inside the margin
  return v, C.tangent_sum(
    v,
    [
      -h * tb if C.has_tangent(tb) else None,
      h * tw if C.has_tangent(tw) else None,
      h * tm if C.has_tangent(tm) else None,
    ],
  )


_pmr.defjvp(_pmr_jvp, symbolic_zeros=True)


_MARGIN = (">= 0", " (0 asks only for the right order)")


@C.with_hyperparameter_checks(margin=_MARGIN)
@jax.jit
def pairwise_margin_ranking(
  z_better: ArrayLike,
  z_worse: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  margin: ArrayLike = 1.0,
) -> jax.Array:
  """``max(0, M - (z_better - z_worse))`` elementwise (note 000, typo fixed).

  Gradient: ``-1`` for z_better and ``+1`` for z_worse while the pair is
  inside the margin. Same as torch's ``margin_ranking_loss(z_better,
  z_worse, y=1, margin)`` before its mean.
  """
  return C.elementwise(
    "pairwise_margin_ranking",
    _pmr,
    z_better,
    z_worse,
    where,
    weights,
    hypers=(margin,),
    names=("z_better", "z_worse"),
    targets_float=True,
  )


# --- pairwise logistic (RankNet) -------------------------------------------------
@jax.custom_jvp
def _plog(zb, zw):
  return _sp(zw - zb)


def _plog_jvp(primals, tangents):
  zb, zw = primals
  tb, tw = tangents
  d = zw - zb
  v = _sp(d)
  gs = _sigmoid(d)  # d softplus(d) / dd
  return v, C.tangent_sum(
    v, [-gs * tb if C.has_tangent(tb) else None, gs * tw if C.has_tangent(tw) else None]
  )


_plog.defjvp(_plog_jvp, symbolic_zeros=True)


@jax.jit
def pairwise_logistic(
  z_better: ArrayLike,
  z_worse: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
) -> jax.Array:
  """RankNet's ``log(1 + exp(-(z_better - z_worse)))``, elementwise: the
  sigmoid-BCE that "better beats worse". Gradient ``-sigma(z_worse -
  z_better)`` for z_better and the negative of that for z_worse.
  """
  return C.elementwise(
    "pairwise_logistic",
    _plog,
    z_better,
    z_worse,
    where,
    weights,
    names=("z_better", "z_worse"),
    targets_float=True,
  )


# --- all pairs of a list -------------------------------------------------------
def _lp_parts(s, rel, item_mask, margin, kind):
  diff = s[..., :, None] - s[..., None, :]  # s_i - s_j
  valid = rel[..., :, None] > rel[..., None, :]  # i should beat j
  if item_mask is not None:
    valid = valid & item_mask[..., :, None] & item_mask[..., None, :]
  m = margin - diff
  pair = C.relu(m) if kind == "margin" else _sp(-diff)
  n = jnp.sum(valid, axis=(-2, -1)).astype(s.dtype)
  inv = jnp.where(n > 0, 1.0 / jnp.where(n > 0, n, 1.0), 0.0)
  v = jnp.sum(jnp.where(valid, pair, 0.0), axis=(-2, -1)) * inv
  return v, diff, m, valid, inv


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _lp(s, rel, item_mask, margin, kind):
  return _lp_parts(s, rel, item_mask, margin, kind)[0]


def _lp_jvp(kind, primals, tangents):
  s, rel, item_mask, margin = primals
  ts, _, _, tm = tangents
  v, diff, m, valid, inv = _lp_parts(s, rel, item_mask, margin, kind)
  # a_ij = dL_ij / d(s_i - s_j) on valid pairs
  if kind == "margin":
    a = -(valid & (m > 0)).astype(s.dtype)
  else:
    a = jnp.where(valid, -_sigmoid(-diff), 0.0)
  terms = [None, None]
  if C.has_tangent(ts):
    gs = inv[..., None] * (jnp.sum(a, axis=-1) - jnp.sum(a, axis=-2))
    terms[0] = jnp.sum(gs * ts, axis=-1)
  if C.has_tangent(tm) and kind == "margin":
    terms[1] = -inv * jnp.sum(a, axis=(-2, -1)) * tm
  return v, C.tangent_sum(v, terms)


_lp.defjvp(_lp_jvp, symbolic_zeros=True)


# margin is checked for pair_loss="logistic" too, where it is unused: a
# negative value is a mistake either way
@C.with_hyperparameter_checks(margin=_MARGIN)
@functools.partial(jax.jit, static_argnames=("axis", "pair_loss"))
def listwise_pairs(
  scores: ArrayLike,
  relevance: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: int = -1,
  margin: ArrayLike = 1.0,
  pair_loss: str = "margin",
) -> jax.Array:
  """Every ordered pair (i, j) of a list with ``relevance_i > relevance_j``,
  scored by the pairwise margin (``pair_loss="margin"``) or logistic
  (``"logistic"``) loss and averaged over the valid pairs of each list.

  ``where`` here masks *items* (same shape as ``scores``): a pair is valid
  only when both items are unmasked (padding in ragged lists). ``weights``
  are per list (scores.shape without ``axis``). A list with no valid pair has
  loss 0 and gradient 0. Gradient: ``(sum_j a_kj - sum_i a_ik) / n_pairs``
  with ``a_ij`` the pair derivative (-1[active] or -sigma(s_j - s_i)).
  Memory is O(list length^2) per list.
  """
  fn = "listwise_pairs"
  if pair_loss not in ("margin", "logistic"):
    raise ValueError(f"{fn}: pair_loss must be 'margin' or 'logistic', got {pair_loss!r}.")
  C.check_floating(scores, "scores", fn)
  C.check_real(relevance, "relevance", fn)
  C.check_same_shape(scores, relevance, "scores", "relevance", fn)
  C.check_min_rank(scores, 1, "scores", fn)
  C.check_broadcast_to(where, jnp.shape(scores), "where", fn)
  ax = C.normalize_axis(axis, jnp.ndim(scores), fn)
  s = jnp.moveaxis(jnp.asarray(scores), ax, -1)
  rel = jnp.moveaxis(jnp.asarray(relevance), ax, -1)
  C.check_broadcast_to(weights, s.shape[:-1], "weights", fn)
  cdt, odt = C.compute_dtype(s)
  mask = None
  if where is not None:
    mask = jnp.moveaxis(C.as_mask(where, jnp.shape(scores)), ax, -1)
  s = C.safe(s.astype(cdt), mask)
  v = _lp(s, rel, mask, C.hyper(margin, cdt), pair_loss)
  return C.finish(v, None, weights, odt)
