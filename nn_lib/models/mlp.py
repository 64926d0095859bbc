"""The linear classifier f = Wx + b (notes 001/002) and the MLP (notes 004), which
doubles as the coordinate network of a neural field (notes 000 "Neural Radiance
Fields") through its `num_freqs` positional encoding."""

from __future__ import annotations

import numbers
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.nerf import nerf_positional_encoding
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
    init = (
      layers.initializer(self.kernel_init)
      if self.init_std is None
      else nn.initializers.normal(self.init_std)
    )
    return nn.Dense(self.num_outputs, kernel_init=init, **layers.precision(self))(x_BxD)


@register("mlp")
class MLP(nn.Module):
  """Deep network of notes 004: per hidden layer l,
  z[l] = W[l] a[l-1] (+ b[l]), [batch norm z -> z~], a[l] = g(z~), [inverted dropout];
  the output layer is linear (logits; the loss applies sigmoid/softmax), unless
  `output_activation` names one (e.g. "sigmoid" for colours in (0, 1)).

  Sizes: `hidden` lists the widths; `depth` and `width`, when given, override it
  with `depth` layers of `width` units. With batch norm the bias b[l] is dropped
  (the notes: BN's mean subtraction cancels it; beta takes its role).
  `dropout` (a rate, 1 - keep_prob) and `batch_norm` apply to every hidden layer,
  or per layer when given as sequences, one entry per hidden layer (the notes:
  a lower keep_prob for the large layers, none where over-fitting is no worry).

  Coordinate network (notes 000 "Neural Radiance Fields"): `num_freqs` = L > 0
  feeds the layers gamma(x) = (x, sin(2^k pi x), cos(2^k pi x)) for k < L (NeRF's
  positional encoding, `nerf_positional_encoding`) instead of x. On raw
  coordinates an MLP is biased to low frequencies and blurs fine detail
  (Mildenhall et al. 2020, sec. 5.1); its top frequency sin(2^(L-1) pi x) has
  2^(L-1) periods across [-1, 1]. 0 (the default) = no encoding.

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
  num_freqs: int = 0
  output_activation: str = "identity"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def __post_init__(self) -> None:
    # Refused when the model is built (models.get), naming the key, rather than
    # as a shape error while the first step is traced.
    if (
      isinstance(self.num_freqs, bool)
      or not isinstance(self.num_freqs, numbers.Integral)
      or self.num_freqs < 0
    ):
      raise ConfigError(
        f"config.model.num_freqs={self.num_freqs!r} (model 'mlp') must "
        "be an integer >= 0: the number L of positional-encoding "
        "frequencies 2^0 pi ... 2^(L-1) pi (0 = no encoding)"
      )
    super().__post_init__()

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
      raise ConfigError(
        f"config.model.{field} lists {len(value)} values for {depth} "
        f"hidden layers {self.widths()}: give one per hidden layer, or "
        "one value for all"
      )
    return tuple(value)

  @nn.compact
  def __call__(self, x_BxD: jax.Array, *, train: bool = False) -> jax.Array:
    act = layers.activation(self.activation)
    init_fn = layers.initializer(self.kernel_init)
    prec = layers.precision(self)
    h = x_BxD.reshape(x_BxD.shape[0], -1)
    if self.num_freqs:
      # Encoded from the float32 inputs, then cast: sin(2^9 pi x) of a bfloat16 x
      # (3 significant digits) would be noise.
      h = nerf_positional_encoding(h.astype(jnp.float32), self.num_freqs).astype(prec["dtype"])
    for width, rate, norm in zip(
      self.widths(), self.per_layer("dropout"), self.per_layer("batch_norm")
    ):
      h = nn.Dense(width, kernel_init=init_fn, use_bias=not norm, **prec)(h)
      if norm:
        h = layers.batch_norm(train, **prec)(h)
      h = act(h)
      h = layers.dropout(rate, train)(h)
    out = nn.Dense(self.num_outputs, kernel_init=init_fn, **prec)(h)
    return layers.activation(self.output_activation)(out)
