"""Greedy decoding and beam search (notes 004 "Beam Search", "Refinements to beam
search") on hand-built next-token tables with hand-computed scores, against greedy
decoding (width 1) and against exhaustive search (a beam wider than the tree)."""
from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib.decoding import beam_search, greedy_decode, sequence_log_probs

BOS, EOS, A, B = 0, 1, 2, 3  # the start token is never emitted (probability 0)
L = 4


def _table_step(tables_NxVxV):
  """A bigram decoder: P(next | previous) is row `previous` of the table of the
  sentence, whose index rides in the (pytree) state along with a step counter."""
  log_tables = jnp.log(jnp.asarray(tables_NxVxV, jnp.float32))

  def step(state, token_B):
    return (log_tables[state["table"], token_B],
            {"table": state["table"], "steps": state["steps"] + 1})
  return step


def _tables():
  """Sentence 0: greedy takes A (0.5) and then EOS (0.4): P(A EOS) = 0.2. Beam search
  with K = 2 keeps A and B; B EOS has P = 0.4 * 0.9 = 0.36 > 0.2.
  Sentence 1: EOS at once has P = 0.5, A EOS has P = 0.4 * 0.9 = 0.36, so without
  normalisation the one-token [EOS] wins (log 0.5 = -0.693 > log 0.36 = -1.022);
  with alpha = 1, A EOS scores log(0.36) / 2 = -0.511 > -0.693 and wins."""
  uniform = [0, 1 / 3, 1 / 3, 1 / 3]  # after EOS: never used
  #             BOS            EOS      A                B           <- previous token
  return np.array([[[0, .1, .5, .4], uniform, [0, .4, .3, .3], [0, .9, .05, .05]],
                   [[0, .5, .4, .1], uniform, [0, .9, .05, .05], [0, .9, .05, .05]]])


STEP = _table_step(_tables())
STATE = {"table": jnp.array([0, 1]), "steps": jnp.zeros(2, jnp.int32)}
STARTS = jnp.full(2, BOS)
# alpha is traced: both alphas share one compilation.
_beam2_jit = jax.jit(lambda alpha: beam_search(STEP, STATE, STARTS, beam_width=2, max_len=L,
                                               eos_id=EOS, alpha=alpha, pad_id=-1))


def _numpy(tree):
  """Results as numpy arrays: the tests index them without eager XLA ops."""
  return jax.tree_util.tree_map(np.asarray, tree)


def _beam2(alpha):
  return _numpy(_beam2_jit(alpha))


def test_beam_finds_the_better_sequence_greedy_misses():
  greedy = _numpy(jax.jit(lambda: greedy_decode(STEP, STATE, STARTS, max_len=L, eos_id=EOS,
                                                pad_id=-1))())
  np.testing.assert_array_equal(greedy.tokens_BxL[0], [A, EOS, -1, -1])
  assert greedy.lengths_B[0] == 2
  assert float(greedy.log_probs_B[0]) == pytest.approx(math.log(0.2), rel=1e-6)

  out = _beam2(0.0)
  np.testing.assert_array_equal(out.tokens_BxKxL[0], [[B, EOS, -1, -1], [A, EOS, -1, -1]])
  np.testing.assert_array_equal(out.lengths_BxK[0], [2, 2])
  np.testing.assert_allclose(out.log_probs_BxK[0], np.log([0.36, 0.2]), rtol=1e-6)
  np.testing.assert_allclose(out.scores_BxK[0], np.log([0.36, 0.2]), rtol=1e-6)
  # With alpha = 0.7 the choice is the same (equal lengths), the score divided by 2^0.7.
  out = _beam2(0.7)
  np.testing.assert_array_equal(out.tokens_BxKxL[0, 0], [B, EOS, -1, -1])
  assert float(out.scores_BxK[0, 0]) == pytest.approx(math.log(0.36) / 2 ** 0.7, rel=1e-6)


def test_length_normalisation_changes_the_choice():
  out = _beam2(0.0)  # score = sum log P: the short [EOS], log 0.5
  np.testing.assert_array_equal(out.tokens_BxKxL[1], [[EOS, -1, -1, -1], [A, EOS, -1, -1]])
  np.testing.assert_array_equal(out.lengths_BxK[1], [1, 2])
  np.testing.assert_allclose(out.scores_BxK[1], np.log([0.5, 0.36]), rtol=1e-6)
  out = _beam2(1.0)  # score = mean log P: [A, EOS], log(0.36) / 2 = -0.511 > -0.693
  np.testing.assert_array_equal(out.tokens_BxKxL[1], [[A, EOS, -1, -1], [EOS, -1, -1, -1]])
  np.testing.assert_allclose(out.scores_BxK[1], [math.log(0.36) / 2, math.log(0.5)],
                             rtol=1e-6)
  np.testing.assert_allclose(out.log_probs_BxK[1], np.log([0.36, 0.5]), rtol=1e-6)


def _rnn_step(seed: int, vocab: int, hidden: int = 8):
  """A small random RNN decoder: h' = tanh(U h + E[token]), logits = W h', plus
  2t - 4 on the eos logit (token 1) at step t, so that sentences end at varied t."""
  k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
  u = jax.random.normal(k1, (hidden, hidden)) / math.sqrt(hidden)
  e = jax.random.normal(k2, (vocab, hidden))
  w = 2.0 * jax.random.normal(k3, (hidden, vocab))

  def step(state, token_B):
    h_BxH, t = state
    h_BxH = jnp.tanh(h_BxH @ u + e[token_B])
    logits_BxV = (h_BxH @ w).at[:, 1].add(2.0 * t - 4.0)
    return logits_BxV, (h_BxH, t + 1)
  return step


def test_width_1_equals_greedy_and_log_probs_rescore():
  step, batch, max_len = _rnn_step(0, vocab=6), 16, 7
  h0 = (jax.random.normal(jax.random.key(1), (batch, 8)), jnp.zeros(batch))
  starts = jnp.zeros(batch, jnp.int32)

  @jax.jit
  def run(h0):
    greedy = greedy_decode(step, h0, starts, max_len=max_len, eos_id=1)
    # alpha = 0: with alpha > 0 a width-1 search may go on past an end greedy
    # decoding takes, when a longer hypothesis could still score better
    beam = beam_search(step, h0, starts, beam_width=1, max_len=max_len, eos_id=1,
                       alpha=0.0)
    rescored = sequence_log_probs(step, h0, starts, beam.tokens_BxKxL[:, 0],
                                  beam.lengths_BxK[:, 0])
    return greedy, beam, rescored

  greedy, beam, rescored = _numpy(run(h0))
  lengths = np.asarray(greedy.lengths_B)
  assert 1 < len(set(lengths.tolist())) and (lengths < max_len).any()  # varied ends
  np.testing.assert_array_equal(beam.tokens_BxKxL[:, 0], greedy.tokens_BxL)
  np.testing.assert_array_equal(beam.lengths_BxK[:, 0], lengths)
  np.testing.assert_allclose(beam.log_probs_BxK[:, 0], greedy.log_probs_B, rtol=1e-5)
  np.testing.assert_allclose(beam.scores_BxK[:, 0], greedy.log_probs_B, rtol=1e-5)
  np.testing.assert_allclose(rescored, greedy.log_probs_B, rtol=1e-5)


def test_the_search_goes_on_while_a_live_hypothesis_can_still_win():
  # K = 2, alpha = 0. Step 1: [EOS] ends (0.3); A (0.6) and B (0.1) live. Step 2:
  # [B EOS] ends (0.09): two have ended, but the live [A B] (0.54) can still beat
  # the worse of them, and does: [A B EOS] = 0.54 * 0.9 = 0.486 > 0.3. Stopping at
  # the second end would return [EOS], worse than greedy decoding's [A B EOS].
  uniform = [0, 1 / 3, 1 / 3, 1 / 3]
  table = np.array([[[0, .3, .6, .1], uniform, [0, .1, 0, .9], [0, .9, .05, .05]]])
  state = {"table": jnp.zeros(1, jnp.int32), "steps": jnp.zeros(1, jnp.int32)}
  out = _numpy(jax.jit(lambda: beam_search(_table_step(table), state, jnp.array([BOS]),
                                           beam_width=2, max_len=L, eos_id=EOS, alpha=0.0,
                                           pad_id=-1))())
  np.testing.assert_array_equal(out.tokens_BxKxL[0], [[A, B, EOS, -1], [EOS, -1, -1, -1]])
  np.testing.assert_allclose(out.log_probs_BxK[0], np.log([0.486, 0.3]), rtol=1e-6)
  # it stopped after step 3 (every live extension then is below 0.3), not at L
  assert int(out.lengths_BxK[0, 0]) == 3


def test_a_beam_wider_than_the_tree_is_exhaustive_search():
  # V = 3 (eos and two words) and L = 3: 1 + 2 + 4 sequences end in eos and 8 are cut
  # at L, 15 in all, so a beam of 16 never fills up, never stops early, prunes nothing.
  rng = np.random.default_rng(0)
  p = rng.dirichlet(np.ones(3), size=(1, 3))  # P(next | previous), previous in 0..2
  step, k, max_len, alpha = _table_step(p), 16, 3, 0.7
  state = {"table": jnp.zeros(1, jnp.int32), "steps": jnp.zeros(1, jnp.int32)}
  out = _numpy(jax.jit(lambda: beam_search(step, state, jnp.array([2]), beam_width=k,
                                           max_len=max_len, eos_id=0, alpha=alpha))())

  def log_prob(seq):
    return sum(math.log(p[0, prev, cur]) for prev, cur in zip((2,) + seq, seq))
  sequences = [words + (0,) for n in range(max_len) for words in
               itertools.product((1, 2), repeat=n)]
  sequences += list(itertools.product((1, 2), repeat=max_len))
  scores = sorted((-log_prob(s) / len(s) ** alpha, s) for s in sequences)
  assert len(scores) == 15
  assert np.isfinite(np.asarray(out.scores_BxK[0])).sum() == 15
  np.testing.assert_allclose(out.scores_BxK[0, :15], [-s for s, _ in scores], rtol=1e-5)
  found = [tuple(out.tokens_BxKxL[0, i, :out.lengths_BxK[0, i]].tolist())
           for i in range(15)]
  assert found == [s for _, s in scores]


def test_bad_arguments_say_what_is_wrong():
  with pytest.raises(ValueError, match="beam_width must be a positive Python int"):
    beam_search(STEP, STATE, STARTS, beam_width=0, max_len=L, eos_id=EOS)
  with pytest.raises(ValueError, match="step_fn must return logits"):
    beam_search(lambda s, t: (jnp.zeros((2, 5)), s), STATE, STARTS, beam_width=3,
                max_len=L, eos_id=EOS)
