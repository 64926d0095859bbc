"""Transformer encoder-decoder (Vaswani et al. 2017; notes 004 "Transformer network":
encoder self-attention, "Masked Multi-Head Attention" in the decoder, and attention
of the decoder over the encoder's output), on the interface of `seq2seq.py`.

Encoder: embed(x) * sqrt(d) + PE -> num_layers x [self-attention over the source
(padded keys masked), FFN]. Decoder: embed(y) * sqrt(d) + PE -> num_layers x
[causal self-attention, cross-attention Attention(Q = decoder, K = V = encoder output)
with padded source keys masked, FFN] -> dense head to V logits; every sublayer in
residual + LayerNorm ("Add & Norm", or pre-norm). Attention is
softmax(Q K^T / sqrt(d_k)) V per head (transformer.attention), MultiHead =
concat(head_1..head_h) W_O.

Step decoding re-runs the decoder on the prefix (a fixed-length buffer of max_len
tokens, state = encoder output + buffer + position) and takes the logits at the
current position, instead of caching keys and values: the step is then the very
computation of teacher forcing (so it reproduces its logits), the cross-attention
keys come from the encoder output computed once, and for the short targets of the
catalogue's tasks the O(T^2) per-step cost is negligible. The key/value cache is shown
on the decoder-only LM (transformer_cache.py).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.registry import register
from nn_lib.models.seq2seq import _check_tokens, split_inputs
from nn_lib.models.transformer import _scale, attention, sinusoidal_positional_encoding


class _Block(nn.Module):
  """Self-attention [+ cross-attention] + FFN, each as post-norm h = LN(x + Drop(F(x)))
  or pre-norm h = x + Drop(F(LN(x))). Masks are B x 1 x Q x K booleans."""

  d_model: int
  num_heads: int
  d_ff: int
  dropout: float = 0.0
  pre_norm: bool = False
  cross: bool = False
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(
    self,
    x_BxTxD: jax.Array,
    self_mask: jax.Array,
    memory_BxSxD: jax.Array | None = None,
    cross_mask: jax.Array | None = None,
    *,
    train: bool = False,
    sow_weights: bool = False,
  ) -> jax.Array:
    prec = layers.precision(self)
    drop = layers.dropout(self.dropout, train)

    def mha(name: str) -> nn.Module:
      return nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads,
        qkv_features=self.d_model,
        out_features=self.d_model,
        dropout_rate=self.dropout,
        deterministic=not train,
        attention_fn=attention,
        name=name,
        **prec,
      )

    sublayers = [lambda h: mha("self_attn")(h, mask=self_mask)]
    if self.cross:
      sublayers.append(
        lambda h: mha("cross_attn")(h, memory_BxSxD, mask=cross_mask, sow_weights=sow_weights)
      )
    ffn_in = nn.Dense(self.d_ff, name="ffn_in", **prec)
    ffn_out = nn.Dense(self.d_model, name="ffn_out", **prec)
    sublayers.append(lambda h: ffn_out(nn.relu(ffn_in(h))))
    h = x_BxTxD
    for i, f in enumerate(sublayers):
      ln = nn.LayerNorm(name=f"ln{i + 1}", **prec)
      h = h + drop(f(ln(h))) if self.pre_norm else ln(h + drop(f(h)))
    return h


@register("seq2seq_transformer")
class Seq2SeqTransformer(nn.Module):
  """Transformer encoder-decoder (module docstring). vocab_size: target vocabulary V;
  src_vocab_size: the source's (default V). num_layers encoder and num_layers decoder
  blocks. Sequences are padded on the right with pad_id."""

  vocab_size: int
  src_vocab_size: int | None = None
  d_model: int = 64
  num_heads: int = 4
  num_layers: int = 2
  d_ff: int = 128
  dropout: float = 0.1
  pre_norm: bool = False
  pad_id: int = 0
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def setup(self):
    prec = layers.precision(self)
    block = lambda cross, i: _Block(
      self.d_model,
      self.num_heads,
      self.d_ff,
      self.dropout,
      self.pre_norm,
      cross,
      name=f"{'dec' if cross else 'enc'}_{i}",
      **prec,
    )
    self.src_embed = nn.Embed(self.src_vocab_size or self.vocab_size, self.d_model, **prec)
    self.tgt_embed = nn.Embed(self.vocab_size, self.d_model, **prec)
    self.enc = [block(False, i) for i in range(self.num_layers)]
    self.dec = [block(True, i) for i in range(self.num_layers)]
    self.enc_ln = nn.LayerNorm(**prec) if self.pre_norm else None
    self.dec_ln = nn.LayerNorm(**prec) if self.pre_norm else None
    self.head = nn.Dense(self.vocab_size, **prec)
    self.embed_dropout = nn.Dropout(self.dropout)

  def _embed(self, embed: nn.Module, x_BxT: jax.Array, train: bool) -> jax.Array:
    h = _scale(embed(x_BxT), self.d_model)
    h = h + sinusoidal_positional_encoding(x_BxT.shape[1], self.d_model).astype(h.dtype)
    return self.embed_dropout(h, deterministic=not train or self.dropout == 0.0)

  def encode(
    self, src_BxS: jax.Array, max_len: int | None = None, *, train: bool = False
  ) -> dict[str, jax.Array]:
    """Encoder output memory_BxSxD and the source mask; with max_len, also an empty
    prefix buffer B x max_len and positions 0 for `decode_step`."""
    _check_tokens(src_BxS)
    valid_BxS = src_BxS != self.pad_id
    # Padded source positions are masked as keys only: their own (unused) rows
    # still attend to the real tokens, so nothing is a softmax over nothing.
    key_mask = valid_BxS[:, None, None, :]
    h = self._embed(self.src_embed, src_BxS, train)
    for block in self.enc:
      h = block(h, key_mask, train=train)
    if self.enc_ln is not None:
      h = self.enc_ln(h)
    state = {"memory": h, "valid": valid_BxS}
    if max_len is not None:
      batch = src_BxS.shape[0]
      state.update(
        prefix=jnp.full((batch, max_len), self.pad_id, jnp.int32),
        pos=jnp.zeros((batch,), jnp.int32),
      )
    return state

  def _decode(
    self,
    tgt_in_BxT: jax.Array,
    state: dict[str, jax.Array],
    *,
    train: bool = False,
    sow_weights: bool = False,
  ) -> jax.Array:
    """Decoder features B x T x D (before the head); output t sees y_in<0..t> only."""
    causal = nn.make_causal_mask(tgt_in_BxT)
    cross_mask = state["valid"][:, None, None, :]
    h = self._embed(self.tgt_embed, tgt_in_BxT, train)
    for block in self.dec:
      h = block(h, causal, state["memory"], cross_mask, train=train, sow_weights=sow_weights)
    return self.dec_ln(h) if self.dec_ln is not None else h

  def teacher_force(
    self, src_BxS: jax.Array, tgt_in_BxT: jax.Array, *, train: bool = False
  ) -> tuple[jax.Array, jax.Array | None]:
    """Logits B x T x V, and the cross-attention weights B x num_layers x H x T x S
    when applied with mutable=["intermediates"] (else None)."""
    _check_tokens(tgt_in_BxT)
    logits = self.head(
      self._decode(tgt_in_BxT, self.encode(src_BxS, train=train), train=train, sow_weights=True)
    )
    if not self.is_mutable_collection("intermediates"):
      return logits, None
    weights = [
      blk.variables["intermediates"]["cross_attn"]["attention_weights"][0] for blk in self.dec
    ]
    return logits, jnp.stack(weights, axis=1)

  def __call__(
    self, src_BxS: jax.Array, tgt_in_BxT: jax.Array | None = None, *, train: bool = False
  ) -> jax.Array:
    src_BxS, tgt_in_BxT = split_inputs(src_BxS, tgt_in_BxT)
    _check_tokens(tgt_in_BxT)
    return self.head(self._decode(tgt_in_BxT, self.encode(src_BxS, train=train), train=train))

  def decode_step(
    self, state: dict[str, jax.Array], token_B: jax.Array
  ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Writes y<t-1> at position pos of the prefix, re-runs the (causal) decoder on
    the whole buffer and returns the logits at pos; eval mode. Positions after pos
    hold padding, which the causal mask keeps out of position pos."""
    pos_B = state["pos"]
    slot_BxL = jnp.arange(state["prefix"].shape[1])[None, :] == pos_B[:, None]
    prefix_BxL = jnp.where(slot_BxL, token_B[:, None].astype(jnp.int32), state["prefix"])
    h_BxLxD = self._decode(prefix_BxL, state)
    h_BxD = jnp.take_along_axis(h_BxLxD, pos_B[:, None, None], axis=1)[:, 0]
    return self.head(h_BxD), {**state, "prefix": prefix_BxL, "pos": pos_B + 1}
