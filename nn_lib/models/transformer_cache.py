"""Incremental decoding of `transformer_lm` with a key/value cache (notes 004
"Transformers", "Masked Multi-Head Attention"; "Sampling a sequence", "Beam Search").

The causal decoder's output at position t depends on tokens 0..t only, so when a
sequence grows one token at a time the keys k_j = x_j W^K and values v_j = x_j W^V
of positions j < t are the same as at the previous step. The cache keeps them: a step
embeds the one new token y_t (plus PE(t)), computes its query, key and value in every
layer, writes k_t, v_t into slot t, and attends over slots 0..t:

  head(t) = sum_{j <= t} softmax_j(q_t . k_j / sqrt(d_k)) v_j,

which is row t of the masked attention softmax(Q K^T / sqrt(d_k) + M) V of the full
forward pass. A step costs O(t) instead of the O(t^2) of re-running the prefix.

`CachedTransformerLM` has the very parameter names of `TransformerLM` (embed,
blocks_<i>/attn/mha/{query,key,value,out}, ffn_in, ffn_out, ln1, ln2, ln_final,
head), so it is applied to the variables the language model was trained with. The
cache (`KVCache`) is a pytree of fixed shape whose every leaf leads with the batch, so
nn_lib.decoding's samplers and beam search (which repeat and reorder rows) drive it:

  step_fn, cache = lm_decoder(lm, variables, batch=B, max_len=L)
  decoding.sample_sequences(step_fn, cache, bos_B, key, max_len=L, eos_id=eos)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.decoding.sampling import StepFn
from nn_lib.models import layers
from nn_lib.models.transformer import TransformerLM, _scale, attention
from nn_lib.models.transformer import sinusoidal_positional_encoding as _pe


class KVCache(NamedTuple):
  """Per layer, keys and values of positions 0..L-1 (B x L x H x d_k, slots past
  the current position are unused), and pos_B: the position the next token takes.
  Every leaf leads with the batch, as beam search needs to repeat/reorder rows."""

  keys: tuple[jax.Array, ...]
  values: tuple[jax.Array, ...]
  pos_B: jax.Array


class _CachedMHA(nn.Module):
  """nn.MultiHeadDotProductAttention for one query position: the same DenseGeneral
  layers (query/key/value: D -> H x d_k, out: H x d_k -> D) and the same `attention`
  function as the full pass, over the cached keys and values."""

  d_model: int
  num_heads: int
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(
    self, x_Bx1xD: jax.Array, k_BxLxHxK: jax.Array, v_BxLxHxK: jax.Array, pos_B: jax.Array
  ) -> tuple[jax.Array, jax.Array, jax.Array]:
    prec = layers.precision(self)
    head_dim = self.d_model // self.num_heads
    dense = lambda name: nn.DenseGeneral((self.num_heads, head_dim), axis=-1, name=name, **prec)
    q_Bx1xHxK = dense("query")(x_Bx1xD)
    slot_BxL = jnp.arange(k_BxLxHxK.shape[1])[None, :]
    # A per-row write (not one dynamic_update_slice at a shared index) keeps pos_B a
    # batch-leading leaf that beam search may reorder with the rest of the state.
    write_BxLx1x1 = (slot_BxL == pos_B[:, None])[:, :, None, None]
    k_BxLxHxK = jnp.where(write_BxLx1x1, dense("key")(x_Bx1xD).astype(k_BxLxHxK.dtype), k_BxLxHxK)
    v_BxLxHxK = jnp.where(write_BxLx1x1, dense("value")(x_Bx1xD).astype(v_BxLxHxK.dtype), v_BxLxHxK)
    # Slots 0..pos hold this sequence; the rest are masked with flax's finfo.min,
    # whose exp underflows to exactly 0, as the causal mask of the full pass does.
    mask_Bx1x1xL = (slot_BxL <= pos_B[:, None])[:, None, None, :]
    heads_Bx1xHxK = attention(
      q_Bx1xHxK,
      k_BxLxHxK,
      v_BxLxHxK,
      mask=mask_Bx1x1xL,
      deterministic=True,
      dtype=layers.as_dtype(self.dtype),
    )
    out = nn.DenseGeneral(self.d_model, axis=(-2, -1), name="out", **prec)(heads_Bx1xHxK)
    return out, k_BxLxHxK, v_BxLxHxK


class _CachedSelfAttention(nn.Module):
  """Only a scope: SelfAttention keeps its projections under attn/mha."""

  d_model: int
  num_heads: int
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_Bx1xD, k_BxLxHxK, v_BxLxHxK, pos_B):
    return _CachedMHA(self.d_model, self.num_heads, name="mha", **layers.precision(self))(
      x_Bx1xD, k_BxLxHxK, v_BxLxHxK, pos_B
    )


class _CachedBlock(nn.Module):
  """TransformerBlock at one position (eval mode: no dropout), same parameter names;
  post-norm h = LN(x + Attn(x)), y = LN(h + FFN(h)), or pre-norm."""

  d_model: int
  num_heads: int
  d_ff: int
  pre_norm: bool = False
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_Bx1xD, k_BxLxHxK, v_BxLxHxK, pos_B):
    prec = layers.precision(self)
    attn = _CachedSelfAttention(self.d_model, self.num_heads, name="attn", **prec)
    ffn_in = nn.Dense(self.d_ff, name="ffn_in", **prec)
    ffn_out = nn.Dense(self.d_model, name="ffn_out", **prec)
    ln1, ln2 = nn.LayerNorm(name="ln1", **prec), nn.LayerNorm(name="ln2", **prec)
    ffn = lambda h: ffn_out(nn.relu(ffn_in(h)))
    if self.pre_norm:
      a, k_BxLxHxK, v_BxLxHxK = attn(ln1(x_Bx1xD), k_BxLxHxK, v_BxLxHxK, pos_B)
      h = x_Bx1xD + a
      return h + ffn(ln2(h)), k_BxLxHxK, v_BxLxHxK
    a, k_BxLxHxK, v_BxLxHxK = attn(x_Bx1xD, k_BxLxHxK, v_BxLxHxK, pos_B)
    h = ln1(x_Bx1xD + a)
    return ln2(h + ffn(h)), k_BxLxHxK, v_BxLxHxK


class CachedTransformerLM(nn.Module):
  """One decoding step of TransformerLM: (token_B, cache) -> (logits_BxV, cache).

  x_t = embed(y_t) * sqrt(d_model) + PE(pos) -> num_layers cached blocks ->
  [ln_final] -> head, with pos = cache.pos_B (then advanced by one). Build it with
  `cached_lm(lm)`; apply it with the language model's variables. Eval mode only
  (no dropout); attention="fused" models decode through the explicit attention,
  the same function softmax(Q K^T / sqrt(d_k)) V.
  """

  vocab_size: int
  d_model: int = 64
  num_heads: int = 4
  num_layers: int = 2
  d_ff: int = 128
  pre_norm: bool = False
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, token_B: jax.Array, cache: KVCache) -> tuple[jax.Array, KVCache]:
    prec = layers.precision(self)
    max_len = cache.keys[0].shape[1]
    h = _scale(
      nn.Embed(self.vocab_size, self.d_model, name="embed", **prec)(token_B[:, None]), self.d_model
    )
    # Row `pos` of the same table the full pass adds (its rows do not depend on the
    # table's length). Positions >= max_len are the caller's error (clipped here).
    pe_BxD = _pe(max_len, self.d_model)[cache.pos_B]
    h = h + pe_BxD[:, None, :].astype(h.dtype)
    keys, values = [], []
    for i in range(self.num_layers):
      h, k, v = _CachedBlock(
        self.d_model, self.num_heads, self.d_ff, self.pre_norm, name=f"blocks_{i}", **prec
      )(h, cache.keys[i], cache.values[i], cache.pos_B)
      keys.append(k)
      values.append(v)
    if self.pre_norm:
      h = nn.LayerNorm(name="ln_final", **prec)(h)
    logits_BxV = nn.Dense(self.vocab_size, name="head", **prec)(h)[:, 0]
    return logits_BxV, KVCache(tuple(keys), tuple(values), cache.pos_B + 1)


def cached_lm(lm: TransformerLM) -> CachedTransformerLM:
  """The step module that shares `lm`'s hyperparameters (and so its variables)."""
  return CachedTransformerLM(
    lm.vocab_size,
    lm.d_model,
    lm.num_heads,
    lm.num_layers,
    lm.d_ff,
    lm.pre_norm,
    lm.dtype,
    lm.param_dtype,
  )


def init_cache(lm: TransformerLM, batch: int, max_len: int) -> KVCache:
  """An empty cache for `batch` sequences of at most `max_len` tokens (the start
  token included), keys/values in the model's compute dtype, positions 0."""
  shape = (batch, max_len, lm.num_heads, lm.d_model // lm.num_heads)
  zeros = lambda: tuple(jnp.zeros(shape, layers.as_dtype(lm.dtype)) for _ in range(lm.num_layers))
  return KVCache(zeros(), zeros(), jnp.zeros((batch,), jnp.int32))


def lm_step_fn(lm: TransformerLM, variables: Any) -> StepFn:
  """`(cache, token_B) -> (logits_BxV, cache)`, the step function of nn_lib.decoding."""
  step = cached_lm(lm)
  return lambda cache, token_B: step.apply(variables, jnp.asarray(token_B, jnp.int32), cache)


def lm_decoder(
  lm: TransformerLM, variables: Any, *, batch: int, max_len: int
) -> tuple[StepFn, KVCache]:
  """The step function and an empty cache: what sample_sequences / beam_search take
  (pass them the same max_len, so that every fed token has a slot)."""
  return lm_step_fn(lm, variables), init_cache(lm, batch, max_len)


def prefill(
  lm: TransformerLM, variables: Any, cache: KVCache, tokens_BxP: jax.Array
) -> tuple[jax.Array, KVCache]:
  """Feeds a prompt token by token (a lax.scan of steps): returns the logits after
  each token, B x P x V (row t predicts token t + 1), and the cache to continue from."""
  step = lm_step_fn(lm, variables)

  def body(cache, token_B):
    logits_BxV, cache = step(cache, token_B)
    return cache, logits_BxV

  cache, logits_PxBxV = jax.lax.scan(body, cache, jnp.asarray(tokens_BxP, jnp.int32).T)
  return jnp.swapaxes(logits_PxBxV, 0, 1), cache
