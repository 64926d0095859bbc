"""Transformers (Vaswani et al. 2017; notes 004 "Transformers"): multi-head
self-attention Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, sinusoidal
positional encoding, "Add & Norm" and the masked (causal) decoder
self-attention. Attention itself is flax's nn.MultiHeadDotProductAttention."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.typing import PrecisionLike

from nn_lib.models import layers
from nn_lib.models.registry import register


def sinusoidal_positional_encoding(length: int, d_model: int) -> jax.Array:
  """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).

  Returns length x d_model. Notes 004 write the cosine's exponent as (2i+1)/d;
  the paper (and this code) use the same frequency 2i/d for each sin/cos pair,
  so that PE(pos + k) is a rotation of PE(pos).
  """
  pos_Tx1 = np.arange(length, dtype=np.float64)[:, None]
  two_i = np.arange(0, d_model, 2, dtype=np.float64)
  angle_TxK = pos_Tx1 / np.power(10000.0, two_i / d_model)
  pe = np.zeros((length, d_model), np.float64)
  pe[:, 0::2] = np.sin(angle_TxK)
  pe[:, 1::2] = np.cos(angle_TxK[:, : d_model // 2])
  return jnp.asarray(pe, jnp.float32)


def _scale(h_BxTxD: jax.Array, d_model: int) -> jax.Array:
  """Embeddings times sqrt(d_model), the paper's scaling. A Python float is a weak
  type in JAX, so a bfloat16 `h` stays bfloat16 (an np.float64 would promote it
  to float32); for float32 it is the same product."""
  return h_BxTxD * float(np.sqrt(d_model))


def attention(
  query_BxQxHxK: jax.Array,
  key_BxSxHxK: jax.Array,
  value_BxSxHxK: jax.Array,
  mask: jax.Array | None = None,
  dropout_rng: jax.Array | None = None,
  dropout_rate: float = 0.0,
  broadcast_dropout: bool = True,
  deterministic: bool = False,
  dtype: jnp.dtype | None = None,
  precision: PrecisionLike = None,  # as flax's attention takes it
  module: nn.Module | None = None,
) -> jax.Array:
  """softmax(Q K^T / sqrt(d_k)) V per head, as flax's nn.dot_product_attention,
  but mixed-precision safe: under a bfloat16 `dtype` the softmax runs in float32
  (exp of bf16 logits and the normalising sum over S keys lose the small weights),
  and the weights are then rounded back so that the product with V is a bf16
  matrix product too (flax's force_fp32_for_softmax alone would leave it float32).
  For float32 this is exactly flax's computation. `module` (flax passes it when
  called with sow_weights=True) sows the weights, before dropout, into its
  "intermediates" collection as "attention_weights", for attention heat maps."""
  weights_BxHxQxS = nn.dot_product_attention_weights(
    query_BxQxHxK,
    key_BxSxHxK,
    mask=mask,
    broadcast_dropout=broadcast_dropout,
    dropout_rng=dropout_rng,
    dropout_rate=dropout_rate,
    deterministic=deterministic,
    dtype=dtype,
    precision=precision,
    module=module,
    force_fp32_for_softmax=True,
  )
  return jnp.einsum(
    "...hqk,...khd->...qhd",
    weights_BxHxQxS.astype(value_BxSxHxK.dtype),
    value_BxSxHxK,
    precision=precision,
  )


def fused_attention(
  query_BxQxHxK: jax.Array,
  key_BxSxHxK: jax.Array,
  value_BxSxHxK: jax.Array,
  mask: jax.Array | None = None,
  *,
  is_causal: bool = False,
) -> jax.Array:
  """The same softmax(Q K^T / sqrt(d_k)) V through jax.nn.dot_product_attention,
  which never builds the Q x S weights in memory where it has a fused kernel
  (cuDNN flash attention on NVIDIA GPUs, for bfloat16/float16 inputs) and is
  XLA's computation elsewhere. It has no dropout of attention weights."""
  return jax.nn.dot_product_attention(
    query_BxQxHxK, key_BxSxHxK, value_BxSxHxK, mask=mask, is_causal=is_causal
  )


ATTENTION_IMPLEMENTATIONS = ("explicit", "fused")


def _attention_fn(implementation: str, causal: bool):
  if implementation == "explicit":
    return attention
  if implementation == "fused":
    return functools.partial(fused_attention, is_causal=causal)
  raise ValueError(f"attention must be one of {ATTENTION_IMPLEMENTATIONS}, got {implementation!r}")


class SelfAttention(nn.Module):
  """Multi-head self-attention: head_i = Attention(x W_i^Q, x W_i^K, x W_i^V),
  MultiHead = concat(head_1..head_h) W_O, with d_k = d_model / num_heads.
  causal=True adds nn.make_causal_mask: position t attends to positions <= t
  only (the decoder's "masked multi-head attention").

  attention="explicit" builds the weights (and drops them with `dropout`);
  "fused" calls jax.nn.dot_product_attention (flash attention on GPUs, no
  attention-weight dropout: `dropout` then acts on the residual branches only)."""

  d_model: int
  num_heads: int
  causal: bool = False
  dropout: float = 0.0
  attention: str = "explicit"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxTxD: jax.Array, train: bool = False) -> jax.Array:
    fused = self.attention == "fused"
    # the fused kernel masks causally itself, without a T x T mask in memory
    mask = nn.make_causal_mask(x_BxTxD[..., 0]) if self.causal and not fused else None
    return nn.MultiHeadDotProductAttention(
      num_heads=self.num_heads,
      qkv_features=self.d_model,
      out_features=self.d_model,
      dropout_rate=0.0 if fused else self.dropout,
      deterministic=not train,
      attention_fn=_attention_fn(self.attention, self.causal),
      name="mha",
      **layers.precision(self),
    )(x_BxTxD, mask=mask)


class TransformerBlock(nn.Module):
  """Self-attention and a position-wise feed-forward net (d_ff, ReLU), each
  wrapped in residual + layer norm. Post-norm (the notes' "Add & Norm"):
  h = LN(x + Drop(Attn(x))), y = LN(h + Drop(FFN(h))). Pre-norm:
  h = x + Drop(Attn(LN(x))), y = h + Drop(FFN(LN(h)))."""

  d_model: int
  num_heads: int
  d_ff: int
  dropout: float = 0.0
  causal: bool = False
  pre_norm: bool = False
  attention: str = "explicit"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxTxD: jax.Array, train: bool = False) -> jax.Array:
    prec = layers.precision(self)
    drop = layers.dropout(self.dropout, train)
    attn = SelfAttention(
      self.d_model, self.num_heads, self.causal, self.dropout, self.attention, name="attn", **prec
    )
    ffn_in = nn.Dense(self.d_ff, name="ffn_in", **prec)
    ffn_out = nn.Dense(self.d_model, name="ffn_out", **prec)
    # flax's LayerNorm takes its mean and variance in float32 whatever `dtype` is.
    ln1, ln2 = nn.LayerNorm(name="ln1", **prec), nn.LayerNorm(name="ln2", **prec)
    ffn = lambda h: ffn_out(nn.relu(ffn_in(h)))  # noqa: E731
    if self.pre_norm:
      h = x_BxTxD + drop(attn(ln1(x_BxTxD), train))
      return h + drop(ffn(ln2(h)))
    h = ln1(x_BxTxD + drop(attn(x_BxTxD, train)))
    return ln2(h + drop(ffn(h)))


@register("transformer_encoder")
class TransformerEncoder(nn.Module):
  """Encoder stack: input embedding (nn.Embed for tokens, or a dense projection
  of features) + sinusoidal positional encoding -> dropout -> num_layers
  bidirectional TransformerBlocks -> dense head per position, or on the mean
  over positions when pool="mean" (sequence classification).

  Input: integer tokens x_BxT when vocab_size is set, else features x_BxTxD.
  Output: B x T x num_outputs (pool="none") or B x num_outputs (pool="mean").
  """

  num_outputs: int
  vocab_size: int | None = None
  d_model: int = 64
  num_heads: int = 4
  num_layers: int = 2
  d_ff: int = 128
  dropout: float = 0.1
  pool: str = "none"
  pre_norm: bool = False
  attention: str = "explicit"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxT: jax.Array, *, train: bool = False) -> jax.Array:
    prec = layers.precision(self)
    if self.vocab_size is not None:
      h = _scale(nn.Embed(self.vocab_size, self.d_model, name="embed", **prec)(x_BxT), self.d_model)
    else:
      h = nn.Dense(self.d_model, name="embed", **prec)(x_BxT)
    h = h + sinusoidal_positional_encoding(h.shape[1], self.d_model).astype(h.dtype)
    h = layers.dropout(self.dropout, train)(h)
    for i in range(self.num_layers):
      h = TransformerBlock(
        self.d_model,
        self.num_heads,
        self.d_ff,
        self.dropout,
        causal=False,
        pre_norm=self.pre_norm,
        attention=self.attention,
        name=f"block{i}",
        **prec,
      )(h, train)
    if self.pre_norm:
      h = nn.LayerNorm(name="ln_final", **prec)(h)
    if self.pool == "mean":
      h = h.mean(axis=1)
    elif self.pool != "none":
      raise ValueError(f"pool must be 'none' or 'mean', got {self.pool!r}")
    return nn.Dense(self.num_outputs, name="head", **prec)(h)


@register("transformer_lm")
class TransformerLM(nn.Module):
  """Decoder-only language model: token embedding * sqrt(d_model) + positional
  encoding -> num_layers causal TransformerBlocks -> dense head to vocabulary
  logits. Output t depends on tokens 0..t only, so training is next-token
  prediction on targets shifted by one (x<t+1> = y<t>, notes 004 "Language
  model and sequence generation").

  Input integer tokens x_BxT; output B x T x vocab_size logits.
  `from_embeddings` (via apply(..., method="from_embeddings")) runs the stack on
  already-embedded inputs B x T x d_model.
  """

  vocab_size: int
  d_model: int = 64
  num_heads: int = 4
  num_layers: int = 2
  d_ff: int = 128
  dropout: float = 0.1
  pre_norm: bool = False
  attention: str = "explicit"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def setup(self):
    prec = layers.precision(self)
    self.embed = nn.Embed(self.vocab_size, self.d_model, **prec)
    self.blocks = [
      TransformerBlock(
        self.d_model,
        self.num_heads,
        self.d_ff,
        self.dropout,
        causal=True,
        pre_norm=self.pre_norm,
        attention=self.attention,
        **prec,
      )
      for _ in range(self.num_layers)
    ]
    self.ln_final = nn.LayerNorm(**prec) if self.pre_norm else None
    self.head = nn.Dense(self.vocab_size, **prec)
    self.embed_dropout = nn.Dropout(self.dropout)

  def from_embeddings(self, h_BxTxD: jax.Array, train: bool = False) -> jax.Array:
    for block in self.blocks:
      h_BxTxD = block(h_BxTxD, train)
    if self.ln_final is not None:
      h_BxTxD = self.ln_final(h_BxTxD)
    return self.head(h_BxTxD)

  def __call__(self, x_BxT: jax.Array, *, train: bool = False) -> jax.Array:
    if jnp.issubdtype(x_BxT.dtype, jnp.floating):
      raise TypeError("transformer_lm takes integer tokens B x T")
    h = _scale(self.embed(x_BxT), self.d_model)
    h = h + sinusoidal_positional_encoding(x_BxT.shape[1], self.d_model).astype(h.dtype)
    h = self.embed_dropout(h, deterministic=not train or self.dropout == 0.0)
    return self.from_embeddings(h, train)
