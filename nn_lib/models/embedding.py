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
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    prec = layers.precision(self)
    h = x_BxHxWxC
    if h.ndim >= 3 and self.widths:
      h = ConvTrunk(self.widths, kernel_init=self.kernel_init, name="trunk", **prec)(h, train)
    h = h.reshape(h.shape[0], -1)
    for width in self.hidden:
      h = nn.relu(nn.Dense(width, kernel_init=layers.initializer(self.kernel_init), **prec)(h))
    e_BxE = nn.Dense(self.embed_dim, **prec)(h)
    # The norm is taken in float32 (like a layer norm's statistics): a bf16 sum of
    # squares keeps 3 digits, and distances between unit vectors are differences
    # of nearby numbers. The result is then rounded to `dtype` like every output.
    e_BxE32 = e_BxE.astype(jnp.float32)
    norm_Bx1 = jax.lax.rsqrt(jnp.sum(e_BxE32 * e_BxE32, axis=-1, keepdims=True) + 1e-12)
    return (e_BxE32 * norm_Bx1).astype(e_BxE.dtype)
