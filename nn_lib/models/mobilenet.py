"""MobileNet v1 (Howard et al. 2017; notes 004 "MobileNet"): depthwise-separable
convolutions for cheap deployment."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from nn_lib.models import layers
from nn_lib.models.registry import register


class DepthwiseSeparableConv(nn.Module):
  """Depthwise f x f convolution (one filter per input channel, nn.Conv with
  feature_group_count = n_c) -> BN -> ReLU, then pointwise 1x1 convolution to
  `features` channels -> BN -> ReLU. Multiplications per output position:
  f^2 n_c + n_c n_c' instead of f^2 n_c n_c', a ratio of 1/n_c' + 1/f^2
  (see layers.depthwise_separable_cost)."""

  features: int
  strides: int = 1
  kernel_size: int = 3
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
    init_fn = layers.initializer(self.kernel_init)
    prec = layers.precision(self)
    n_c = x_BxHxWxC.shape[-1]
    k = (self.kernel_size, self.kernel_size)
    h = nn.Conv(
      n_c,
      k,
      (self.strides, self.strides),
      padding="SAME",
      feature_group_count=n_c,
      use_bias=False,
      kernel_init=init_fn,
      name="depthwise",
      **prec,
    )(x_BxHxWxC)
    h = nn.relu(layers.batch_norm(train, name="depthwise_bn", **prec)(h))
    h = nn.Conv(
      self.features, (1, 1), use_bias=False, kernel_init=init_fn, name="pointwise", **prec
    )(h)
    return nn.relu(layers.batch_norm(train, name="pointwise_bn", **prec)(h))


# (output channels, stride) of the 13 depthwise-separable layers of MobileNet v1.
V1_BLOCKS: tuple[tuple[int, int], ...] = (
  (64, 1),
  (128, 2),
  (128, 1),
  (256, 2),
  (256, 1),
  (512, 2),
  (512, 1),
  (512, 1),
  (512, 1),
  (512, 1),
  (512, 1),
  (1024, 2),
  (1024, 1),
)


@register("mobilenet")
class MobileNet(nn.Module):
  """MobileNet v1: 3x3 conv (32 filters, stride `stem_stride`) -> BN -> ReLU ->
  13 depthwise-separable blocks (V1_BLOCKS) -> global average pooling ->
  dropout -> dense classifier. `width_multiplier` (alpha) scales every layer's
  channels. For 32x32 CIFAR inputs use stem_stride=1 (the default); ImageNet
  uses 2.

  Input x_BxHxWxC; output B x num_outputs logits.
  """

  num_outputs: int = 10
  width_multiplier: float = 1.0
  blocks: Sequence[Sequence[int]] = V1_BLOCKS
  stem_stride: int = 1
  dropout: float = 0.0
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def _width(self, c: int) -> int:
    return max(8, int(round(c * self.width_multiplier)))

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    prec = layers.precision(self)
    h = layers.as_images(x_BxHxWxC)
    s = (self.stem_stride, self.stem_stride)
    h = nn.Conv(
      self._width(32),
      (3, 3),
      s,
      padding="SAME",
      use_bias=False,
      kernel_init=layers.initializer(self.kernel_init),
      **prec,
    )(h)
    h = nn.relu(layers.batch_norm(train, **prec)(h))
    for i, (features, strides) in enumerate(self.blocks):
      h = DepthwiseSeparableConv(
        self._width(features),
        strides,
        kernel_init=self.kernel_init,
        dtype=self.dtype,
        param_dtype=self.param_dtype,
        name=f"dwsep{i + 1}",
      )(h, train)
    h = layers.dropout(self.dropout, train)(h.mean(axis=(1, 2)))
    return nn.Dense(self.num_outputs, **prec)(h)
