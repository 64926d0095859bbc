"""Ranking metrics (notes 000 "Learning to Rank"): how well model scores order items
by a hidden relevance (e.g. "likes"), over every pair of items.

Both are exact: the loop passes the whole gathered evaluation split (or a training
batch), and every pair (i, j) is compared. The O(N^2) pair comparisons run in blocks
of rows (`jax.lax.map(..., batch_size=)`), so memory stays O(block x N) even for
tens of thousands of items.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nn_lib.metrics.registry import register

_ROW_BLOCK = 256


def _as_lists(scores: jax.Array, relevance: jax.Array, fn: str) -> tuple[jax.Array, jax.Array]:
  """Scores (B or B x 1) and relevance (B or B x 1) as two float vectors of length B."""
  s, t = jnp.asarray(scores, jnp.float32), jnp.asarray(relevance, jnp.float32)
  if s.ndim == 2 and s.shape[1] == 1:
    s = s[:, 0]
  if t.ndim == 2 and t.shape[1] == 1:
    t = t[:, 0]
  if s.ndim != 1 or s.shape != t.shape:
    raise ValueError(
      f"{fn}: needs one score and one relevance per item (shapes B or "
      f"B x 1, same B); got {jnp.shape(scores)} and {jnp.shape(relevance)}"
    )
  return s, t


def _pair_counts(s_B: jax.Array, t_B: jax.Array) -> dict[str, jax.Array]:
  """Sums over ordered pairs (i, j), i != j, of:
  concordance  sign(s_i - s_j) sign(t_i - t_j)     (= 2 (P - Q))
  tied_s       [s_i = s_j],  tied_t  [t_i = t_j]   (= 2 x tied pairs)
  comparable   [t_i > t_j]                        (pairs with a right order)
  correct      [t_i > t_j] ([s_i > s_j] + [s_i = s_j] / 2)
  """

  def row(st):
    si, ti = st
    ds, dt = si - s_B, ti - t_B
    better = (dt > 0).astype(jnp.float32)
    return jnp.stack(
      [
        jnp.sum(jnp.sign(ds) * jnp.sign(dt)),
        jnp.sum(ds == 0) - 1.0,  # minus the pair (i, i)
        jnp.sum(dt == 0) - 1.0,
        jnp.sum(better),
        jnp.sum(better * ((ds > 0) + 0.5 * (ds == 0))),
      ]
    )

  sums = jnp.sum(jax.lax.map(row, (s_B, t_B), batch_size=_ROW_BLOCK), axis=0)
  return dict(zip(("concordance", "tied_s", "tied_t", "comparable", "correct"), sums))


@register("kendall_tau")
def kendall_tau(scores: jax.Array, relevance: jax.Array) -> jax.Array:
  """Kendall's tau-b between scores and relevance (the tie-corrected form that
  scipy.stats.kendalltau computes by default):

      tau_b = (P - Q) / sqrt((n0 - n1) (n0 - n2)),   n0 = n (n - 1) / 2,

  P / Q the concordant / discordant pairs, n1 / n2 the pairs tied in scores / in
  relevance. Without ties it is tau_a = (P - Q) / n0 in [-1, 1]: 1 when the scores
  order every pair as the relevance does. 0 when either list is constant.
  """
  s, t = _as_lists(scores, relevance, "kendall_tau")
  c = _pair_counts(s, t)
  n0x2 = s.shape[0] * (s.shape[0] - 1.0)
  den = jnp.sqrt(jnp.maximum(n0x2 - c["tied_s"], 0.0) * jnp.maximum(n0x2 - c["tied_t"], 0.0))
  return jnp.where(den > 0, c["concordance"] / jnp.where(den > 0, den, 1.0), 0.0)


@register("pairwise_accuracy")
def pairwise_accuracy(scores: jax.Array, relevance: jax.Array) -> jax.Array:
  """Fraction of pairs with different relevance that the scores order correctly:

      sum_{t_i > t_j} ([s_i > s_j] + [s_i = s_j] / 2) / #{(i, j): t_i > t_j}

  (a score tie is half right, so a constant scorer gets 0.5). 0 if no pair has
  different relevance.
  """
  s, t = _as_lists(scores, relevance, "pairwise_accuracy")
  c = _pair_counts(s, t)
  n = c["comparable"]
  return jnp.where(n > 0, c["correct"] / jnp.where(n > 0, n, 1.0), 0.0)
