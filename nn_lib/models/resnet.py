"""Residual networks (He et al. 2015; notes 004 "Residual network", "Deep
Residual Learning"): basic and bottleneck blocks, CIFAR ResNet-20/32/44/56/110
and ImageNet-style ResNet-18/34/50."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.registry import register
from nn_lib.registry import ConfigError


class BasicBlock(nn.Module):
  """Two 3x3 convolutions with a skip connection, the notes' residual block:
  a[l+2] = g(z[l+2] + a[l]), z = BN(conv(.)). If the shape changes (stride 2 or
  more channels) the shortcut is a 1x1 strided projection conv + BN
  ("projection", option B of the paper) or parameter-free subsampling with
  zero-padded channels ("pad", option A, used by CIFAR ResNet-20)."""

  features: int
  strides: int = 1
  shortcut: str = "projection"
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"
  expansion = 1

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
    init_fn = layers.initializer(self.kernel_init)
    prec = layers.precision(self)
    s = (self.strides, self.strides)
    h = nn.Conv(self.features, (3, 3), s, padding=1, use_bias=False, kernel_init=init_fn, **prec)(
      x_BxHxWxC
    )
    h = nn.relu(layers.batch_norm(train, **prec)(h))
    h = nn.Conv(self.features, (3, 3), padding=1, use_bias=False, kernel_init=init_fn, **prec)(h)
    h = layers.batch_norm(train, **prec)(h)
    return nn.relu(h + _shortcut(self, x_BxHxWxC, h.shape[-1], train))


class BottleneckBlock(nn.Module):
  """1x1 (reduce to `features`) -> 3x3 (stride) -> 1x1 (expand to 4 * features),
  each with batch norm, ReLU after the first two and after the residual sum."""

  features: int
  strides: int = 1
  shortcut: str = "projection"
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"
  expansion = 4

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
    init_fn = layers.initializer(self.kernel_init)
    prec = layers.precision(self)
    s = (self.strides, self.strides)
    h = nn.Conv(self.features, (1, 1), use_bias=False, kernel_init=init_fn, **prec)(x_BxHxWxC)
    h = nn.relu(layers.batch_norm(train, **prec)(h))
    h = nn.Conv(self.features, (3, 3), s, padding=1, use_bias=False, kernel_init=init_fn, **prec)(h)
    h = nn.relu(layers.batch_norm(train, **prec)(h))
    h = nn.Conv(self.features * 4, (1, 1), use_bias=False, kernel_init=init_fn, **prec)(h)
    h = layers.batch_norm(train, **prec)(h)
    return nn.relu(h + _shortcut(self, x_BxHxWxC, h.shape[-1], train))


def _shortcut(block: nn.Module, x_BxHxWxC: jax.Array, out_channels: int, train: bool) -> jax.Array:
  """Identity when shapes agree, otherwise option A ("pad") or B ("projection")."""
  if block.strides == 1 and x_BxHxWxC.shape[-1] == out_channels:
    return x_BxHxWxC
  if block.shortcut == "pad":
    sub = x_BxHxWxC[:, :: block.strides, :: block.strides, :]
    extra = out_channels - sub.shape[-1]
    return jnp.pad(sub, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
  if block.shortcut != "projection":
    raise ValueError(f"shortcut must be 'pad' or 'projection', got {block.shortcut!r}")
  s = (block.strides, block.strides)
  prec = layers.precision(block)
  sc = nn.Conv(
    out_channels,
    (1, 1),
    s,
    use_bias=False,
    name="shortcut_conv",
    kernel_init=layers.initializer(block.kernel_init),
    **prec,
  )(x_BxHxWxC)
  return layers.batch_norm(train, name="shortcut_bn", **prec)(sc)


# 6n + 2 layers on CIFAR (3 stages of n basic blocks, 16/32/64 filters, option A
# shortcuts) and the ImageNet family (4 stages, 64..512, projection shortcuts).
PRESETS: dict[str, dict] = {
  **{
    f"resnet{6 * n + 2}": dict(
      block="basic", stage_sizes=(n, n, n), widths=(16, 32, 64), stem="cifar", shortcut="pad"
    )
    for n in (3, 5, 7, 9, 18)
  },
  "resnet18": dict(
    block="basic",
    stage_sizes=(2, 2, 2, 2),
    widths=(64, 128, 256, 512),
    stem="imagenet",
    shortcut="projection",
  ),
  "resnet34": dict(
    block="basic",
    stage_sizes=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    stem="imagenet",
    shortcut="projection",
  ),
  "resnet50": dict(
    block="bottleneck",
    stage_sizes=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    stem="imagenet",
    shortcut="projection",
  ),
}
_BLOCKS = {"basic": BasicBlock, "bottleneck": BottleneckBlock}


@register("resnet")
class ResNet(nn.Module):
  """Residual network: stem -> stages of residual blocks (the first block of
  every stage after the first halves H, W with stride 2) -> global average
  pooling -> dense classifier.

  `arch` picks a preset (resnet20/32/44/56/110 for CIFAR, resnet18/34/50);
  `block`, `stage_sizes`, `widths`, `stem` and `shortcut` override its fields.
  Stems: "cifar" = 3x3 conv (stride 1) + BN + ReLU; "imagenet" = 7x7 stride-2
  conv + BN + ReLU + 3x3 stride-2 max pool. CIFAR ResNet-20 has 0.27M parameters,
  ResNet-18 (10 classes) 11.2M.

  Input x_BxHxWxC; output B x num_outputs logits.
  """

  num_outputs: int = 10
  arch: str = "resnet20"
  block: str | None = None
  stage_sizes: Sequence[int] | None = None
  widths: Sequence[int] | None = None
  stem: str | None = None
  shortcut: str | None = None
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def config(self) -> dict:
    if self.arch not in PRESETS:
      # A ConfigError: the name is config.model.arch, so train.py prints one line.
      raise ConfigError(
        f"config.model.arch={self.arch!r}: unknown arch; valid: {', '.join(PRESETS)}"
      )
    cfg = dict(PRESETS[self.arch])
    for field in ("block", "stage_sizes", "widths", "stem", "shortcut"):
      if getattr(self, field) is not None:
        cfg[field] = getattr(self, field)
    if len(cfg["stage_sizes"]) != len(cfg["widths"]):
      raise ValueError(
        f"stage_sizes {cfg['stage_sizes']} and widths {cfg['widths']} differ in length"
      )
    return cfg

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    cfg = self.config()
    init_fn = layers.initializer(self.kernel_init)
    prec = layers.precision(self)
    h = layers.as_images(x_BxHxWxC)
    if cfg["stem"] == "cifar":
      h = nn.Conv(cfg["widths"][0], (3, 3), padding=1, use_bias=False, kernel_init=init_fn, **prec)(
        h
      )
      h = nn.relu(layers.batch_norm(train, **prec)(h))
    elif cfg["stem"] == "imagenet":
      h = nn.Conv(
        cfg["widths"][0], (7, 7), (2, 2), padding=3, use_bias=False, kernel_init=init_fn, **prec
      )(h)
      h = nn.relu(layers.batch_norm(train, **prec)(h))
      h = nn.max_pool(h, (3, 3), strides=(2, 2), padding="SAME")
    else:
      raise ValueError(f"stem must be 'cifar' or 'imagenet', got {cfg['stem']!r}")
    block_cls = _BLOCKS[cfg["block"]]
    for stage, (n_blocks, width) in enumerate(zip(cfg["stage_sizes"], cfg["widths"])):
      for i in range(n_blocks):
        strides = 2 if stage > 0 and i == 0 else 1
        h = block_cls(
          width,
          strides,
          cfg["shortcut"],
          self.kernel_init,
          self.dtype,
          self.param_dtype,
          name=f"stage{stage + 1}_block{i + 1}",
        )(h, train)
    return nn.Dense(self.num_outputs, **prec)(h.mean(axis=(1, 2)))
