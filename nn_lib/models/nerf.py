"""Neural radiance fields (Mildenhall et al. 2020; notes 000 "Neural Radiance
Fields": the network *is* the 3-D model of an object): the NeRF MLP with its
positional encoding, and volume rendering of densities and colours along rays."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.registry import register


def nerf_positional_encoding(
  p_NxD: jax.Array, num_freqs: int, include_input: bool = True
) -> jax.Array:
  """gamma(p) = (p, sin(2^0 pi p), cos(2^0 pi p), ..., sin(2^(L-1) pi p),
  cos(2^(L-1) pi p)), applied to each coordinate; L = num_freqs. Output last
  axis: D * (include_input + 2 L), laid out [p, sin(f_0 p), cos(f_0 p), sin(f_1 p), ...]
  with each block D wide. Works on any leading axes."""
  freqs_L = (2.0 ** jnp.arange(num_freqs)) * jnp.pi
  angles = p_NxD[..., None, :] * freqs_L[:, None]  # ... x L x D
  enc = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)  # ... x L x 2D
  enc = enc.reshape(*p_NxD.shape[:-1], -1)
  return jnp.concatenate([p_NxD, enc], axis=-1) if include_input else enc


@register("nerf_mlp")
class NeRFMLP(nn.Module):
  """F(x, d) -> (sigma, c): gamma(x) through `depth` ReLU layers of `width`,
  gamma(x) concatenated again to the input of each layer listed in `skips`;
  density sigma = density_activation(dense_1) depends on position only; the
  colour c = sigmoid(dense_3(ReLU(dense_{width/2}([features, gamma(d)])))) also
  sees the viewing direction (without view directions: sigmoid(dense_3(h))).

  Input, packed in one array: points_...x6 = [x, y, z, dx, dy, dz] (unit
  direction of the ray), or ...x3 = [x, y, z] when use_viewdirs=False; any
  leading axes (e.g. rays x samples). Output ...x4 = [sigma, r, g, b] with
  sigma >= 0 and colours in (0, 1), ready for `volume_render`.
  """

  depth: int = 8
  width: int = 256
  skips: Sequence[int] = (4,)
  pos_freqs: int = 10
  dir_freqs: int = 4
  use_viewdirs: bool = True
  density_activation: str = "relu"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_Nx6: jax.Array, *, train: bool = False) -> jax.Array:
    del train
    expected = 6 if self.use_viewdirs else 3
    if x_Nx6.shape[-1] != expected:
      raise ValueError(f"nerf_mlp expects ...x{expected} inputs, got {x_Nx6.shape}")
    prec = layers.precision(self)
    # The encodings are computed from the float32 input and only then rounded to
    # `dtype`: sin(2^9 pi x) of a bf16 x (3 significant digits) would be noise.
    gamma_x = nerf_positional_encoding(x_Nx6[..., :3], self.pos_freqs).astype(prec["dtype"])
    h = gamma_x
    for i in range(self.depth):
      if i in self.skips:
        h = jnp.concatenate([gamma_x, h], axis=-1)
      h = nn.relu(nn.Dense(self.width, name=f"layer{i}", **prec)(h))
    sigma = layers.activation(self.density_activation)(nn.Dense(1, name="sigma", **prec)(h))
    if self.use_viewdirs:
      gamma_d = nerf_positional_encoding(x_Nx6[..., 3:], self.dir_freqs).astype(prec["dtype"])
      feat = nn.Dense(self.width, name="features", **prec)(h)
      h = nn.relu(
        nn.Dense(self.width // 2, name="view", **prec)(jnp.concatenate([feat, gamma_d], -1))
      )
    rgb = nn.sigmoid(nn.Dense(3, name="rgb", **prec)(h))
    return jnp.concatenate([sigma, rgb], axis=-1)


class Rendered(NamedTuple):
  rgb: jax.Array  # ... x 3, expected colour of the ray
  depth: jax.Array  # ..., expected distance sum_i w_i t_i
  weights: jax.Array  # ... x N, w_i = T_i alpha_i
  opacity: jax.Array  # ..., sum_i w_i (1 - transmittance to the background)


def _at_least_float32(a: jax.Array) -> jax.Array:
  a = jnp.asarray(a)
  return a.astype(jnp.promote_types(a.dtype, jnp.float32))


def volume_render(
  sigma_BxN: jax.Array,
  rgb_BxNx3: jax.Array,
  t_BxN: jax.Array,
  background: float | jax.Array = 0.0,
  far_delta: float = 1e10,
) -> Rendered:
  """Quadrature of the volume rendering integral along each ray (NeRF eq. 3):

      delta_i = t_{i+1} - t_i   (the last sample's delta is far_delta: opaque far end)
      alpha_i = 1 - exp(-sigma_i delta_i)
      T_i     = prod_{j<i} (1 - alpha_j) = exp(-sum_{j<i} sigma_j delta_j)
      w_i     = T_i alpha_i
      C       = sum_i w_i c_i + (1 - sum_i w_i) * background
      depth   = sum_i w_i t_i

  sigma_BxN: densities (>= 0) at sample distances t_BxN (increasing along the
  ray, in the units of the ray length); rgb_BxNx3: colours; background: scalar
  or 3-vector colour seen through empty space. Any leading axes.

  Always computed in (at least) float32, even from a bfloat16 model's outputs:
  the transmittance is exp of a running sum of optical depths, which bf16 would
  accumulate with 3 significant digits, and the weights must sum to <= 1.
  """
  sigma_BxN, rgb_BxNx3, t_BxN = map(_at_least_float32, (sigma_BxN, rgb_BxNx3, t_BxN))
  delta = jnp.diff(t_BxN, axis=-1)
  delta = jnp.concatenate([delta, jnp.full_like(t_BxN[..., :1], far_delta)], axis=-1)
  tau = sigma_BxN * delta  # optical thickness of each segment
  alpha = 1.0 - jnp.exp(-tau)
  # Exclusive cumulative sum (optical depth before sample i), built by shifting
  # rather than as cumsum - tau, which would cancel catastrophically next to
  # the huge last segment.
  before = jnp.cumsum(tau[..., :-1], axis=-1)
  before = jnp.concatenate([jnp.zeros_like(tau[..., :1]), before], axis=-1)
  transmittance = jnp.exp(-before)
  weights = transmittance * alpha
  opacity = weights.sum(axis=-1)
  background = jnp.broadcast_to(jnp.asarray(background, rgb_BxNx3.dtype), (3,))
  rgb = (weights[..., None] * rgb_BxNx3).sum(axis=-2) + (1.0 - opacity)[..., None] * background
  return Rendered(rgb=rgb, depth=(weights * t_BxN).sum(axis=-1), weights=weights, opacity=opacity)
