"""Encoder-decoder RNN with attention (notes 004 "Sequence to sequence model",
"Attention model"; Bahdanau et al. 2015), and the decoding interface shared by the
sequence-to-sequence models.

Encoder: a bidirectional RNN over the embedded source x<1..T_x> gives, per position,
a<t'> = (a->_<t'>, a<-_<t'>) (forward and backward activations). Decoder: an RNN with
state s<t>; for output step t a small network scores every source position,

  e<t,t'> = v^T tanh(W_s s<t-1> + W_a a<t'> + b),
  alpha<t,t'> = exp(e<t,t'>) / sum_{t''=1}^{T_x} exp(e<t,t''>)   (the notes' d<t,t'>:
                "amount of attention y<t> should pay to a<t'>"),
  c<t> = sum_{t'} alpha<t,t'> a<t'>                               (the context vector),

then s<t> = cell(s<t-1>, [embed(y<t-1>), c<t>]) and the logits of y<t> are
W_y [s<t>, c<t>] + b_y. Padded source positions (token pad_id; sequences padded on the
right) get alpha = 0 exactly, and the backward direction starts at each sequence's
last real token. s<0> = tanh(W_0 a<-_<1>) (Bahdanau's initial state). Cost O(T_x T_y).

Interface (both `seq2seq_rnn` and `seq2seq_transformer`):
  - `model.apply(v, src_BxS, tgt_in_BxT, train=...)` -> logits_BxTxV, teacher forcing
    (tgt_in = <bos> y<1..T-1>). The registry's one-array convention: x_Bx2xT =
    stack([src, tgt_in], axis=1) (equal lengths) is accepted too.
  - `teacher_force_with_attention(model, v, src, tgt_in)`: logits and the attention
    weights, for heat-map plots.
  - `decoder(model, v, src_BxS, max_len)` -> (step_fn, state), the
    `(state, token_B) -> (logits_BxV, state)` interface of nn_lib.decoding
    (greedy_decode, beam_search, sample_sequences): encode once, then step.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.decoding.sampling import StepFn
from nn_lib.models import layers
from nn_lib.models.recurrent import F32CarrySimpleCell, NotesGRUCell
from nn_lib.models.registry import register

CELLS = ("gru", "lstm", "rnn")


def split_inputs(src_BxS: jax.Array, tgt_in_BxT: jax.Array | None) -> tuple[jax.Array, jax.Array]:
  """(src, tgt_in) from two arrays, or from the packed one x_Bx2xT."""
  if tgt_in_BxT is not None:
    return src_BxS, tgt_in_BxT
  if src_BxS.ndim != 3 or src_BxS.shape[1] != 2:
    raise ValueError(
      "seq2seq models take (src_BxS, tgt_in_BxT) or one packed array "
      f"B x 2 x T = [source; decoder input]; got shape {src_BxS.shape}"
    )
  return src_BxS[:, 0], src_BxS[:, 1]


def _check_tokens(*arrays: jax.Array) -> None:
  for x in arrays:
    if jnp.issubdtype(x.dtype, jnp.floating):
      raise TypeError("seq2seq models take integer tokens")


def _hidden(carry: Any) -> jax.Array:
  """The state s of a carry: an LSTM's carry is (c, h), the others' is h."""
  return carry[1] if isinstance(carry, tuple) else carry


@register("seq2seq_rnn")
class Seq2SeqRNN(nn.Module):
  """Bidirectional-RNN encoder + attention RNN decoder (module docstring).

  vocab_size: target vocabulary V (logits B x T x V); src_vocab_size: the source's
  (default: V). hidden: units per encoder direction and of the decoder;
  attention_dim: the energy network's hidden width; cell: "gru" (the notes' GRU),
  "lstm" or "rnn" (tanh), for encoder and decoder. Dropout (train mode) acts on the
  embeddings and on [s<t>, c<t>] before the output layer.
  """

  vocab_size: int
  src_vocab_size: int | None = None
  embed_dim: int = 32
  hidden: int = 64
  attention_dim: int = 32
  cell: str = "gru"
  pad_id: int = 0
  dropout: float = 0.0
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def _cell(self, name: str) -> nn.RNNCellBase:
    prec = layers.precision(self)
    if self.cell == "gru":
      return NotesGRUCell(self.hidden, name=name, **prec)
    if self.cell == "lstm":
      return nn.OptimizedLSTMCell(self.hidden, name=name, **prec)
    if self.cell == "rnn":
      return F32CarrySimpleCell(self.hidden, name=name, **prec)
    raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")

  def setup(self):
    prec = layers.precision(self)
    self.src_embed = nn.Embed(self.src_vocab_size or self.vocab_size, self.embed_dim, **prec)
    self.tgt_embed = nn.Embed(self.vocab_size, self.embed_dim, **prec)
    # "rnn" names: the recurrent states are carried in float32 on purpose
    # (recurrent.F32CarrySimpleCell), also under bfloat16 compute.
    self.birnn = nn.Bidirectional(
      nn.RNN(self._cell("rnn_enc_fwd")), nn.RNN(self._cell("rnn_enc_bwd"))
    )
    self.rnn_dec = self._cell("rnn_dec")
    self.init_state = nn.Dense(self.hidden, **prec)  # W_0
    self.attn_a = nn.Dense(self.attention_dim, **prec)  # W_a (and b)
    self.attn_s = nn.Dense(self.attention_dim, use_bias=False, **prec)  # W_s
    self.attn_v = nn.Dense(1, use_bias=False, **prec)  # v
    self.head = nn.Dense(self.vocab_size, **prec)  # W_y, b_y
    self.drop = nn.Dropout(self.dropout)

  def encode(
    self, src_BxS: jax.Array, max_len: int | None = None, *, train: bool = False
  ) -> dict[str, Any]:
    """The decoder's initial state: a_BxSx2H, keys_BxSxA = W_a a + b (computed once,
    not per step), mask_BxS (real source tokens) and the carry s<0>. `max_len` is
    unused (the transformer's encode needs it); every leaf leads with the batch."""
    del max_len
    _check_tokens(src_BxS)
    mask_BxS = src_BxS != self.pad_id
    emb = self.drop(self.src_embed(src_BxS), deterministic=not train or self.dropout == 0.0)
    a_BxSx2H = self.birnn(emb, seq_lengths=jnp.sum(mask_BxS, axis=1).astype(jnp.int32))
    s0_BxH = jnp.tanh(self.init_state(a_BxSx2H[:, 0, self.hidden :]))  # a<-_<1>
    zero = self.rnn_dec.initialize_carry(jax.random.key(0), s0_BxH.shape)
    carry: jax.Array | tuple[jax.Array, jax.Array]  # a GRU's a, or an LSTM's (c, a)
    if isinstance(zero, tuple):  # an LSTM's (c, a): the memory cell starts at 0
      carry = (zero[0], s0_BxH.astype(zero[1].dtype))
    else:
      carry = s0_BxH.astype(zero.dtype)
    return {"a": a_BxSx2H, "keys": self.attn_a(a_BxSx2H), "mask": mask_BxS, "carry": carry}

  def _step(
    self, carry: Any, emb_BxE: jax.Array, memory: dict[str, Any]
  ) -> tuple[Any, tuple[jax.Array, jax.Array]]:
    """One decoder step: alpha<t,.> from s<t-1>, c<t>, s<t>; returns the new carry and
    ([s<t>, c<t>] B x (H + 2H), alpha B x S)."""
    s_BxH = _hidden(carry)
    e_BxSx1 = self.attn_v(jnp.tanh(memory["keys"] + self.attn_s(s_BxH)[:, None, :]))
    e_BxS = e_BxSx1[..., 0].astype(jnp.float32)
    # finfo.min, not -inf: exp(min - max) is exactly 0, and a source that is all
    # padding gives uniform weights instead of NaN.
    e_BxS = jnp.where(memory["mask"], e_BxS, jnp.finfo(jnp.float32).min)
    alpha_BxS = jax.nn.softmax(e_BxS, axis=-1)
    dt = layers.as_dtype(self.dtype)
    c_Bx2H = jnp.einsum("bs,bsh->bh", alpha_BxS.astype(dt), memory["a"].astype(dt))
    carry, s_BxH = self.rnn_dec(
      carry, jnp.concatenate([emb_BxE, c_Bx2H.astype(emb_BxE.dtype)], axis=-1)
    )
    out = jnp.concatenate([s_BxH.astype(dt), c_Bx2H], axis=-1)
    return carry, (out, alpha_BxS.astype(dt))

  def teacher_force(
    self, src_BxS: jax.Array, tgt_in_BxT: jax.Array, *, train: bool = False
  ) -> tuple[jax.Array, jax.Array]:
    """Logits B x T x V of y<1..T> fed the true previous tokens, and alpha_BxTxS."""
    _check_tokens(tgt_in_BxT)
    state = self.encode(src_BxS, train=train)
    memory = {k: state[k] for k in ("a", "keys", "mask")}
    emb_BxTxE = self.drop(
      self.tgt_embed(tgt_in_BxT), deterministic=not train or self.dropout == 0.0
    )
    # A lifted scan over the method (params broadcast, shared with decode_step's
    # single call): one compiled step for any T.
    scan = nn.scan(
      lambda mdl, carry, emb, mem: mdl._step(carry, emb, mem),
      variable_broadcast="params",
      split_rngs={"params": False},
      in_axes=(1, nn.broadcast),
      out_axes=1,
    )
    _, (out_BxTxF, alpha_BxTxS) = scan(self, state["carry"], emb_BxTxE, memory)
    out_BxTxF = self.drop(out_BxTxF, deterministic=not train or self.dropout == 0.0)
    return self.head(out_BxTxF), alpha_BxTxS

  def __call__(
    self, src_BxS: jax.Array, tgt_in_BxT: jax.Array | None = None, *, train: bool = False
  ) -> jax.Array:
    src_BxS, tgt_in_BxT = split_inputs(src_BxS, tgt_in_BxT)
    return self.teacher_force(src_BxS, tgt_in_BxT, train=train)[0]

  def decode_step(
    self, state: dict[str, Any], token_B: jax.Array
  ) -> tuple[jax.Array, dict[str, Any]]:
    """(state, y<t-1>) -> (logits of y<t>, state with s<t>); eval mode."""
    memory = {k: state[k] for k in ("a", "keys", "mask")}
    carry, (out_BxF, _) = self._step(state["carry"], self.tgt_embed(token_B), memory)
    return self.head(out_BxF), {**state, "carry": carry}


def teacher_force_with_attention(
  model: nn.Module, variables: Any, src_BxS: jax.Array, tgt_in_BxT: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """Logits B x T x V of a teacher-forced pass (eval mode) and its attention, for
  heat maps: seq2seq_rnn gives alpha B x T x S; seq2seq_transformer the cross-attention
  weights of every decoder layer and head, B x num_layers x H x T x S. Rows sum to 1
  over the source; padded source positions get exactly 0."""
  (logits_BxTxV, weights), _ = model.apply(
    variables, src_BxS, tgt_in_BxT, train=False, method="teacher_force", mutable=["intermediates"]
  )
  return logits_BxTxV, weights


def decoder(
  model: nn.Module, variables: Any, src_BxS: jax.Array, max_len: int
) -> tuple[StepFn, Any]:
  """Encodes the source once; returns (step_fn, state) for nn_lib.decoding.
  `max_len`: the most tokens the search will feed (the transformer's prefix buffer)."""
  state = model.apply(variables, src_BxS, max_len, method="encode")

  def step_fn(state, token_B):
    return model.apply(variables, state, jnp.asarray(token_B, jnp.int32), method="decode_step")

  return step_fn, state
