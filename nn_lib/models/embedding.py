"""Embedding network for metric learning (notes 004 "Face verification",
"Triplet Loss": ||f(a) - f(p)||^2 < ||f(a) - f(n)||^2)."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.detection import ConvTrunk
from nn_lib.models.registry import register


@register("embedding_net")
class EmbeddingNet(nn.Module):
  """f(x) = e / ||e||_2 with e = dense(trunk(x)): embeddings on the unit sphere,
  so squared distances lie in [0, 4] and a triplet / contrastive margin has a
  fixed scale. Images (B x H x W [x C]) go through a conv trunk (`widths`;
  empty = none) then dense `hidden` layers; vectors B x D through the dense
  layers only.

  Input x_BxHxWxC or x_BxD; output B x embed_dim with unit L2 norm.
  """

  embed_dim: int = 64
  widths: Sequence[int] = (32, 64)
  hidden: Sequence[int] = (256,)
  kernel_init: str = "he"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    h = x_BxHxWxC
    if h.ndim >= 3 and self.widths:
      h = ConvTrunk(self.widths, kernel_init=self.kernel_init, name="trunk")(h, train)
    h = h.reshape(h.shape[0], -1)
    for width in self.hidden:
      h = nn.relu(nn.Dense(width, kernel_init=layers.initializer(self.kernel_init))(h))
    e_BxE = nn.Dense(self.embed_dim)(h)
    return e_BxE * jax.lax.rsqrt(jnp.sum(e_BxE * e_BxE, axis=-1, keepdims=True) + 1e-12)
