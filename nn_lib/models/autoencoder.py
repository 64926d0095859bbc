"""Autoencoders (notes 000 "AutoEncoders: Dimensionality Compression", trained
with pixel MSE or BCE) and the U-Net (notes 004, segmentation). The decoders
upsample with transposed convolutions (notes 004 "Transpose convolution")."""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.registry import register


@register("mlp_autoencoder")
class MLPAutoencoder(nn.Module):
  """x -> dense encoder (`hidden`, activation) -> linear latent z (latent_dim)
  -> mirrored dense decoder -> x^ of the input's shape.

  The output is a logit by default (output_activation="identity", pair with a
  sigmoid BCE loss); use "sigmoid" for pixel MSE on [0, 1] images.
  `encode` / `decode` are also callable through `apply(..., method=...)`.

  Input x_Bx... with prod(input_shape) values per example; output the same shape.
  """

  input_shape: Sequence[int] = (28, 28)
  latent_dim: int = 32
  hidden: Sequence[int] = (256, 128)
  activation: str = "relu"
  output_activation: str = "identity"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def setup(self):
    prec = layers.precision(self)
    self.encoder = [nn.Dense(w, **prec) for w in self.hidden] + [nn.Dense(self.latent_dim, **prec)]
    self.decoder = [nn.Dense(w, **prec) for w in reversed(self.hidden)] + [
      nn.Dense(math.prod(self.input_shape), **prec)
    ]

  def encode(self, x_BxD: jax.Array) -> jax.Array:
    act = layers.activation(self.activation)
    h = x_BxD.reshape(x_BxD.shape[0], -1)
    for dense in self.encoder[:-1]:
      h = act(dense(h))
    return self.encoder[-1](h)

  def decode(self, z_BxZ: jax.Array) -> jax.Array:
    act = layers.activation(self.activation)
    h = z_BxZ
    for dense in self.decoder[:-1]:
      h = act(dense(h))
    h = layers.activation(self.output_activation)(self.decoder[-1](h))
    return h.reshape(h.shape[0], *self.input_shape)

  def __call__(self, x_Bx: jax.Array, *, train: bool = False) -> jax.Array:
    del train
    return self.decode(self.encode(x_Bx)).reshape(x_Bx.shape)


@register("conv_autoencoder")
class ConvAutoencoder(nn.Module):
  """Encoder: 3x3 stride-2 "same" convolutions (`widths`, ReLU), each halving H
  and W, then a dense latent z (latent_dim). Decoder: dense -> reshape ->
  3x3 stride-2 transposed convolutions doubling H and W back (ReLU), the last
  one to the image's channels, then output_activation (identity = logits).

  Input x_BxHxWxC (or B x H x W) matching image_shape, with H and W divisible
  by 2^len(widths); output the same shape.
  """

  image_shape: Sequence[int] = (28, 28, 1)
  widths: Sequence[int] = (32, 64)
  latent_dim: int = 32
  output_activation: str = "identity"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def setup(self):
    prec = layers.precision(self)
    h, w, _ = self.image_shape
    k = 2 ** len(self.widths)
    if h % k or w % k:
      raise ValueError(f"image_shape {tuple(self.image_shape)} not divisible by {k}")
    self.bottom_shape = (h // k, w // k, self.widths[-1])
    self.convs = [nn.Conv(c, (3, 3), (2, 2), padding="SAME", **prec) for c in self.widths]
    self.to_latent = nn.Dense(self.latent_dim, **prec)
    self.from_latent = nn.Dense(math.prod(self.bottom_shape), **prec)
    out_channels = list(reversed(self.widths[:-1])) + [self.image_shape[-1]]
    self.deconvs = [
      nn.ConvTranspose(c, (3, 3), (2, 2), padding="SAME", **prec) for c in out_channels
    ]

  def encode(self, x_BxHxWxC: jax.Array) -> jax.Array:
    h = layers.as_images(x_BxHxWxC)
    for conv in self.convs:
      h = nn.relu(conv(h))
    return self.to_latent(h.reshape(h.shape[0], -1))

  def decode(self, z_BxZ: jax.Array) -> jax.Array:
    h = nn.relu(self.from_latent(z_BxZ)).reshape(z_BxZ.shape[0], *self.bottom_shape)
    for deconv in self.deconvs[:-1]:
      h = nn.relu(deconv(h))
    return layers.activation(self.output_activation)(self.deconvs[-1](h))

  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    del train
    return self.decode(self.encode(x_BxHxWxC)).reshape(x_BxHxWxC.shape)


@register("unet")
class UNet(nn.Module):
  """U-Net (Ronneberger et al. 2015; notes 004 "U-Net"): a contracting path of
  `depth` levels, each two 3x3 "same" convs (BN, ReLU) then 2x2 max pooling,
  with width * 2^level channels; a bottleneck of width * 2^depth; an expanding
  path where a 2x2 stride-2 transposed conv doubles H, W, the encoder features
  of the same resolution are concatenated (the skip connections that mix deep,
  global features with local ones) and two 3x3 convs follow; a 1x1 conv
  predicts per-pixel class logits.

  Input x_BxHxWxC with H, W divisible by 2^depth; output B x H x W x num_outputs.
  """

  num_outputs: int = 2
  depth: int = 3
  width: int = 16
  batch_norm: bool = True
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def _double_conv(self, h: jax.Array, features: int, train: bool) -> jax.Array:
    prec = layers.precision(self)
    for _ in range(2):
      h = nn.Conv(
        features,
        (3, 3),
        padding="SAME",
        use_bias=not self.batch_norm,
        kernel_init=layers.initializer(self.kernel_init),
        **prec,
      )(h)
      if self.batch_norm:
        h = layers.batch_norm(train, **prec)(h)
      h = nn.relu(h)
    return h

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    h = layers.as_images(x_BxHxWxC)
    k = 2**self.depth
    if h.shape[1] % k or h.shape[2] % k:
      raise ValueError(f"U-Net of depth {self.depth} needs H, W divisible by {k}; got {h.shape}")
    skips = []
    for level in range(self.depth):
      h = self._double_conv(h, self.width * 2**level, train)
      skips.append(h)
      h = nn.max_pool(h, (2, 2), strides=(2, 2))
    h = self._double_conv(h, self.width * 2**self.depth, train)
    for level in reversed(range(self.depth)):
      h = nn.ConvTranspose(self.width * 2**level, (2, 2), (2, 2), **layers.precision(self))(h)
      h = jnp.concatenate([skips[level], h], axis=-1)
      h = self._double_conv(h, self.width * 2**level, train)
    return nn.Conv(self.num_outputs, (1, 1), **layers.precision(self))(h)
