"""Polynomial regression (notes 001, under- and over-fitting by polynomial order)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.registry import register


def legendre_features(x_B: jax.Array, order: int) -> jax.Array:
  """B x order matrix [P_1(x), ..., P_order(x)] of Legendre polynomials, by
  Bonnet's recursion (n + 1) P_{n+1} = (2n + 1) x P_n - n P_{n-1}, P_0 = 1, P_1 = x.

  They span the same space as the monomials x, ..., x^order (with the bias for
  P_0), so the fitted polynomial is the same; but they are orthogonal on [-1, 1],
  which keeps least squares well conditioned (order-12 monomials of 15 evenly
  spaced points have condition number 5e4; these 29), so gradient descent
  reaches the least-squares fit in a few thousand steps.
  """
  prev, cur = jnp.ones_like(x_B), x_B
  feats = [cur]
  for n in range(1, order):
    prev, cur = cur, ((2 * n + 1) * x_B * cur - n * prev) / (n + 1)
    feats.append(cur)
  return jnp.stack(feats, axis=-1)


@register("polynomial")
class Polynomial(nn.Module):
  """y^ = b + sum_{k=1}^{order} w_k P_k(x): a linear model on polynomial features of
  a scalar input x in [-1, 1] (Legendre basis; the same functions as powers of x).

  Input x_Bx1, output B x 1.
  """

  order: int
  kernel_init: str = "zeros"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_Bx1: jax.Array, *, train: bool = False) -> jax.Array:
    del train
    if x_Bx1.ndim != 2 or x_Bx1.shape[1] != 1:
      raise ValueError(f"polynomial takes B x 1 scalar inputs, got {x_Bx1.shape}")
    if self.order < 1:
      raise ValueError(f"order must be >= 1, got {self.order}")
    # The recursion runs in the input's float32 even with a bfloat16 `dtype`: each
    # step reuses the last two, so bf16 rounding would compound over `order` steps.
    feats_BxK = legendre_features(x_Bx1[:, 0], self.order)
    return nn.Dense(1, kernel_init=layers.initializer(self.kernel_init), **layers.precision(self))(
      feats_BxK
    )
