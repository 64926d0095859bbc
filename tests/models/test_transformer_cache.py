"""Key/value-cached incremental decoding of transformer_lm (transformer_cache.py):
token by token it gives the full causal forward pass's logits, and the samplers and
beam search of nn_lib.decoding driven by it choose what they choose when every step
re-runs the full forward pass on the prefix."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib import decoding, models
from nn_lib.models import transformer_cache

V, EOS = 11, 1


def _lm(pre_norm: bool = False):
  return models.get("transformer_lm", vocab_size=V, d_model=8, num_heads=2, num_layers=2,
                    d_ff=16, dropout=0.1, pre_norm=pre_norm)


def _tokens(shape, seed=0):
  return jnp.asarray(np.random.default_rng(seed).integers(0, V, shape), jnp.int32)


def test_step_module_reads_the_lm_variables():
  lm, key = _lm(), jax.random.key(0)
  lm_params = jax.eval_shape(lambda: lm.init(key, _tokens((1, 4))))["params"]
  step_params = jax.eval_shape(lambda: transformer_cache.cached_lm(lm).init(
      key, _tokens((1,)), transformer_cache.init_cache(lm, 1, 4)))["params"]
  assert (jax.tree_util.tree_structure(step_params)
          == jax.tree_util.tree_structure(lm_params))
  assert jax.tree.map(lambda a: a.shape, step_params) == \
      jax.tree.map(lambda a: a.shape, lm_params)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_token_by_token_equals_full_causal_forward(pre_norm, make_variables):
  lm = _lm(pre_norm)
  x_BxT = _tokens((3, 7))
  variables = make_variables(lm, x_BxT, bias_scale=0.1)

  @jax.jit
  def both(variables):
    full = lm.apply(variables, x_BxT)  # eval mode: dropout off, as in decoding
    cache = transformer_cache.init_cache(lm, 3, 9)  # 2 slots to spare
    # Two prefills: the cache carries over between calls (a prompt, then more).
    first, cache = transformer_cache.prefill(lm, variables, cache, x_BxT[:, :4])
    rest, cache = transformer_cache.prefill(lm, variables, cache, x_BxT[:, 4:])
    return full, jnp.concatenate([first, rest], axis=1), cache

  # Checked in numpy on the concrete results (no eager XLA ops).
  full, incremental, cache = jax.tree_util.tree_map(np.asarray, both(variables))
  assert incremental.shape == (3, 7, V)
  np.testing.assert_allclose(incremental, full, atol=1e-5, rtol=0)
  assert float(np.std(full)) > 0.1  # the logits are not trivially equal
  np.testing.assert_array_equal(cache.pos_B, [7, 7, 7])
  assert cache.keys[0].shape == (3, 9, 2, 4)
  np.testing.assert_array_equal(cache.keys[1][:, 7:], 0.0)  # unused slots
  assert float(np.abs(cache.values[1][:, 6]).max()) > 0  # the last token's slot


def _full_forward_step_fn(lm, variables, max_len):
  """The reference decoder without a cache: write the token into a fixed buffer of
  max_len tokens and re-run the whole causal forward pass; (the future positions
  hold padding, which the causal mask hides)."""
  def step(state, token_B):
    buffer_BxL, pos_B = state
    buffer_BxL = jnp.where(jnp.arange(max_len)[None] == pos_B[:, None], token_B[:, None],
                           buffer_BxL)
    logits_BxLxV = lm.apply(variables, buffer_BxL)
    return (jnp.take_along_axis(logits_BxLxV, pos_B[:, None, None], axis=1)[:, 0],
            (buffer_BxL, pos_B + 1))
  return step


def test_sampling_with_cache_equals_full_recompute_and_beam_search_runs(make_variables):
  lm, B, L = _lm(), 4, 6
  variables = make_variables(lm, _tokens((1, L)), seed=1, bias_scale=0.5)
  start_B = jnp.full((B,), 2, jnp.int32)

  @jax.jit
  def run(key):
    cached, cache = transformer_cache.lm_decoder(lm, variables, batch=B, max_len=L)
    full = _full_forward_step_fn(lm, variables, L)
    state = (jnp.zeros((B, L), jnp.int32), jnp.zeros((B,), jnp.int32))
    samples = [decoding.sample_sequences(step, init, start_B, key, max_len=L, eos_id=EOS,
                                         temperature=1.5)
               for step, init in ((cached, cache), (full, state))]
    # Beam search reorders the cache's rows at every step; its hypotheses' log P
    # must still be what one full forward pass over them gives.
    beam = decoding.beam_search(cached, cache, start_B, beam_width=3, max_len=L,
                                eos_id=EOS, alpha=0.0)
    tokens_BxL = beam.tokens_BxKxL[:, 0]
    inputs_BxL = jnp.concatenate([start_B[:, None], tokens_BxL[:, :-1]], axis=1)
    log_p_BxLxV = jax.nn.log_softmax(lm.apply(variables, inputs_BxL))
    log_p_BxL = jnp.take_along_axis(log_p_BxLxV, tokens_BxL[..., None], axis=-1)[..., 0]
    valid_BxL = jnp.arange(L)[None] < beam.lengths_BxK[:, :1]
    return samples, beam, jnp.sum(jnp.where(valid_BxL, log_p_BxL, 0.0), axis=1)

  (sample_c, sample_f), beam, full_log_p_B = jax.tree_util.tree_map(
      np.asarray, run(jax.random.key(3)))
  np.testing.assert_array_equal(sample_c.tokens_BxL, sample_f.tokens_BxL)
  np.testing.assert_array_equal(sample_c.lengths_B, sample_f.lengths_B)
  np.testing.assert_allclose(sample_c.log_probs_B, sample_f.log_probs_B, atol=1e-5)
  # Really sampled: different rows from one start token, of finite log-probability.
  assert len({tuple(r) for r in np.asarray(sample_c.tokens_BxL)}) > 1
  assert np.all(np.isfinite(sample_c.log_probs_B)) and np.all(sample_c.log_probs_B < 0)
  np.testing.assert_allclose(beam.log_probs_BxK[:, 0], full_log_p_B, atol=1e-5)
  assert np.all(np.diff(np.asarray(beam.scores_BxK), axis=1) <= 0)  # best first
