"""Decoding the per-frame outputs of a CTC model (notes 004 "Speech recognition", "CTC
cost for speech recognition").

A CTC network outputs, for each of T frames, a distribution over V symbols, one of
them the special "blank". A path pi = (pi_1, ..., pi_T) maps to a labelling B(pi) by
collapsing repeated symbols not separated by a blank and then dropping the blanks
(notes: "ttt_h_eee_l_g_" -> "thelg"; "a_a" -> "aa", but "aa" -> "a"). The probability
of a labelling sums over its paths:

  P(l | x) = sum_{pi : B(pi) = l} prod_t y_t(pi_t).

- Best path: l = B(argmax_t per frame), the labelling of the single most probable
  path. Fast, jittable, but not the most probable labelling when that labelling's
  probability is spread over several paths.
- Prefix beam search: keeps the beam_width most probable prefixes, each with two
  probabilities, P_b (its paths so far end in a blank) and P_nb (they end in its last
  symbol), because extending by a repeat of the last symbol c gives a new symbol only
  after a blank:

    blank:            P_b(l)      += (P_b(l) + P_nb(l)) y_t(blank)
    c = last of l:    P_nb(l)     += P_nb(l) y_t(c)      (the repeat collapses)
                      P_nb(l + c) += P_b(l) y_t(c)       (blank in between)
    c != last of l:   P_nb(l + c) += (P_b(l) + P_nb(l)) y_t(c)

  with the right-hand sides taken at t - 1, and P(l) = P_b(l) + P_nb(l) at the end;
  computed in log space. With a beam wider than the number of prefixes it is exact.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np


def ctc_best_path(
  logits_BxTxV: jax.Array, *, blank: int = 0, frame_lengths_B: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
  """Best-path (greedy) CTC decoding: argmax per frame, collapse repeats, drop blanks.

  Args:
    logits_BxTxV: per-frame logits, log-probabilities or probabilities (only the
      argmax matters).
    blank: the index of the blank symbol.
    frame_lengths_B: the number of real frames of each row (the rest is padding);
      None: all T.

  Returns (labels_BxT, lengths_B): each row's labelling in its first lengths_B
  entries, then `blank` as padding (a blank is never part of a labelling). Jittable.
  """
  logits_BxTxV = jnp.asarray(logits_BxTxV)
  chex.assert_rank(logits_BxTxV, 3)
  B, T, _ = logits_BxTxV.shape
  path_BxT = jnp.argmax(logits_BxTxV, axis=-1).astype(jnp.int32)
  previous_BxT = jnp.concatenate([jnp.full((B, 1), -1, jnp.int32), path_BxT[:, :-1]], 1)
  keep_BxT = (path_BxT != blank) & (path_BxT != previous_BxT)
  if frame_lengths_B is not None:
    chex.assert_shape(frame_lengths_B, (B,))
    keep_BxT &= jnp.arange(T)[None, :] < jnp.asarray(frame_lengths_B)[:, None]
  # Scatter kept symbols to their rank among the kept ones; dropped ones to a spare
  # column T, cut off after. (Not an out-of-range index with mode="drop": on a GPU
  # with --xla_gpu_deterministic_ops, XLA's scatter wrote those into the next row.)
  slot_BxT = jnp.where(keep_BxT, jnp.cumsum(keep_BxT, axis=1) - 1, T)
  labels_BxT = (
    jnp.full((B, T + 1), blank, jnp.int32).at[jnp.arange(B)[:, None], slot_BxT].set(path_BxT)[:, :T]
  )
  return labels_BxT, jnp.sum(keep_BxT, axis=1).astype(jnp.int32)


class CTCBeam(NamedTuple):
  """A prefix of the beam: its labels, log P(labels | x) = logaddexp of the log
  probabilities of its paths ending in a blank and in its last symbol."""

  labels: tuple[int, ...]
  log_prob: float
  log_prob_blank: float
  log_prob_non_blank: float


def _log_softmax(x_TxV: np.ndarray) -> np.ndarray:
  x_TxV = x_TxV - np.max(x_TxV, axis=-1, keepdims=True)
  with np.errstate(divide="ignore"):
    return x_TxV - np.log(np.sum(np.exp(x_TxV), axis=-1, keepdims=True))


NEG_INF = -math.inf


def _add(
  beam: dict[tuple[int, ...], list[float]], prefix: tuple[int, ...], which: int, log_p: float
) -> None:
  """beam[prefix][which] += exp(log_p), in logs (which: 0 blank, 1 non-blank)."""
  if log_p == NEG_INF:  # e.g. "aa" from "a" with no path ending in a blank yet
    return
  entry = beam.setdefault(prefix, [NEG_INF, NEG_INF])
  entry[which] = np.logaddexp(entry[which], log_p)


def ctc_prefix_beam_search(log_probs_TxV, *, blank: int = 0, beam_width: int = 16) -> list[CTCBeam]:
  """CTC prefix beam search over one utterance (module docstring's recursion).

  Args:
    log_probs_TxV: one utterance's per-frame log-probabilities (or logits: they are
      log-softmaxed, which leaves log-probabilities unchanged). Slice off padded
      frames first.
    blank: the index of the blank symbol.
    beam_width: how many prefixes survive each frame.

  Returns the final beam, most probable labelling first (equal probabilities: the
  prefix that entered the beam first), as CTCBeam(labels, log_prob, log_prob_blank,
  log_prob_non_blank).

  Host-side numpy: the beam is a set of variable-length prefixes whose
  probabilities merge whenever two paths reach the same prefix, a dictionary keyed by
  prefix. A jitted version needs fixed-size prefix buffers and a merge by hashing or
  sorting, far more code for utterances that are decoded one at a time on the host.
  """
  log_probs_TxV = np.asarray(log_probs_TxV, np.float64)
  if log_probs_TxV.ndim != 2 or not 0 <= blank < log_probs_TxV.shape[1]:
    raise ValueError(
      f"ctc_prefix_beam_search: needs one utterance's T x V "
      f"log-probabilities and 0 <= blank < V; got shape "
      f"{log_probs_TxV.shape}, blank {blank}"
    )
  if beam_width < 1:
    raise ValueError(f"ctc_prefix_beam_search: beam_width must be >= 1; got {beam_width}")
  log_probs_TxV = _log_softmax(log_probs_TxV)
  # prefix -> (log P_b, log P_nb); the empty prefix starts as "ends in a blank".
  beam: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}
  for log_y_V in log_probs_TxV:
    nxt: dict[tuple[int, ...], list[float]] = {}
    for prefix, (lp_b, lp_nb) in beam.items():
      lp_total = np.logaddexp(lp_b, lp_nb)
      _add(nxt, prefix, 0, lp_total + log_y_V[blank])
      last = prefix[-1] if prefix else None
      for c, log_y in enumerate(log_y_V):
        if c == blank or log_y == NEG_INF:
          continue
        if c == last:
          _add(nxt, prefix, 1, lp_nb + log_y)
          _add(nxt, prefix + (c,), 1, lp_b + log_y)
        else:
          _add(nxt, prefix + (c,), 1, lp_total + log_y)
    # Python's sort is stable: ties keep insertion order.
    ranked = sorted(nxt.items(), key=lambda kv: -np.logaddexp(kv[1][0], kv[1][1]))[:beam_width]
    beam = {prefix: (lp_b, lp_nb) for prefix, (lp_b, lp_nb) in ranked}
  return [
    CTCBeam(prefix, float(np.logaddexp(lp_b, lp_nb)), float(lp_b), float(lp_nb))
    for prefix, (lp_b, lp_nb) in beam.items()
  ]
