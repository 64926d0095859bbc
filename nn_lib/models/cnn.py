"""Classic convolutional classifiers of notes 004 ("Classic CNNs"): LeNet-5, a
configurable VGG and the Inception module. ResNet and MobileNet live in their
own modules."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.registry import register


@register("lenet5")
class LeNet5(nn.Module):
  """LeCun et al. 1998 as in notes 004: conv5x5(6) -> pool -> conv5x5(16) -> pool
  -> 120 -> 84 -> classes. 28x28 inputs are padded to 32x32 by the first
  convolution's padding (p = 2), giving 61,706 parameters for 10 classes (the
  notes' "60k parameters").

  Input x_BxHxWxC (or B x H x W greyscale); output B x num_outputs logits.
  """

  num_outputs: int = 10
  activation: str = "relu"
  pooling: str = "max"  # the paper used average pooling; max trains faster
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    del train
    act = layers.activation(self.activation)
    pool = {"max": nn.max_pool, "avg": nn.avg_pool}[self.pooling]
    x_BxHxWxC = layers.as_images(x_BxHxWxC)
    prec = layers.precision(self)
    pad = max(0, (32 - x_BxHxWxC.shape[1]) // 2)
    h = act(nn.Conv(6, (5, 5), padding=pad, **prec)(x_BxHxWxC))
    h = pool(h, (2, 2), strides=(2, 2))
    h = act(nn.Conv(16, (5, 5), padding="VALID", **prec)(h))
    h = pool(h, (2, 2), strides=(2, 2))
    h = h.reshape(h.shape[0], -1)
    h = act(nn.Dense(120, **prec)(h))
    h = act(nn.Dense(84, **prec)(h))
    return nn.Dense(self.num_outputs, **prec)(h)


@register("vgg")
class VGG(nn.Module):
  """VGG (Simonyan & Zisserman 2014; notes 004 "VGG-16"): stages of
  `convs_per_stage` x [3x3 "same" conv -> (batch norm) -> ReLU], each stage
  followed by 2x2 max pooling (stride 2) that halves H and W, then fully
  connected layers with dropout and the classifier.

  The default is a small CIFAR-sized VGG (32-64-128, two convs each, one FC of
  256). VGG-16 is widths=(64, 128, 256, 512, 512), convs_per_stage=(2, 2, 3, 3, 3),
  fc=(4096, 4096).

  Input x_BxHxWxC with H, W divisible by 2^len(widths); output B x num_outputs.
  """

  num_outputs: int = 10
  widths: Sequence[int] = (32, 64, 128)
  convs_per_stage: int | Sequence[int] = 2
  fc: Sequence[int] = (256,)
  dropout: float = 0.5
  batch_norm: bool = False
  activation: str = "relu"
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    act = layers.activation(self.activation)
    init_fn = layers.initializer(self.kernel_init)
    prec = layers.precision(self)
    convs = self.convs_per_stage
    if isinstance(convs, int):
      convs = (convs,) * len(self.widths)
    if len(convs) != len(self.widths):
      raise ValueError(f"convs_per_stage {convs} does not match widths {self.widths}")
    h = layers.as_images(x_BxHxWxC)
    for width, n in zip(self.widths, convs):
      for _ in range(n):
        h = nn.Conv(
          width, (3, 3), padding="SAME", kernel_init=init_fn, use_bias=not self.batch_norm, **prec
        )(h)
        if self.batch_norm:
          h = layers.batch_norm(train, **prec)(h)
        h = act(h)
      h = nn.max_pool(h, (2, 2), strides=(2, 2))
    h = h.reshape(h.shape[0], -1)
    for width in self.fc:
      h = act(nn.Dense(width, kernel_init=init_fn, **prec)(h))
      h = layers.dropout(self.dropout, train)(h)
    return nn.Dense(self.num_outputs, **prec)(h)


@register("inception_block")
class InceptionBlock(nn.Module):
  """The Inception module (Szegedy et al. 2014; notes 004 "Inception module"):
  four branches on the same input, stacked along channels,

      1x1 conv (c1)  |  1x1 (r3) -> 3x3 (c3)  |  1x1 (r5) -> 5x5 (c5)
                     |  3x3 max pool, stride 1, same -> 1x1 (pool_proj)

  each conv "same"-padded and followed by (batch norm and) ReLU, so the output
  is B x H x W x (c1 + c3 + c5 + pool_proj). The 1x1 "bottleneck" convolutions
  (r3, r5) cut the cost of the 3x3 and 5x5 branches roughly tenfold. Defaults
  are GoogLeNet's block 3a: 28x28x192 -> 28x28x256.

  With `num_outputs` set, global average pooling and a dense classifier follow
  (a one-block Inception network that the generic training step can fit).
  Input x_BxHxWxC; output B x H x W x 256 features, or B x num_outputs logits.
  """

  c1: int = 64
  r3: int = 96
  c3: int = 128
  r5: int = 16
  c5: int = 32
  pool_proj: int = 32
  num_outputs: int | None = None
  batch_norm: bool = False
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def _conv(self, h: jax.Array, features: int, size: int, train: bool) -> jax.Array:
    h = nn.Conv(
      features,
      (size, size),
      padding="SAME",
      kernel_init=layers.initializer(self.kernel_init),
      use_bias=not self.batch_norm,
      **layers.precision(self),
    )(h)
    if self.batch_norm:
      h = layers.batch_norm(train, **layers.precision(self))(h)
    return nn.relu(h)

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    x = layers.as_images(x_BxHxWxC)
    b1 = self._conv(x, self.c1, 1, train)
    b3 = self._conv(self._conv(x, self.r3, 1, train), self.c3, 3, train)
    b5 = self._conv(self._conv(x, self.r5, 1, train), self.c5, 5, train)
    pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding="SAME")
    bp = self._conv(pooled, self.pool_proj, 1, train)
    h_BxHxWxF = jnp.concatenate([b1, b3, b5, bp], axis=-1)
    if self.num_outputs is None:
      return h_BxHxWxF
    return nn.Dense(self.num_outputs, **layers.precision(self))(h_BxHxWxF.mean(axis=(1, 2)))
