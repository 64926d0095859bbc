"""One documented configuration and typical input per registered model.

Used by docs/models.md (parameter counts are computed here, never typed in),
bench/models.py (throughput at the typical input size) and the tests (every
registered model has an entry; `random_variables` builds variables without
compiling the initializers). `python -m nn_lib.models.catalog` prints the
markdown table of docs/models.md.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nn_lib.models import layers, registry


@dataclasses.dataclass(frozen=True)
class Entry:
  name: str
  note: str  # course note file number(s) the architecture comes from
  summary: str  # what it is
  kwargs: dict[str, Any]  # the documented configuration (defaults + required args)
  input_shape: tuple[int, ...]  # one example, without the batch axis
  input_desc: str  # input convention
  output_desc: str  # output convention
  vocab_size: int = 0  # > 0: integer token inputs in [0, vocab_size)
  batch: int = 64  # typical batch for the benchmark

  def build(self, **overrides: Any) -> nn.Module:
    """The documented configuration, with `overrides` (e.g. dtype="bfloat16")."""
    return registry.get(self.name, **{**self.kwargs, **overrides})

  def example_input(self, batch: int, key: jax.Array) -> jax.Array:
    shape = (batch, *self.input_shape)
    if self.vocab_size:
      return jax.random.randint(key, shape, 0, self.vocab_size)
    return jax.random.normal(key, shape)


def _e(name, note, summary, kwargs, input_shape, input_desc, output_desc, **kw) -> Entry:
  return Entry(name, note, summary, kwargs, tuple(input_shape), input_desc, output_desc, **kw)


CATALOG: dict[str, Entry] = {
  e.name: e
  for e in [
    _e(
      "linear",
      "001, 002",
      "linear classifier f = Wx + b",
      dict(num_outputs=10),
      (28, 28),
      "B x ... (flattened)",
      "B x num_outputs scores",
      batch=256,
    ),
    _e(
      "polynomial",
      "001",
      "polynomial regression y = b + sum_k w_k P_k(x), order 12",
      dict(order=12),
      (1,),
      "B x 1 scalar in [-1, 1]",
      "B x 1",
      batch=256,
    ),
    _e(
      "mlp",
      "004",
      "deep MLP: dense -> [BN] -> g -> [dropout] per layer",
      dict(num_outputs=10, hidden=(128,)),
      (28, 28),
      "B x ... (flattened)",
      "B x num_outputs logits",
      batch=256,
    ),
    _e(
      "lenet5",
      "004",
      "LeNet-5: conv5-pool-conv5-pool-120-84-classes",
      {},
      (28, 28, 1),
      "B x H x W [x C]",
      "B x num_outputs logits",
    ),
    _e(
      "vgg",
      "004",
      "VGG: stages of 3x3 convs + max pool, FC + dropout (small: 32-64-128)",
      {},
      (32, 32, 3),
      "B x H x W x C",
      "B x num_outputs logits",
    ),
    _e(
      "resnet",
      "004",
      "CIFAR ResNet-20 (basic blocks, option-A shortcuts)",
      {},
      (32, 32, 3),
      "B x H x W x C",
      "B x num_outputs logits",
    ),
    _e(
      "mobilenet",
      "004",
      "MobileNet v1: 13 depthwise-separable blocks (alpha = 1)",
      {},
      (32, 32, 3),
      "B x H x W x C",
      "B x num_outputs logits",
    ),
    _e(
      "inception_block",
      "004",
      "Inception module (GoogLeNet 3a): 1x1, 1x1-3x3, 1x1-5x5, pool-1x1 branches",
      {},
      (28, 28, 192),
      "B x H x W x C",
      "B x H x W x 256 (or B x num_outputs)",
      batch=16,
    ),
    _e(
      "mlp_autoencoder",
      "000",
      "dense autoencoder 784-256-128-32-128-256-784",
      {},
      (28, 28),
      "B x 28 x 28",
      "same shape (logits)",
      batch=256,
    ),
    _e(
      "conv_autoencoder",
      "000, 004",
      "strided-conv encoder, transposed-conv decoder, latent 32",
      {},
      (28, 28, 1),
      "B x 28 x 28 x 1",
      "same shape (logits)",
    ),
    _e(
      "unet",
      "004",
      "U-Net, depth 3, base width 16",
      {},
      (64, 64, 3),
      "B x H x W x C",
      "B x H x W x num_outputs logits",
      batch=16,
    ),
    _e(
      "dcgan_generator",
      "000",
      "DCGAN generator z(64) -> 28x28x1",
      {},
      (64,),
      "B x latent_dim noise",
      "B x 28 x 28 x 1 in (-1, 1)",
    ),
    _e(
      "dcgan_discriminator",
      "000",
      "DCGAN discriminator 28x28x1 -> logit",
      {},
      (28, 28, 1),
      "B x H x W x C",
      "B x 1 logit",
    ),
    _e(
      "rnn",
      "004",
      "basic tanh RNN (64 units) + per-step head",
      dict(num_outputs=10),
      (32, 16),
      "B x T x D features (or B x T tokens)",
      "B x T x num_outputs",
    ),
    _e(
      "gru",
      "004",
      "GRU (notes' equations, 64 units) + per-step head",
      dict(num_outputs=10),
      (32, 16),
      "B x T x D features (or B x T tokens)",
      "B x T x num_outputs",
    ),
    _e(
      "lstm",
      "004",
      "LSTM (64 units) + per-step head",
      dict(num_outputs=10),
      (32, 16),
      "B x T x D features (or B x T tokens)",
      "B x T x num_outputs",
    ),
    _e(
      "crnn",
      "004",
      "2x2 blocks -> conv 16-32 (height pooled away) + BiLSTM 64 over "
      "columns, per-frame head (CTC)",
      {},
      (28, 168, 1),
      "B x H x W [x C] (a line of symbols)",
      "B x W/4 x num_outputs per-frame logits (11: digits + blank)",
    ),
    _e(
      "transformer_encoder",
      "004",
      "2-layer encoder, d=64, 4 heads, sinusoidal PE",
      dict(num_outputs=10, vocab_size=1000),
      (64,),
      "B x T tokens (or B x T x D features)",
      "B x T x num_outputs (pool='mean': B x num_outputs)",
      vocab_size=1000,
    ),
    _e(
      "transformer_lm",
      "004",
      "2-layer decoder-only causal LM, d=64, 4 heads",
      dict(vocab_size=1000),
      (64,),
      "B x T tokens",
      "B x T x vocab_size logits",
      vocab_size=1000,
    ),
    _e(
      "seq2seq_rnn",
      "004",
      "bidirectional-GRU encoder + GRU decoder with Bahdanau attention (64 units)",
      dict(vocab_size=1000),
      (2, 32),
      "B x 2 x T tokens [source; decoder input] (or src_BxS, tgt_in_BxT)",
      "B x T x vocab_size logits",
      vocab_size=1000,
    ),
    _e(
      "seq2seq_transformer",
      "004",
      "transformer encoder-decoder, 2+2 layers, d=64, 4 heads, cross-attention",
      dict(vocab_size=1000),
      (2, 32),
      "B x 2 x T tokens [source; decoder input] (or src_BxS, tgt_in_BxT)",
      "B x T x vocab_size logits",
      vocab_size=1000,
    ),
    _e(
      "nerf_mlp",
      "000",
      "NeRF MLP 8x256, skip at 4, PE L=10 (pos) / 4 (dir)",
      {},
      (6,),
      "... x 6 = [x, y, z, dx, dy, dz]",
      "... x 4 = [sigma, r, g, b]",
      batch=4096,
    ),
    _e(
      "single_object_detector",
      "000, 004",
      "CNN trunk + (p, x, y, log w, log h) head",
      {},
      (64, 64, 3),
      "B x H x W x C",
      "B x (5 + num_classes)",
    ),
    _e(
      "grid_detector",
      "004",
      "YOLO-style S x S x (5B + C), S=4, B=2, C=3",
      {},
      (64, 64, 3),
      "B x H x W x C",
      "B x S x S x (5B + C)",
    ),
    _e(
      "embedding_net",
      "004",
      "CNN + dense -> L2-normalised 64-d embedding",
      {},
      (28, 28, 1),
      "B x H x W [x C] or B x D",
      "B x embed_dim, unit norm",
    ),
  ]
}


def param_count(name: str) -> int:
  """Parameters (the "params" collection) of `name` at its documented config,
  from shapes only (jax.eval_shape: no arrays are allocated)."""
  entry = CATALOG[name]
  model = entry.build()
  key = jax.random.key(0)
  x = jax.ShapeDtypeStruct((1, *entry.input_shape), jnp.int32 if entry.vocab_size else jnp.float32)
  shapes = jax.eval_shape(lambda x: model.init({"params": key, "dropout": key}, x, train=False), x)
  return layers.count_params(shapes["params"])


def markdown_table() -> str:
  rows = [
    "| model | what it is | note | config | input | output | parameters |",
    "|---|---|---|---|---|---|---|",
  ]
  for name in registry.names():
    e = CATALOG[name]
    cfg = ", ".join(f"{k}={v!r}" for k, v in e.kwargs.items()) or "defaults"
    rows.append(
      f"| `{name}` | {e.summary} | {e.note} | {cfg} | {e.input_desc}; typical "
      f"{'x'.join(map(str, e.input_shape))} | {e.output_desc} | {param_count(name):,} |"
    )
  return "\n".join(rows)


if __name__ == "__main__":
  print(markdown_table())


def random_variables(model: nn.Module, x: jax.Array, seed: int = 0, bias_scale: float = 0.0):
  """Variables with the structure `model.init` gives, filled on the host with
  numpy: kernels ~ N(0, 1/fan_in), biases ~ N(0, bias_scale^2), BN scales and
  running variances one, running means zero. Only `jax.eval_shape(model.init)`
  runs, so nothing is compiled: XLA's CPU compile of the initializers'
  random-number generation takes tens of seconds for the larger models, which
  tests and benchmarks do not need to pay."""
  key = jax.random.key(0)
  shapes = jax.eval_shape(lambda x: model.init({"params": key, "dropout": key}, x, train=False), x)
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = str(getattr(path[-1], "key", path[-1]))
    if name == "bias":
      value = (bias_scale * rng.standard_normal(leaf.shape)).astype(np.float32)
    elif name == "mean":
      value = np.zeros(leaf.shape, np.float32)
    elif name in ("scale", "var"):
      value = np.ones(leaf.shape, np.float32)
    else:
      fan_in = int(np.prod(leaf.shape[:-1])) if len(leaf.shape) > 1 else 1
      value = (rng.standard_normal(leaf.shape) / np.sqrt(fan_in)).astype(np.float32)
    # The dtype `model.init` would give (param_dtype; batch statistics float32).
    return value.astype(leaf.dtype)

  return jax.tree_util.tree_map_with_path(fill, shapes)
