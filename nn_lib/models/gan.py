"""DCGAN generator and discriminator (Radford et al. 2015; notes 000
"Generative Networks"), small enough for MNIST/CIFAR on a CPU."""

from __future__ import annotations

import flax.linen as nn
import jax

from nn_lib.models import layers
from nn_lib.models.registry import register


@register("dcgan_generator")
class DCGANGenerator(nn.Module):
  """G(z): latent noise -> image, with the DCGAN rules: no pooling, upsampling
  by 4x4 stride-2 transposed convolutions, batch norm on every layer but the
  output, ReLU inside and tanh at the output (images scaled to [-1, 1]).

  z -> dense to (s x s x width * 2^(n-1)) -> BN -> ReLU, s = image_size / 2^n,
  then n transposed convs halving the channels and doubling s; the last one
  outputs `channels`.

  Input z_BxZ (latent noise, Z = latent_dim; the caller samples it, e.g.
  N(0, I)); output B x image_size x image_size x channels in (-1, 1).
  """

  latent_dim: int = 64
  image_size: int = 28
  channels: int = 1
  width: int = 32
  num_upsamples: int = 2
  output_activation: str = "tanh"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, z_BxZ: jax.Array, *, train: bool = False) -> jax.Array:
    n = self.num_upsamples
    s = self.image_size // 2**n
    if s * 2**n != self.image_size:
      raise ValueError(f"image_size {self.image_size} is not divisible by 2^{n}")
    if z_BxZ.shape[-1] != self.latent_dim:
      raise ValueError(f"expected latent noise of size {self.latent_dim}, got {z_BxZ.shape}")
    prec = layers.precision(self)
    c = self.width * 2 ** (n - 1)
    h = nn.Dense(s * s * c, use_bias=False, **prec)(z_BxZ)
    h = nn.relu(layers.batch_norm(train, **prec)(h)).reshape(z_BxZ.shape[0], s, s, c)
    for _ in range(n - 1):
      c //= 2
      h = nn.ConvTranspose(c, (4, 4), (2, 2), padding="SAME", use_bias=False, **prec)(h)
      h = nn.relu(layers.batch_norm(train, **prec)(h))
    h = nn.ConvTranspose(self.channels, (4, 4), (2, 2), padding="SAME", **prec)(h)
    return layers.activation(self.output_activation)(h)


@register("dcgan_discriminator")
class DCGANDiscriminator(nn.Module):
  """D(x): image -> one real/fake logit. 4x4 stride-2 convolutions (width,
  2*width, ...) with LeakyReLU(0.2), batch norm on all but the first, then a
  dense layer to one logit (the loss applies the sigmoid).

  Input x_BxHxWxC (or B x H x W); output B x 1 logits.
  """

  width: int = 32
  num_downsamples: int = 2
  batch_norm: bool = True
  leak: float = 0.2
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    prec = layers.precision(self)
    h = layers.as_images(x_BxHxWxC)
    for i in range(self.num_downsamples):
      h = nn.Conv(
        self.width * 2**i,
        (4, 4),
        (2, 2),
        padding="SAME",
        use_bias=not (self.batch_norm and i > 0),
        **prec,
      )(h)
      if self.batch_norm and i > 0:
        h = layers.batch_norm(train, **prec)(h)
      h = nn.leaky_relu(h, self.leak)
    return nn.Dense(1, **prec)(h.reshape(h.shape[0], -1))
