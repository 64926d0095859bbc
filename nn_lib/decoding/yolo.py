"""YOLO (Redmon et al. 2016) grid targets and decoding (notes 004 "Object detection",
"YOLO": "each grid cell predicts B bounding boxes and C classification scores ...
final prediction S x S x (5B + C)").

Conventions (image of size 1 x 1, x to the right, y down; an S x S grid, or
S_r rows x S_c columns, for which read S_c in x and S_r in y below):

  * cell (row, column) = (floor(y S), floor(x S)) for a box centred at (x, y):
    row follows y, column follows x; a centre on the right or bottom edge
    (x or y = 1) belongs to the last cell;
  * in a cell, x, y are the centre's offset from the cell's top-left corner in cell
    units, in [0, 1) (1 only on the image's right/bottom edge):
    x_cell = x S - column, y_cell = y S - row;
  * w, h are the box's size as a fraction of the image.

Targets, S x S x (5 + C) per image: [has_object, x_cell, y_cell, w, h, one-hot class].

Predictions, S x S x (5B + C): per cell B boxes [x_cell, y_cell, sqrt_w, sqrt_h,
confidence] then C class probabilities. The sizes are predicted as square roots
(the YOLO loss compares sqrt w, sqrt h, so an error costs more on a small box);
`decode` squares them. This is the layout `losses.yolo_loss` trains (YOLO v1 regresses
every number directly, the class scores onto the one-hot class), so a network trained
with it is decoded as is. A head whose outputs are logits and log sizes instead
(GridDetector's documented outputs) goes through `activate_grid_outputs` first.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from nn_lib.metrics.detection import box_iou


def _positive_int(value, name: str, fn: str) -> None:
  if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
    raise ValueError(f"{fn}: {name} must be a positive Python int (it is a shape); got {value!r}")


def _concrete(x: jax.Array) -> bool:
  return not isinstance(x, jax.core.Tracer)


def _grid(grid_size: int | tuple[int, int], fn: str) -> tuple[int, int]:
  """grid_size S or (S_r, S_c) -> (rows, columns)."""
  sizes = tuple(grid_size) if isinstance(grid_size, (tuple, list)) else (grid_size,) * 2
  if len(sizes) != 2:
    raise ValueError(f"{fn}: grid_size must be S or (rows, columns); got {grid_size!r}")
  for size in sizes:
    _positive_int(size, "grid_size", fn)
  return sizes


def assign_targets(
  boxes_Kx4: jax.Array,
  classes_K: jax.Array,
  valid_K: jax.Array | None = None,
  *,
  grid_size: int | tuple[int, int],
  num_classes: int,
) -> jax.Array:
  """One image's K ground-truth objects -> the YOLO target grid S x S x (5 + C)
  (S_r x S_c x (5 + C) for grid_size = (S_r, S_c)).

  The object goes to the cell that holds its box centre (row = floor(y S),
  column = floor(x S)); that cell gets

      [1, x S - column, y S - row, w, h, one_hot(class, C)]

  and every other cell is all zeros. Objects with valid False, and objects whose
  centre lies outside the image [0, 1]^2, are ignored.

  Two objects in one cell: a cell describes one object, so the one of larger area
  w h wins; of equal areas, the earlier one (lower index) wins. The other is not
  in the targets (YOLO v1's limit: one object per cell).

  Jittable and vmappable (K is fixed; padding is marked by valid_K, and its boxes
  and classes are ignored). A valid object's class outside [0, C) gives an
  all-zero one-hot under jit (a ValueError when the classes are concrete).
  """
  fn = "assign_targets"
  s_r, s_c = _grid(grid_size, fn)
  _positive_int(num_classes, "num_classes", fn)
  boxes_Kx4 = jnp.asarray(boxes_Kx4, jnp.float32)
  classes_K = jnp.asarray(classes_K)
  k = boxes_Kx4.shape[0] if boxes_Kx4.ndim == 2 else None
  if boxes_Kx4.ndim != 2 or boxes_Kx4.shape[1] != 4 or classes_K.shape != (k,):
    raise ValueError(
      f"{fn}: needs boxes K x 4 (x, y, w, h) and classes K for one image; "
      f"got {boxes_Kx4.shape} and {classes_K.shape} (for a batch, "
      f"jax.vmap the function)"
    )
  if valid_K is not None and jnp.shape(valid_K) != (k,):
    raise ValueError(
      f"{fn}: valid must have shape ({k},) like the classes; got {jnp.shape(valid_K)}"
    )
  if _concrete(classes_K) and (valid_K is None or _concrete(valid_K)):
    # Padding may carry any class (e.g. nms's -1): check the real objects only.
    host = np.asarray(classes_K)
    host = host if valid_K is None else host[np.asarray(valid_K, bool)]
    if host.size and (host.min() < 0 or host.max() >= num_classes):
      raise ValueError(
        f"{fn}: classes of valid objects must be in [0, {num_classes}); "
        f"got {host.tolist()} (num_classes too small?)"
      )
  x, y = boxes_Kx4[:, 0], boxes_Kx4[:, 1]
  valid = jnp.ones((k,), bool) if valid_K is None else jnp.asarray(valid_K, bool)
  valid = valid & (x >= 0) & (x <= 1) & (y >= 0) & (y <= 1)
  col = jnp.clip(jnp.floor(x * s_c), 0, s_c - 1).astype(jnp.int32)
  row = jnp.clip(jnp.floor(y * s_r), 0, s_r - 1).astype(jnp.int32)
  cell_K = row * s_c + col

  # Scatter with repeated indices has no defined winner, so decide the winners
  # first: object j beats object i in a shared cell if larger, or as large and earlier.
  area = boxes_Kx4[:, 2] * boxes_Kx4[:, 3]
  idx = jnp.arange(k)
  beats_KxK = (area[None, :] > area[:, None]) | (
    (area[None, :] == area[:, None]) & (idx[None, :] < idx[:, None])
  )
  same_cell = (cell_K[:, None] == cell_K[None, :]) & valid[None, :]
  winner_K = valid & ~jnp.any(same_cell & beats_KxK, axis=1)

  rows_Kx5C = jnp.concatenate(
    [
      jnp.ones((k, 1)),
      (x * s_c - col)[:, None],
      (y * s_r - row)[:, None],
      boxes_Kx4[:, 2:],
      jax.nn.one_hot(classes_K, num_classes),
    ],
    axis=1,
  )
  # Losers go to a spare last row, cut off after. Not an out-of-range index with
  # mode="drop": XLA's deterministic GPU scatter (--xla_gpu_deterministic_ops)
  # does not drop those reliably.
  target = jnp.zeros((s_r * s_c + 1, 5 + num_classes), jnp.float32)
  target = target.at[jnp.where(winner_K, cell_K, s_r * s_c)].set(rows_Kx5C)
  return target[:-1].reshape(s_r, s_c, 5 + num_classes)


def _check_predictions(predictions: jax.Array, num_boxes: int, num_classes: int, fn: str) -> None:
  _positive_int(num_boxes, "num_boxes", fn)
  _positive_int(num_classes, "num_classes", fn)
  want = 5 * num_boxes + num_classes
  if predictions.ndim < 3 or predictions.shape[-1] != want:
    raise ValueError(
      f"{fn}: needs predictions ... x S x S x (5B + C) = ... x S x S x "
      f"{want} (B = {num_boxes} boxes, C = {num_classes} classes); got "
      f"{predictions.shape}: check num_boxes and num_classes against "
      f"the model's head"
    )


def decode(
  predictions_SxSxP: jax.Array, *, num_boxes: int, num_classes: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """YOLO predictions ... x S x S x (5B + C) -> every box of every cell:
  (boxes_...x(S S B)x4 in image fractions, scores_...x(S S B), classes_...x(S S B)).

  Box b of cell (row, column), [x_c, y_c, sqrt_w, sqrt_h, conf] at channels
  5b .. 5b + 4, becomes

      ((column + x_c) / S, (row + y_c) / S, sqrt_w^2, sqrt_h^2)

  (column / S_c and row / S_r on an S_r x S_c grid),
  with class = argmax_c p_c over the cell's class probabilities (channels 5B ..;
  or the scores `losses.yolo_loss` regresses onto the one-hot class)
  and score = conf * max_c p_c, YOLO's class-specific confidence
  Pr(class | object) Pr(object) for the box's best class. Boxes are ordered
  row-major by (row, column, b): index (row S_c + column) B + b.

  Leading axes (a batch) are kept. Feed the result to `nms` (per image) after
  e.g. a score threshold. The inverse of `assign_targets` for a perfect prediction.
  """
  p = jnp.asarray(predictions_SxSxP, jnp.float32)
  _check_predictions(p, num_boxes, num_classes, "decode")
  s_r, s_c, b, lead = p.shape[-3], p.shape[-2], num_boxes, p.shape[:-3]
  boxes = p[..., : 5 * b].reshape(*lead, s_r, s_c, b, 5)
  probs = p[..., 5 * b :]
  x = (jnp.arange(s_c, dtype=jnp.float32)[:, None] + boxes[..., 0]) / s_c
  y = (jnp.arange(s_r, dtype=jnp.float32)[:, None, None] + boxes[..., 1]) / s_r
  out_boxes = jnp.stack([x, y, boxes[..., 2] ** 2, boxes[..., 3] ** 2], axis=-1)
  best = jnp.argmax(probs, axis=-1).astype(jnp.int32)
  scores = boxes[..., 4] * jnp.max(probs, axis=-1)[..., None]
  classes = jnp.broadcast_to(best[..., None], scores.shape)
  n = s_r * s_c * b
  return (out_boxes.reshape(*lead, n, 4), scores.reshape(*lead, n), classes.reshape(*lead, n))


def activate_grid_outputs(raw_SxSxP: ArrayLike, *, num_boxes: int, num_classes: int) -> jax.Array:
  """`nn_lib.models.detection.GridDetector`'s raw outputs -> the prediction layout
  that `decode` reads. GridDetector emits per box [x, y, log w, log h, confidence]
  as raw numbers (offset logits, log sizes, confidence logit) and C class logits;
  this returns [sigma(x), sigma(y), exp(log w / 2) = sqrt w, exp(log h / 2),
  sigma(confidence)] per box and softmax(class logits). Same shape."""
  r = jnp.asarray(raw_SxSxP, jnp.float32)
  _check_predictions(r, num_boxes, num_classes, "activate_grid_outputs")
  lead, b = r.shape[:-1], num_boxes
  boxes = r[..., : 5 * b].reshape(*lead, b, 5)
  boxes = jnp.concatenate(
    [jax.nn.sigmoid(boxes[..., :2]), jnp.exp(boxes[..., 2:4] / 2), jax.nn.sigmoid(boxes[..., 4:])],
    axis=-1,
  )
  return jnp.concatenate(
    [boxes.reshape(*lead, 5 * b), jax.nn.softmax(r[..., 5 * b :], axis=-1)], axis=-1
  )


def responsible_box(pred_boxes_SxSxBx4: jax.Array, target_boxes_SxSx4: jax.Array) -> jax.Array:
  """One-hot ... x S x S x B: in every cell, the predicted box of highest IoU with
  the cell's true box is "responsible" for it (the one the YOLO loss trains on
  the coordinates and the confidence). Ties (e.g. all IoUs 0) go to the lowest b.

  Both inputs are in the cell layout: (x_cell, y_cell, w, h), offsets in cell units
  and sizes as image fractions (square predicted sqrt sizes first). Within one cell
  shifting both boxes by the cell's corner does not change the IoU, so it is
  computed on (x_cell / S_c, y_cell / S_r, w, h). No gradient flows through the
  choice. The same rule as the responsible box of `losses.yolo_loss`.
  """
  pred = jnp.asarray(pred_boxes_SxSxBx4, jnp.float32)
  target = jnp.asarray(target_boxes_SxSx4, jnp.float32)
  if pred.ndim < 4 or pred.shape[-1] != 4 or target.shape != pred.shape[:-2] + (4,):
    raise ValueError(
      f"responsible_box: needs predicted boxes ... x S x S x B x 4 and "
      f"true boxes ... x S x S x 4; got {pred.shape} and {target.shape}"
    )
  s_r, s_c = pred.shape[-4], pred.shape[-3]
  scale = jnp.array([1 / s_c, 1 / s_r, 1.0, 1.0], jnp.float32)
  pred, target = pred * scale, (target * scale)[..., None, :]
  iou = box_iou(*jnp.broadcast_arrays(pred, target))
  return jax.nn.one_hot(jnp.argmax(iou, axis=-1), pred.shape[-2])
