"""Greedy decoding and beam search over a decoder's step function (notes 004 "Beam
Search", "Refinements to beam search", "Error Analysis in Beam search").

A decoder is `step_fn(state, token_B) -> (logits_BxV, state)` with any pytree state
(an RNN's hidden state, a transformer's KV cache), every leaf batch-leading. A
sequence y = (y_1, ..., y_Ty) ends with the end-of-sequence token (kept, counted in
T_y) or is cut at max_len. Its score is the notes' length-normalised log-likelihood

  score(y) = (1 / T_y^alpha) * sum_{t=1}^{T_y} log P(y_t | x, y_1, ..., y_{t-1}),

alpha = 0: no normalisation (the plain argmax of prod_t P, summed in logs because a
product of many numbers < 1 underflows); alpha = 1: the mean log-probability; the
notes' usual value is 0.7, the default here.

Beam search with width K keeps, at each step t, the K most probable unfinished
prefixes of length t. Their K * V one-token extensions are ranked by log-probability
(all have length t, so this is the same order as by score). Of the 2K best:
  - an extension by eos_id among the first K is a finished hypothesis (Hugging Face's
    rule: an end that would not have made the beam is not taken);
  - the K best extensions that are not eos_id are the next beam, so the beam never
    shrinks;
and the K finished hypotheses of best score so far are kept. A sentence stops once K
hypotheses have finished and no unfinished one can still overtake the worst of them
(its score can reach at most log P / max_len^alpha: log P only falls), or at max_len,
where the unfinished beam counts as finished. The result is the finished set sorted
by score. With K = 1 and alpha = 0 this is greedy decoding (with alpha > 0 a width-1
search may go on past an end greedy decoding takes, when a longer hypothesis could
still score better). Like any beam search it is not
exact: a pruned prefix may have led to a better sequence (the notes' error analysis:
compare P(y*|x) with P(y_hat|x), `sequence_log_probs`, to blame the search or the model).

Jittable with static beam_width, max_len, eos_id, pad_id (shapes and constants);
alpha may be traced. A `jax.lax.while_loop` ends once every sentence has stopped.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp

from nn_lib.decoding.sampling import Decoded, StepFn, sample_sequences


class BeamSearchResult(NamedTuple):
  """The K finished hypotheses of each sentence, best score first: tokens_BxKxL (the
  end-of-sequence token included, then pad_id), lengths_BxK = T_y, scores_BxK (length
  normalised) and log_probs_BxK = sum_t log P(y_t | x, y_<t). tokens_BxKxL[:, 0] is
  the decoded sequence. A slot that holds no hypothesis has score -inf."""

  tokens_BxKxL: jax.Array
  lengths_BxK: jax.Array
  scores_BxK: jax.Array
  log_probs_BxK: jax.Array


def normalised_score(
  log_probs: jax.Array, lengths: jax.Array, alpha: float | jax.Array
) -> jax.Array:
  """The notes' (1 / T_y^alpha) * sum_t log P(y_t | ...), from the summed log-probs."""
  lengths = jnp.maximum(jnp.asarray(lengths), 1).astype(jnp.float32)
  return jnp.asarray(log_probs, jnp.float32) / lengths**alpha


def greedy_decode(
  step_fn: StepFn,
  init_state: Any,
  start_tokens_B: jax.Array,
  *,
  max_len: int,
  eos_id: int,
  pad_id: int = 0,
) -> Decoded:
  """y_t = argmax_v P(v | x, y_<t), fed back until eos_id or max_len tokens.

  `sample_sequences` at temperature 0 (see there for the arguments); returns
  Decoded(tokens_BxL, lengths_B, log_probs_B). Equal logits: the lowest token id.
  """
  return sample_sequences(
    step_fn,
    init_state,
    start_tokens_B,
    jax.random.key(0),
    max_len=max_len,
    eos_id=eos_id,
    temperature=0.0,
    pad_id=pad_id,
  )


def sequence_log_probs(
  step_fn: StepFn,
  init_state: Any,
  start_tokens_B: jax.Array,
  tokens_BxL: jax.Array,
  lengths_B: jax.Array,
) -> jax.Array:
  """log P(y | x) = sum_{t <= T_y} log P(y_t | x, y_<t) of given sequences (teacher
  forcing: the decoder is fed y_{t-1}, not its own choice). For the notes' error
  analysis: P(y*|x) > P(y_hat|x) means the search is at fault, else the model."""
  tokens_BxL = jnp.asarray(tokens_BxL, jnp.int32)
  start_tokens_B = jnp.asarray(start_tokens_B, jnp.int32)
  chex.assert_rank(tokens_BxL, 2)
  chex.assert_shape(start_tokens_B, tokens_BxL.shape[:1])
  inputs_BxL = jnp.concatenate([start_tokens_B[:, None], tokens_BxL[:, :-1]], axis=1)

  def step(state, xs):
    input_B, target_B = xs
    logits_BxV, state = step_fn(state, input_B)
    log_p_BxV = jax.nn.log_softmax(logits_BxV.astype(jnp.float32))
    return state, jnp.take_along_axis(log_p_BxV, target_B[:, None], axis=-1)[:, 0]

  _, log_p_LxB = jax.lax.scan(step, init_state, (inputs_BxL.T, tokens_BxL.T))
  mask_LxB = jnp.arange(tokens_BxL.shape[1])[:, None] < jnp.asarray(lengths_B)[None, :]
  return jnp.sum(jnp.where(mask_LxB, log_p_LxB, 0.0), axis=0)


def _check(beam_width, max_len) -> None:
  for name, value in (("beam_width", beam_width), ("max_len", max_len)):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
      raise ValueError(
        f"beam_search: {name} must be a positive Python int (it is a "
        f"shape, so static under jit); got {value!r}"
      )


def _take(x_BxN: jax.Array, index_BxM: jax.Array) -> jax.Array:
  """x[b, index[b, m]] for arrays with more trailing axes than the index too."""
  index = index_BxM.reshape(index_BxM.shape + (1,) * (x_BxN.ndim - 2))
  return jnp.take_along_axis(x_BxN, index, axis=1)


def beam_search(
  step_fn: StepFn,
  init_state: Any,
  start_tokens_B: jax.Array,
  *,
  beam_width: int,
  max_len: int,
  eos_id: int,
  alpha: float | jax.Array = 0.7,
  pad_id: int = 0,
) -> BeamSearchResult:
  """Beam search of width K = beam_width for argmax_y score(y) (module docstring).

  Args:
    step_fn: (state, token_B) -> (logits_BxV, state); logits or log-probabilities
      (they are log-softmaxed). It is called on batches of B * K rows, sentence b's
      beams at rows b * K ... b * K + K - 1, and keeps being called (harmlessly) for
      sentences that have stopped.
    init_state: the state for the B sentences (each leaf B x ...); it is repeated
      K times, once per beam.
    start_tokens_B: the first input token of each sentence (e.g. <bos>).
    beam_width: K (static).
    max_len: the most tokens per hypothesis, L (static).
    eos_id: the end-of-sequence token (V >= 2 tokens are needed).
    alpha: the length-normalisation exponent; 0: none.
    pad_id: fills the tokens after each hypothesis's end.

  Returns BeamSearchResult(tokens_BxKxL, lengths_BxK, scores_BxK, log_probs_BxK).
  Equal scores are decided by position: the earlier-found hypothesis, then the lower
  beam and token index, comes first.
  """
  _check(beam_width, max_len)
  start_tokens_B = jnp.asarray(start_tokens_B, jnp.int32)
  chex.assert_rank(start_tokens_B, 1)
  B, K, L = start_tokens_B.shape[0], beam_width, max_len
  state = jax.tree.map(lambda leaf: jnp.repeat(leaf, K, axis=0), init_state)
  logits_shape = jax.eval_shape(step_fn, state, jnp.repeat(start_tokens_B, K))[0].shape
  if len(logits_shape) != 2 or logits_shape[0] != B * K or logits_shape[1] < 2:
    raise ValueError(
      f"beam_search: step_fn must return logits (B * K) x V = "
      f"{B * K} x V with V >= 2; got {logits_shape}"
    )
  V = logits_shape[1]
  neg_inf = jnp.float32(-jnp.inf)
  first_2K = jnp.arange(2 * K) < K
  positions_L = jnp.arange(L)

  def step(carry):
    (
      t,
      state,
      last_BxK,
      alive_BxKxL,
      alive_lp_BxK,
      fin_BxKxL,
      fin_lp_BxK,
      fin_len_BxK,
      fin_score_BxK,
      fin_count_B,
      done_B,
    ) = carry
    logits, new_state = step_fn(state, last_BxK.reshape(B * K))
    log_p_BxKxV = jax.nn.log_softmax(logits.astype(jnp.float32)).reshape(B, K, V)
    cand_BxKV = (alive_lp_BxK[:, :, None] + log_p_BxKxV).reshape(B, K * V)
    # 2K candidates hold at least K that are not eos_id (each beam has one eos_id
    # extension), so the next beam is always full.
    lp_Bx2K, index_Bx2K = jax.lax.top_k(cand_BxKV, 2 * K)
    parent_Bx2K, token_Bx2K = index_Bx2K // V, index_Bx2K % V
    seq_Bx2KxL = jnp.where(
      positions_L == t, token_Bx2K[:, :, None], _take(alive_BxKxL, parent_Bx2K)
    )
    is_eos_Bx2K = token_Bx2K == eos_id
    ended_lp_Bx2K = jnp.where(is_eos_Bx2K & first_2K, lp_Bx2K, neg_inf)

    alive_lp_BxK, pick_BxK = jax.lax.top_k(jnp.where(is_eos_Bx2K, neg_inf, lp_Bx2K), K)
    alive_BxKxL = _take(seq_Bx2KxL, pick_BxK)
    last_BxK = _take(token_Bx2K, pick_BxK)
    rows = (jnp.arange(B)[:, None] * K + _take(parent_Bx2K, pick_BxK)).reshape(B * K)
    state = jax.tree.map(lambda leaf: leaf[rows], new_state)
    # At max_len the beam is cut: its hypotheses count as finished.
    cut_lp_BxK = jnp.where(t == L - 1, alive_lp_BxK, neg_inf)

    pool_BxPxL = jnp.concatenate([fin_BxKxL, seq_Bx2KxL, alive_BxKxL], axis=1)
    pool_lp = jnp.concatenate([fin_lp_BxK, ended_lp_Bx2K, cut_lp_BxK], axis=1)
    pool_len = jnp.concatenate([fin_len_BxK, jnp.full((B, 3 * K), t + 1)], axis=1)
    score, keep_BxK = jax.lax.top_k(normalised_score(pool_lp, pool_len, alpha), K)
    new_count_B = (
      fin_count_B
      + jnp.sum(jnp.isfinite(ended_lp_Bx2K), axis=1)
      + jnp.sum(jnp.isfinite(cut_lp_BxK), axis=1)
    )

    def keep(new, old):
      # A stopped sentence keeps its finished set (its beam runs on, unused).
      return jnp.where(done_B.reshape((B,) + (1,) * (old.ndim - 1)), old, new)

    fin_BxKxL = keep(_take(pool_BxPxL, keep_BxK), fin_BxKxL)
    fin_lp_BxK = keep(_take(pool_lp, keep_BxK), fin_lp_BxK)
    fin_len_BxK = keep(_take(pool_len, keep_BxK), fin_len_BxK)
    fin_score_BxK = keep(score, fin_score_BxK)
    fin_count_B = keep(new_count_B, fin_count_B)
    # Stop once K hypotheses have ended and no live one can still beat the worst
    # of them: a live hypothesis's log-probability only falls, so its score can
    # reach at most log P / L^alpha (the longest length; log P <= 0). Stopping at
    # the K-th ending instead lets short, unlikely endings crowd out a likely
    # longer hypothesis (a search error in the notes' error analysis).
    bound_B = jnp.max(alive_lp_BxK, axis=1) / jnp.power(jnp.float32(L), alpha)
    done_B = done_B | ((fin_count_B >= K) & (bound_B <= jnp.min(fin_score_BxK, axis=1)))
    return (
      t + 1,
      state,
      last_BxK,
      alive_BxKxL,
      alive_lp_BxK,
      fin_BxKxL,
      fin_lp_BxK,
      fin_len_BxK,
      fin_score_BxK,
      fin_count_B,
      done_B,
    )

  def running(carry):
    return (carry[0] < L) & ~jnp.all(carry[-1])

  # Only beam 0 starts alive, so that the K copies of the start do not fill the beam
  # with K identical hypotheses.
  alive_lp_BxK = jnp.broadcast_to(jnp.where(jnp.arange(K) == 0, 0.0, neg_inf), (B, K))
  pad_BxKxL = jnp.full((B, K, L), pad_id, jnp.int32)
  carry = (
    jnp.int32(0),
    state,
    jnp.repeat(start_tokens_B[:, None], K, axis=1),
    pad_BxKxL,
    alive_lp_BxK,
    pad_BxKxL,
    jnp.full((B, K), neg_inf),
    jnp.zeros((B, K), jnp.int32),
    jnp.full((B, K), neg_inf),
    jnp.zeros((B,), jnp.int32),
    jnp.zeros((B,), bool),
  )
  carry = jax.lax.while_loop(running, step, carry)
  fin_BxKxL, fin_lp_BxK, fin_len_BxK, fin_score_BxK = carry[5:9]
  return BeamSearchResult(fin_BxKxL, fin_len_BxK, fin_score_BxK, fin_lp_BxK)
