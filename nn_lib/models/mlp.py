"""The linear classifier f = Wx + b (notes 001/002) and the MLP (notes 004)."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from nn_lib.models import layers
from nn_lib.models.registry import register
from nn_lib.registry import ConfigError


@register("linear")
class Linear(nn.Module):
  """f(x) = W x + b over the flattened input: one score per output (notes 001
  "linear classifier", 002 "linear classifier viewpoints").

  Input x_Bx... (flattened per example); output B x num_outputs scores/logits.
  `init_std`, when set, draws W ~ N(0, init_std^2) instead of `kernel_init`: a
  large value starts a sigmoid output saturated (notes 003's MSE "paralysis").
  """

  num_outputs: int
  kernel_init: str = "lecun"
  init_std: float | None = None
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxD: jax.Array, *, train: bool = False) -> jax.Array:
    del train
    x_BxD = x_BxD.reshape(x_BxD.shape[0], -1)
    init = (layers.initializer(self.kernel_init) if self.init_std is None
            else nn.initializers.normal(self.init_std))
    return nn.Dense(self.num_outputs, kernel_init=init, **layers.precision(self))(x_BxD)


@register("mlp")
class MLP(nn.Module):
  """Deep network of notes 004: per hidden layer l,
  z[l] = W[l] a[l-1] (+ b[l]), [batch norm z -> z~], a[l] = g(z~), [inverted dropout];
  the output layer is linear (logits; the loss applies sigmoid/softmax).

  Sizes: `hidden` lists the widths; `depth` and `width`, when given, override it
  with `depth` layers of `width` units. With batch norm the bias b[l] is dropped
  (the notes: BN's mean subtraction cancels it; beta takes its role).
  `dropout` (a rate, 1 - keep_prob) and `batch_norm` apply to every hidden layer,
  or per layer when given as sequences, one entry per hidden layer (the notes:
  a lower keep_prob for the large layers, none where over-fitting is no worry).

  Input x_Bx... (flattened per example); output B x num_outputs.
  `dtype` / `param_dtype` (here and in every model of the zoo): the dtype of the
  activations and matrix products, and of the stored parameters (docs/models.md).
  """

  num_outputs: int
  hidden: Sequence[int] = (128,)
  activation: str = "relu"
  dropout: float | Sequence[float] = 0.0
  batch_norm: bool | Sequence[bool] = False
  kernel_init: str = "he"
  depth: int | None = None
  width: int | None = None
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def widths(self) -> tuple[int, ...]:
    if self.depth is None and self.width is None:
      return tuple(self.hidden)
    depth = len(self.hidden) if self.depth is None else self.depth
    width = (self.hidden[0] if self.hidden else 128) if self.width is None else self.width
    return (width,) * depth

  def per_layer(self, field: str) -> tuple:
    """`dropout` or `batch_norm`, one entry per hidden layer."""
    value, depth = getattr(self, field), len(self.widths())
    if not isinstance(value, (list, tuple)):
      return (value,) * depth
    if len(value) != depth:
      raise ConfigError(f"config.model.{field} lists {len(value)} values for {depth} "
                        f"hidden layers {self.widths()}: give one per hidden layer, or "
                        "one value for all")
    return tuple(value)

  @nn.compact
  def __call__(self, x_BxD: jax.Array, *, train: bool = False) -> jax.Array:
    act = layers.activation(self.activation)
    init_fn = layers.initializer(self.kernel_init)
    prec = layers.precision(self)
    h = x_BxD.reshape(x_BxD.shape[0], -1)
    for width, rate, norm in zip(self.widths(), self.per_layer("dropout"),
                                 self.per_layer("batch_norm")):
      h = nn.Dense(width, kernel_init=init_fn, use_bias=not norm, **prec)(h)
      if norm:
        h = layers.batch_norm(train, **prec)(h)
      h = act(h)
      h = layers.dropout(rate, train)(h)
    return nn.Dense(self.num_outputs, kernel_init=init_fn, **prec)(h)
