"""Sampling tokens with temperature and top-k (notes 004 "Sampling a sequence from a
trained RNN"): frequencies against the softmax, the top-k support, the greedy limits
and determinism."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib.decoding import sample_logits, sample_sequences

N, V = 40_000, 5  # rows drawn at once: one call gives N independent samples
LOGITS_V = np.array([1.0, 2.0, 0.5, 2.5, -1.0], np.float32)
ROWS = jnp.broadcast_to(jnp.asarray(LOGITS_V), (N, V))
KEY = jax.random.key(0)
# temperature is traced, so every temperature shares one compilation per top_k.
_sample = jax.jit(sample_logits, static_argnames=("top_k",))


def _softmax(z):
  e = np.exp(z - z.max())
  return e / e.sum()


def _frequencies(tokens):
  return np.bincount(np.asarray(tokens), minlength=V) / len(tokens)


def test_frequencies_match_the_softmax_at_temperatures_1_and_2():
  # One standard error is sqrt(p (1 - p) / N) <= 0.0025; 0.01 is 4 of them.
  for temperature in (1.0, 2.0):
    freq = _frequencies(_sample(KEY, ROWS, temperature=temperature))
    np.testing.assert_allclose(freq, _softmax(LOGITS_V / temperature), atol=0.01)


def test_top_k_samples_the_renormalised_top_k_only():
  tokens = np.asarray(_sample(KEY, ROWS, temperature=1.0, top_k=2))
  # The two largest logits are 2.5 (token 3) and 2.0 (token 1): p = softmax([2.5, 2]).
  assert set(tokens.tolist()) == {1, 3}
  p3 = 1 / (1 + np.exp(-0.5))  # = 0.6225
  assert np.mean(tokens == 3) == pytest.approx(p3, abs=0.01)

  # Random logits per row, including ties at the k-th place: never outside the top k.
  logits = jax.jit(lambda key: jax.random.randint(key, (N, V), 0, 4).astype(jnp.float32))(
      jax.random.key(1))  # one program, not three eager ops
  tokens = np.asarray(_sample(jax.random.key(2), logits, temperature=3.0, top_k=2))
  order = np.argsort(-np.asarray(logits), axis=1, kind="stable")[:, :2]
  assert (tokens[:, None] == order).any(axis=1).all()


def test_greedy_limits_equal_argmax():
  # Each row a permutation of 0..V-1: logits 1 apart, a unique argmax per row.
  logits = jax.jit(lambda key: jnp.argsort(jax.random.uniform(key, (N, V)), axis=1).astype(
      jnp.float32))(jax.random.key(3))  # one program, not three eager ops
  argmax = np.argmax(np.asarray(logits), axis=1)
  np.testing.assert_array_equal(sample_logits(KEY, logits, temperature=0.0), argmax)
  np.testing.assert_array_equal(sample_logits(KEY, logits, top_k=1), argmax)
  # A vanishing (traced) temperature: the Gumbel noise no longer matters.
  np.testing.assert_array_equal(_sample(KEY, logits, temperature=1e-6), argmax)
  # A traced 0 takes the greedy branch too, without forming inf or nan.
  np.testing.assert_array_equal(_sample(KEY, logits, temperature=0.0), argmax)


def test_same_key_same_tokens_other_key_other_tokens():
  first = _sample(jax.random.key(7), ROWS, temperature=1.0)
  np.testing.assert_array_equal(first, _sample(jax.random.key(7), ROWS, temperature=1.0))
  assert (np.asarray(first) != np.asarray(_sample(jax.random.key(8), ROWS,
                                                  temperature=1.0))).any()


def test_sample_sequences_feeds_tokens_back_and_stops_at_eos():
  # A counter decoder: after token v it puts all mass on v + 1, and token 4 = eos.
  def step(state, token_B):
    logits_BxV = jnp.where(jnp.arange(V) == token_B[:, None] + 1, 0.0, -jnp.inf)
    return logits_BxV, state + 1

  out = jax.jit(lambda key: sample_sequences(
      step, jnp.zeros(3, jnp.int32), jnp.array([0, 2, 3]), key, max_len=6, eos_id=4,
      pad_id=-1))(KEY)
  np.testing.assert_array_equal(out.tokens_BxL, [[1, 2, 3, 4, -1, -1],
                                                 [3, 4, -1, -1, -1, -1],
                                                 [4, -1, -1, -1, -1, -1]])
  np.testing.assert_array_equal(out.lengths_B, [4, 2, 1])
  np.testing.assert_allclose(out.log_probs_B, 0.0)  # every step had probability 1


def test_bad_options_say_what_is_wrong():
  with pytest.raises(ValueError, match="temperature must be >= 0"):
    sample_logits(KEY, ROWS[:2], temperature=-1.0)
  with pytest.raises(ValueError, match="top_k must be None or a Python int"):
    sample_logits(KEY, ROWS[:2], top_k=V + 1)
