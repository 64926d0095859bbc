"""Encoder-decoder models (seq2seq.py, seq2seq_transformer.py; notes 004 "Sequence
to sequence model", "Attention model", "Transformer network"): shapes, attention
weights (sum to 1, zero on padded source positions), padding invariance, step
decoding equal to teacher forcing, causality, and greedy decoding through
nn_lib.decoding. Each model case compiles once (a module-scoped fixture)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib import decoding, models
from nn_lib.models import seq2seq
from nn_lib.models.catalog import random_variables

V, BOS, EOS, PAD = 9, 1, 2, 0
B, S, T = 3, 6, 5
CASES = {
    # The LSTM's carry is a tuple (c, a), the other cells' is a: the harder case.
    "rnn_lstm": ("seq2seq_rnn", {"embed_dim": 6, "hidden": 5, "attention_dim": 4,
                                 "cell": "lstm"}),
    "transformer": ("seq2seq_transformer", {"d_model": 8, "num_heads": 2, "num_layers": 2,
                                            "d_ff": 16}),
}


def _batch():
  rng = np.random.default_rng(0)
  src = rng.integers(3, V, (B, S))
  src[1, 4:] = PAD  # row 1: 4 real tokens, row 2: 2
  src[2, 2:] = PAD
  tgt_in = np.concatenate([np.full((B, 1), BOS), rng.integers(3, V, (B, T - 1))], axis=1)
  return jnp.asarray(src, jnp.int32), jnp.asarray(tgt_in, jnp.int32)


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
  """Everything the tests check, from one jitted function per model: compiling is
  what costs here, so same-shaped passes share one batch."""
  name, kwargs = CASES[request.param]
  model = models.get(name, vocab_size=V, pad_id=PAD, **kwargs)
  src, tgt_in = _batch()
  packed = jnp.stack([src[:, :T], tgt_in], axis=1)  # the registry's one-array form
  # Host-filled N(0, 1/fan_in) weights (no initializer compiles); the biases make
  # the attention energies differ between source positions.
  variables = random_variables(model, packed, seed=1, bias_scale=0.5)

  @jax.jit
  def run(variables):
    step_fn, state = seq2seq.decoder(model, variables, src, T)

    def body(state, token_B):
      logits_BxV, state = step_fn(state, token_B)
      return state, logits_BxV
    stepped = jnp.swapaxes(jax.lax.scan(body, state, tgt_in.T)[1], 0, 1)
    greedy = decoding.greedy_decode(step_fn, state, tgt_in[:, 0], max_len=T, eos_id=EOS)
    # Teacher forcing on three decoder inputs: tgt_in; tgt_in with position 2
    # changed (causality); the greedy output's own prefix.
    changed = tgt_in.at[:, 2].set(3 + (tgt_in[:, 2] - 2) % (V - 3))
    greedy_in = jnp.concatenate([tgt_in[:, :1], greedy.tokens_BxL[:, :-1]], axis=1)
    logits, att = seq2seq.teacher_force_with_attention(
        model, variables, jnp.tile(src, (3, 1)), jnp.concatenate([tgt_in, changed, greedy_in]))
    return {"logits": logits[:B], "changed": logits[B:2 * B], "greedy_tf": logits[2 * B:],
            "attention": att[:B], "stepped": stepped, "greedy": greedy,
            # row 2 alone, its padding cut off, through __call__
            "short": model.apply(variables, src[2:, :2], tgt_in[2:])}

  out = run(variables)
  out["packed_shape"] = jax.eval_shape(model.apply, variables, packed).shape
  return model, out


def test_shapes(case):
  _, out = case
  assert out["logits"].shape == (B, T, V) and out["packed_shape"] == (B, T, V)
  assert np.all(np.isfinite(out["logits"])) and float(np.std(out["logits"])) > 0.1


def test_attention_sums_to_one_and_ignores_padding(case):
  model, out = case
  att = np.asarray(out["attention"])
  if model.__class__.__name__ == "Seq2SeqRNN":
    assert att.shape == (B, T, S)
  else:  # every decoder layer and head
    assert att.shape == (B, 2, 2, T, S)
  np.testing.assert_allclose(att.sum(axis=-1), 1.0, atol=1e-5)
  assert np.all(att[1, ..., 4:] == 0.0) and np.all(att[2, ..., 2:] == 0.0)
  assert att[0].min() > 0  # no padding in row 0: every position gets some weight
  assert np.abs(att[..., 0] - att[..., 1]).max() > 1e-3  # not uniform


def test_padded_source_equals_unpadded(case):
  _, out = case
  np.testing.assert_allclose(out["short"][0], out["logits"][2], atol=1e-5, rtol=0)


def test_step_decoder_reproduces_teacher_forcing(case):
  _, out = case
  np.testing.assert_allclose(out["stepped"], out["logits"], atol=1e-5, rtol=0)


def test_decoder_is_causal(case):
  _, out = case
  np.testing.assert_allclose(out["changed"][:, :2], out["logits"][:, :2], atol=1e-6, rtol=0)
  assert np.abs(out["changed"][:, 2:] - out["logits"][:, 2:]).max() > 1e-3


def test_greedy_decoding_takes_the_argmax_of_its_own_prefix(case):
  _, out = case
  greedy = out["greedy"]
  tokens_BxT, lengths_B = np.asarray(greedy.tokens_BxL), np.asarray(greedy.lengths_B)
  assert tokens_BxT.shape == (B, T)
  valid_BxT = np.arange(T) < lengths_B[:, None]
  argmax_BxT = np.argmax(np.asarray(out["greedy_tf"]), axis=-1)
  np.testing.assert_array_equal(np.where(valid_BxT, tokens_BxT, -1),
                                np.where(valid_BxT, argmax_BxT, -1))
  log_p_BxTxV = np.asarray(jax.nn.log_softmax(out["greedy_tf"]))
  log_p_BxT = np.take_along_axis(log_p_BxTxV, tokens_BxT[..., None], axis=-1)[..., 0]
  np.testing.assert_allclose(greedy.log_probs_B, np.where(valid_BxT, log_p_BxT, 0).sum(1),
                             atol=1e-4)


def test_rejects_bad_inputs():
  model = models.get("seq2seq_rnn", vocab_size=V)
  with pytest.raises(ValueError, match="packed array"):
    jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((2, 4), jnp.int32)))
  with pytest.raises(ValueError, match="cell must be one of"):
    jax.eval_shape(lambda: models.get("seq2seq_rnn", vocab_size=V, cell="tcn").init(
        jax.random.key(0), jnp.zeros((2, 3), jnp.int32), jnp.zeros((2, 3), jnp.int32)))
