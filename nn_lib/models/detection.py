"""Object detectors: single-object localisation (notes 000 "Detection: One
Object", notes 004 "Classification with localization") and a YOLO-style grid
detector (notes 004 "YOLO"). Heads output raw numbers; the losses apply the
sigmoids (BCE with logits) and compare log sizes."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from nn_lib import decoding
from nn_lib.models import layers
from nn_lib.models.registry import register


class ConvTrunk(nn.Module):
  """Stages of 3x3 "same" conv -> BN -> activation -> 2x2 max pool; each halves
  H and W. Shared by the detectors and the embedding net."""

  widths: Sequence[int] = (16, 32, 64)
  activation: str = "relu"
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, train: bool) -> jax.Array:
    act = layers.activation(self.activation)
    prec = layers.precision(self)
    h = layers.as_images(x_BxHxWxC)
    for width in self.widths:
      h = nn.Conv(
        width,
        (3, 3),
        padding="SAME",
        use_bias=False,
        kernel_init=layers.initializer(self.kernel_init),
        **prec,
      )(h)
      h = act(layers.batch_norm(train, **prec)(h))
      h = nn.max_pool(h, (2, 2), strides=(2, 2))
    return h


@register("single_object_detector")
class SingleObjectDetector(nn.Module):
  """CNN trunk -> flatten (keeps the spatial layout the box needs) -> dense
  (hidden, ReLU) -> 5 + num_classes outputs:

      [p, x, y, log w, log h, class_1 .. class_C]

  p, x, y are logits (notes 000: BCE(p, I), I * BCE(x, x^), I * BCE(y, y^), with
  x, y the box centre as a fraction of the image); log w, log h are compared by
  MSE to the log of the true size (I * MSE(log w, log w^)). With num_classes > 0
  the class logits of notes 004's "classification with localization" follow.

  Input x_BxHxWxC with H, W divisible by 2^len(widths); output B x (5 + C).
  """

  num_classes: int = 0
  widths: Sequence[int] = (16, 32, 64)
  hidden: int = 128
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    prec = layers.precision(self)
    h = ConvTrunk(self.widths, kernel_init=self.kernel_init, name="trunk", **prec)(x_BxHxWxC, train)
    h = nn.relu(nn.Dense(self.hidden, **prec)(h.reshape(h.shape[0], -1)))
    return nn.Dense(5 + self.num_classes, name="head", **prec)(h)


@register("grid_detector")
class GridDetector(nn.Module):
  """YOLO-style detector: CNN trunk (LeakyReLU 0.1) down to an S x S grid (extra
  average pooling if the trunk's map is a multiple of S), 3x3 conv, then a 1x1
  conv predicting for every cell B boxes and C class scores, S x S x (5B + C).

  Per cell the channels are [x, y, w, h, confidence] for box 1, ..., box B, then
  the C class logits; all raw (x, y: offsets in the cell before a sigmoid;
  w, h: log sizes relative to the image; confidence and classes: logits).
  `nn_lib.decoding.activate_grid_outputs` turns them into the layout that
  `losses.yolo_loss` and `nn_lib.decoding.decode` read (sigmoid offsets and
  confidence, square-root sizes, softmax class probabilities); with
  `activate_outputs=True` the model applies it itself, so its outputs go to
  `yolo_loss` and `decode` as they are (a config names the loss, not a transform).

  Input x_BxHxWxC with H = W = S * 2^len(widths) * k; output
  B x S x S x (5 * boxes_per_cell + num_classes).
  """

  grid_size: int = 4
  boxes_per_cell: int = 2
  num_classes: int = 3
  widths: Sequence[int] = (16, 32, 64, 128)
  head_width: int = 128
  activate_outputs: bool = False
  kernel_init: str = "he"
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    prec = layers.precision(self)
    h = ConvTrunk(self.widths, "leaky_relu(0.1)", self.kernel_init, name="trunk", **prec)(
      x_BxHxWxC, train
    )
    s = self.grid_size
    if h.shape[1] % s or h.shape[2] % s:
      raise ValueError(f"trunk output {h.shape[1:3]} cannot be pooled to a {s}x{s} grid")
    k = (h.shape[1] // s, h.shape[2] // s)
    if k != (1, 1):
      h = nn.avg_pool(h, k, strides=k)
    h = nn.Conv(self.head_width, (3, 3), padding="SAME", **prec)(h)
    h = nn.leaky_relu(h, 0.1)
    raw = nn.Conv(5 * self.boxes_per_cell + self.num_classes, (1, 1), name="head", **prec)(h)
    if not self.activate_outputs:
      return raw
    return decoding.activate_grid_outputs(
      raw, num_boxes=self.boxes_per_cell, num_classes=self.num_classes
    )
