"""Sampling tokens from a language model (notes 004 "Sampling a sequence from a trained
RNN", "Language model and sequence generation").

One token: given logits z over a vocabulary of V tokens, temperature tau > 0 and top_k,

  p_i = exp(z_i / tau) / sum_{j in top_k} exp(z_j / tau)   for i among the k largest z,
  p_i = 0                                                   otherwise,

and the token is drawn from p with a JAX PRNG key. tau < 1 sharpens the distribution
towards the most probable token, tau > 1 flattens it; tau -> 0 and top_k = 1 both give
the greedy choice argmax_i z_i, which `temperature=0` selects exactly.

A sequence: a decoder is a step function `(state, token_B) -> (logits_BxV, state)`
(any pytree state: an RNN's hidden state, a transformer's KV cache); starting from a
start token, each sampled token is fed back as the next input until the
end-of-sequence token or `max_len` tokens. Fixed shapes (padding + lengths), so it jits.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp

# (state, token_B) -> (logits_BxV, state): the interface of every decoder here.
StepFn = Callable[[Any, jax.Array], tuple[jax.Array, Any]]


class Decoded(NamedTuple):
  """Decoded sequences: tokens_BxL (the end-of-sequence token included, then padding),
  lengths_B (tokens before the padding) and log_probs_B = sum_t log P(y_t | y_<t),
  under the model's own softmax (temperature 1, no top-k), so that sampled, greedy and
  beam-searched sequences are scored alike."""

  tokens_BxL: jax.Array
  lengths_B: jax.Array
  log_probs_B: jax.Array


def _check_options(temperature, top_k, vocab_size: int | None) -> None:
  # A traced temperature (an argument of a jitted function) cannot be checked here.
  if isinstance(temperature, numbers.Real) and not float(temperature) >= 0:
    raise ValueError(f"temperature must be >= 0 (0: greedy); got {temperature}")
  if top_k is not None and (
    not isinstance(top_k, numbers.Integral)
    or isinstance(top_k, bool)
    or int(top_k) < 1
    or (vocab_size is not None and int(top_k) > vocab_size)
  ):
    raise ValueError(
      f"top_k must be None or a Python int in [1, V = {vocab_size}] "
      f"(it is a shape, so static under jit); got {top_k!r}"
    )


def _is_greedy(temperature, top_k) -> bool:
  return top_k == 1 or (isinstance(temperature, numbers.Real) and temperature == 0)


def sample_logits(
  key: jax.Array,
  logits_BxV: jax.Array,
  *,
  temperature: float | jax.Array = 1.0,
  top_k: int | None = None,
) -> jax.Array:
  """Draws one token per row of logits, p ∝ exp(z / temperature) over the top_k.

  Args:
    key: a JAX PRNG key; the same key gives the same tokens.
    logits_BxV: unnormalised log-probabilities (log-probabilities work too); any
      leading axes, the vocabulary last. -inf marks an impossible token.
    temperature: tau >= 0; 0 is greedy (argmax). May be traced: a temperature <= 0
      then also gives argmax.
    top_k: sample only among the k largest logits (a static int); None: all V.
      1 is greedy.

  Returns the int32 tokens, shape logits_BxV.shape[:-1]. Equal logits are decided by
  position in the greedy case: argmax takes the lowest index.
  """
  logits_BxV = jnp.asarray(logits_BxV, jnp.float32)
  chex.assert_rank(key, {0, 1})
  if logits_BxV.ndim < 1:
    raise ValueError("sample_logits: logits need a vocabulary axis (the last one)")
  _check_options(temperature, top_k, logits_BxV.shape[-1])
  greedy_B = jnp.argmax(logits_BxV, axis=-1).astype(jnp.int32)
  if _is_greedy(temperature, top_k):
    return greedy_B
  positive = jnp.asarray(temperature) > 0
  # Divide by 1 where the (traced) temperature is 0, so no inf/nan is ever formed;
  # those rows take the greedy token below.
  scaled_BxV = logits_BxV / jnp.where(positive, temperature, 1.0)
  if top_k is None:
    sampled_B = jax.random.categorical(key, scaled_BxV, axis=-1)
  else:
    # Drawing an index into the top k (not masking logits below the k-th value) keeps
    # exactly k candidates even when logits tie at the k-th place.
    values_BxK, indices_BxK = jax.lax.top_k(scaled_BxV, top_k)
    choice_B = jax.random.categorical(key, values_BxK, axis=-1)
    sampled_B = jnp.take_along_axis(indices_BxK, choice_B[..., None], axis=-1)[..., 0]
  return jnp.where(positive, sampled_B.astype(jnp.int32), greedy_B)


def sample_sequences(
  step_fn: StepFn,
  init_state: Any,
  start_tokens_B: jax.Array,
  key: jax.Array,
  *,
  max_len: int,
  eos_id: int,
  temperature: float | jax.Array = 1.0,
  top_k: int | None = None,
  pad_id: int = 0,
) -> Decoded:
  """Samples y_1, y_2, ... from a decoder, feeding each token back, until eos_id.

  y_t ~ sample_logits(z_t, temperature, top_k) with (z_t, s_t) = step_fn(s_{t-1},
  y_{t-1}), y_0 = start_tokens_B, s_0 = init_state. A sequence ends with the first
  eos_id (which it keeps) or after max_len tokens; the positions after it hold pad_id.
  temperature=0 (or top_k=1) is greedy decoding (`nn_lib.decoding.greedy_decode`).

  Args:
    step_fn: (state, token_B) -> (logits_BxV, state), every state leaf with the batch
      as its leading axis. It keeps being called (on pad_id) for sequences that have
      ended, so that all rows stay in one fixed-shape batch.
    init_state: the decoder's state before the first token (e.g. the encoder's output).
    start_tokens_B: the first input token of each row (e.g. <bos>).
    key: a JAX PRNG key (split once per step); unused when greedy.
    max_len: the most tokens per sequence, the static length L of the output.
    eos_id: the end-of-sequence token.
    temperature, top_k: as in `sample_logits`.
    pad_id: fills tokens_BxL after the end of each sequence.

  Returns Decoded(tokens_BxL, lengths_B, log_probs_B).
  """
  start_tokens_B = jnp.asarray(start_tokens_B, jnp.int32)
  chex.assert_rank(start_tokens_B, 1)
  if not isinstance(max_len, numbers.Integral) or max_len < 1:
    raise ValueError(f"max_len must be a positive Python int (a shape); got {max_len!r}")
  _check_options(temperature, top_k, None)
  batch = start_tokens_B.shape[0]

  def step(carry, key_t):
    state, token_B, done_B, log_prob_B, length_B = carry
    logits_BxV, state = step_fn(state, token_B)
    chex.assert_shape(logits_BxV, (batch, None))
    next_B = sample_logits(key_t, logits_BxV, temperature=temperature, top_k=top_k)
    log_p_B = jnp.take_along_axis(
      jax.nn.log_softmax(logits_BxV.astype(jnp.float32)), next_B[:, None], axis=-1
    )[:, 0]
    next_B = jnp.where(done_B, pad_id, next_B)
    log_prob_B = log_prob_B + jnp.where(done_B, 0.0, log_p_B)
    length_B = length_B + (~done_B).astype(jnp.int32)
    done_B = done_B | (next_B == eos_id)
    return (state, next_B, done_B, log_prob_B, length_B), next_B

  carry = (
    init_state,
    start_tokens_B,
    jnp.zeros((batch,), bool),
    jnp.zeros((batch,), jnp.float32),
    jnp.zeros((batch,), jnp.int32),
  )
  (_, _, _, log_prob_B, length_B), tokens_LxB = jax.lax.scan(
    step, carry, jax.random.split(key, max_len)
  )
  return Decoded(tokens_LxB.T, length_B, log_prob_B)
