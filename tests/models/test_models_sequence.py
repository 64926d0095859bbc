"""Sequence models against step-by-step references of notes 004's equations:
RNN, GRU, LSTM (uni- and bidirectional), scaled dot-product attention, the
causal mask, sinusoidal positional encoding."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib import models
from nn_lib.models.transformer import SelfAttention, sinusoidal_positional_encoding

T, D, H, O = 6, 3, 4, 2


def sigma(z):
  return 1.0 / (1.0 + np.exp(-z))


def rnn_steps(p, xs_TxD):
  """a<t> = tanh(W_a [a<t-1>, x<t>] + b_a), W_a = [W_aa; W_ax] stacked."""
  w_a = np.concatenate([p["h"]["kernel"], p["i"]["kernel"]], axis=0)
  a = np.zeros(H)
  out = []
  for x in xs_TxD:
    a = np.tanh(np.concatenate([a, x]) @ w_a + p["i"]["bias"])
    out.append(a)
  return np.stack(out)


def notes_gru_steps(p, xs_TxD):
  """The notes' full GRU with c = a."""
  def w(g):
    return np.concatenate([p["h" + g]["kernel"], p["i" + g]["kernel"]], axis=0)
  c = np.zeros(H)
  out = []
  for x in xs_TxD:
    gamma_r = sigma(np.concatenate([c, x]) @ w("r") + p["ir"]["bias"])
    gamma_u = sigma(np.concatenate([c, x]) @ w("u") + p["iu"]["bias"])
    c_tilde = np.tanh(np.concatenate([gamma_r * c, x]) @ w("c") + p["ic"]["bias"])
    c = gamma_u * c_tilde + (1 - gamma_u) * c
    out.append(c)
  return np.stack(out)


def flax_gru_steps(p, xs_TxD):
  """flax GRUCell in the notes' notation: Gamma_u = 1 - z, and the reset gate
  multiplies the recurrent term after the matmul."""
  c = np.zeros(H)
  out = []
  for x in xs_TxD:
    gamma_r = sigma(x @ p["ir"]["kernel"] + p["ir"]["bias"] + c @ p["hr"]["kernel"])
    gamma_u = 1 - sigma(x @ p["iz"]["kernel"] + p["iz"]["bias"] + c @ p["hz"]["kernel"])
    c_tilde = np.tanh(x @ p["in"]["kernel"] + p["in"]["bias"]
                      + gamma_r * (c @ p["hn"]["kernel"] + p["hn"]["bias"]))
    c = gamma_u * c_tilde + (1 - gamma_u) * c
    out.append(c)
  return np.stack(out)


def lstm_steps(p, xs_TxD):
  """c~ = tanh(W_c[a, x] + b_c); Gamma_u/f/o = sigma(W[a, x] + b);
  c = Gamma_u c~ + Gamma_f c; a = Gamma_o tanh(c). flax: u="i", c~="g"."""
  def gate(g, a, x):
    w = np.concatenate([p["h" + g]["kernel"], p["i" + g]["kernel"]], axis=0)
    return np.concatenate([a, x]) @ w + p["h" + g]["bias"]
  a, c = np.zeros(H), np.zeros(H)
  out = []
  for x in xs_TxD:
    c_tilde = np.tanh(gate("g", a, x))
    gamma_u, gamma_f, gamma_o = (sigma(gate(g, a, x)) for g in ("i", "f", "o"))
    c = gamma_u * c_tilde + gamma_f * c
    a = gamma_o * np.tanh(c)
    out.append(a)
  return np.stack(out)


CASES = {
    "rnn": (dict(), rnn_steps),
    "gru": (dict(), notes_gru_steps),
    "gru_reset_after": (dict(reset_after=True), flax_gru_steps),
    "lstm": (dict(), lstm_steps),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_equals_step_by_step_reference(case, bidirectional, make_variables):
  kwargs, steps = CASES[case]
  model = models.get(case.split("_")[0], num_outputs=O, hidden=H, bidirectional=bidirectional,
                     **kwargs)
  xs = np.random.default_rng(0).normal(size=(2, T, D)).astype(np.float32)
  variables = make_variables(model, xs, seed=1, bias_scale=0.5)
  p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), variables["params"])
  y = np.asarray(jax.jit(lambda v, xs: model.apply(v, xs, train=False))(variables, xs))
  for b in range(2):
    if bidirectional:  # y^<t> = W_y [a->(t), a<-(t)] + b_y
      fwd = steps(p["cell0_fwd"], xs[b])
      bwd = steps(p["cell0_bwd"], xs[b][::-1])[::-1]
      a = np.concatenate([fwd, bwd], axis=-1)
    else:
      a = steps(p["cell0"], xs[b])
    expected = a @ p["head"]["kernel"] + p["head"]["bias"]
    np.testing.assert_allclose(y[b], expected, rtol=1e-4, atol=1e-5)


def test_recurrent_token_inputs_and_stacking(make_variables):
  model = models.get("lstm", num_outputs=7, vocab_size=7, embed_dim=5, hidden=H, num_layers=2)
  tokens = jnp.array([[1, 2, 3, 4], [6, 5, 0, 0]])
  variables = make_variables(model, tokens)
  # Both forward passes in one compiled program; the checks run in numpy.
  y, y2 = map(np.asarray, jax.jit(lambda v, tokens: (
      model.apply(v, tokens), model.apply(v, tokens.at[:, 3].set(2))))(variables, tokens))
  assert y.shape == (2, 4, 7)
  assert variables["params"]["cell1"]["ii"]["kernel"].shape == (H, H)  # layer 2 reads layer 1
  # Unidirectional: step t does not depend on later tokens.
  np.testing.assert_array_equal(y[:, :3], y2[:, :3])
  assert not np.allclose(y[:, 3], y2[:, 3])


def softmax(z, axis=-1):
  e = np.exp(z - z.max(axis=axis, keepdims=True))
  return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_softmax_qkt_over_sqrt_dk_v(causal, make_variables):
  d_model, heads = 8, 2
  d_k = d_model // heads
  module = SelfAttention(d_model, heads, causal=causal)
  x = np.random.default_rng(3).normal(size=(2, 5, d_model)).astype(np.float32)
  variables = make_variables(module, x, seed=4, bias_scale=0.2)
  y = np.asarray(module.apply(variables, x))
  p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), variables["params"]["mha"])
  for b in range(2):
    concat = []
    for h in range(heads):
      q = x[b] @ p["query"]["kernel"][:, h] + p["query"]["bias"][h]
      k = x[b] @ p["key"]["kernel"][:, h] + p["key"]["bias"][h]
      v = x[b] @ p["value"]["kernel"][:, h] + p["value"]["bias"][h]
      scores = q @ k.T / np.sqrt(d_k)
      if causal:
        scores = np.where(np.tril(np.ones((5, 5))) > 0, scores, -np.inf)
      concat.append(softmax(scores) @ v)
    w_o = p["out"]["kernel"].reshape(heads * d_k, d_model)
    expected = np.concatenate(concat, axis=-1) @ w_o + p["out"]["bias"]
    np.testing.assert_allclose(y[b], expected, rtol=1e-4, atol=1e-5)


def test_causal_mask_leaks_nothing(make_variables):
  tlen, d_model = 6, 8
  model = models.get("transformer_lm", vocab_size=11, d_model=d_model, num_heads=2,
                     num_layers=2, d_ff=16, dropout=0.0)
  tokens = jnp.array([[1, 2, 3, 4, 5, 6]])
  variables = make_variables(model, tokens, bias_scale=0.1)
  h = jnp.asarray(np.random.default_rng(5).normal(size=(1, tlen, d_model)), jnp.float32)
  # J[t, :, s, :] = d logits<t> / d input<s> through the whole decoder stack.
  jac = jax.jit(jax.jacobian(
      lambda h: model.apply(variables, h, method="from_embeddings")[0]))(h)
  norms = np.abs(np.asarray(jac)[:, :, 0]).sum(axis=(1, 3))  # T x T
  assert np.all(norms[np.triu_indices(tlen, k=1)] == 0.0)  # future inputs: exactly zero
  assert np.all(norms[np.tril_indices(tlen)] > 1e-6)  # past and present: used
  # Token level: changing token t+1 leaves logits 0..t bit-identical.
  apply = jax.jit(lambda tokens: model.apply(variables, tokens))
  logits = np.asarray(apply(tokens))  # compared in numpy: no eager slicing ops
  for t in range(tlen - 1):
    changed_tokens = np.array(tokens)
    changed_tokens[0, t + 1] = 0
    changed = np.asarray(apply(changed_tokens))
    np.testing.assert_array_equal(logits[0, : t + 1], changed[0, : t + 1])
    assert not np.allclose(logits[0, t + 1], changed[0, t + 1])


def test_encoder_attends_both_ways(make_variables):
  model = models.get("transformer_encoder", num_outputs=3, d_model=8, num_heads=2,
                     num_layers=1, d_ff=16, dropout=0.0)
  x = jnp.asarray(np.random.default_rng(6).normal(size=(1, 5, 4)), jnp.float32)
  variables = make_variables(model, x, bias_scale=0.1)
  jac = np.asarray(jax.jit(jax.jacobian(lambda x: model.apply(variables, x)[0]))(x))[:, :, 0]
  # jac: T x O x T x D
  assert float(np.abs(jac[0, :, 4]).sum()) > 1e-6  # output 0 sees input 4
  pooled = models.get("transformer_encoder", num_outputs=3, d_model=8, num_heads=2,
                      num_layers=1, d_ff=16, pool="mean")
  y = jax.jit(pooled.apply)(make_variables(pooled, x), x)
  assert y.shape == (1, 3) and np.all(np.isfinite(y))


def test_sinusoidal_positional_encoding_values():
  pe = np.asarray(sinusoidal_positional_encoding(50, 4))
  np.testing.assert_allclose(pe[0], [0, 1, 0, 1], atol=1e-7)
  np.testing.assert_allclose(pe[1], [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)], rtol=1e-6)
  np.testing.assert_allclose(pe[49, 2], np.sin(49 / 100), rtol=1e-6)
  np.testing.assert_allclose(pe[49, 3], np.cos(49 / 100), rtol=1e-6)
  # Each (sin, cos) pair shares one frequency, so every row has unit-norm pairs.
  np.testing.assert_allclose(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, 1.0, rtol=1e-6)
  assert sinusoidal_positional_encoding(7, 5).shape == (7, 5)


@pytest.mark.parametrize("name,kwargs,inputs", [
    ("transformer_lm", dict(vocab_size=11), np.array([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]])),
    ("transformer_encoder", dict(num_outputs=3),
     np.random.default_rng(7).normal(size=(2, 5, 4)).astype(np.float32))])
def test_fused_attention_equals_explicit(make_variables, name, kwargs, inputs):
  """attention="fused" (jax.nn.dot_product_attention, causal by is_causal rather
  than a mask) computes what the explicit weights do, with the same parameters."""
  common = dict(d_model=8, num_heads=2, num_layers=2, d_ff=16, dropout=0.0, **kwargs)
  explicit = models.get(name, **common)
  fused = models.get(name, attention="fused", **common)
  variables = make_variables(explicit, inputs, bias_scale=0.1)
  want = jax.jit(explicit.apply)(variables, inputs)
  got = jax.jit(fused.apply)(variables, inputs)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="attention must be one of"):
    models.get(name, attention="flash", **common).init(jax.random.PRNGKey(0), inputs)
