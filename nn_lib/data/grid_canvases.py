"""Multi-object detection canvases for a YOLO grid detector (notes 004 "Object
detection", "YOLO": "each grid cell predicts B bounding boxes and C classification
scores ... final prediction S x S x (5B + C)").

  mnist_grid_detect  64x64 canvases holding 1-4 mnist10k digits of the classes
                     0, 2 and 4 at random positions and scales, never overlapping;
                     target = the YOLO target grid S x S x (5 + C) of
                     `nn_lib.decoding.assign_targets` (S = 4, C = 3).

Why 0, 2 and 4: they are rarely confused with one another (MNIST's usual confusions
are 4-9, 3-5, 7-9, 2-7, 5-8), and their ink boxes are roughly square. Upright 1s
give slivers (a tenth of them 4-7 px wide at these sizes), whose IoU with a box
2 px off in x is 0.5 or less (4 px wide: 2/6): mAP@0.5 would hinge on pixel-exact
localisation of the 1s rather than on detection.

Every object's centre lies in a cell of its own (`assign_targets` keeps one object
per cell, YOLO v1's limit), so the target grid holds every digit drawn and
`ground_truth` recovers all of them. Train canvases use only mnist10k's train digits
and test canvases only its test digits; everything is drawn from fixed seeds.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from nn_lib import decoding
from nn_lib.data import builders
from nn_lib.data.canvases import ink_crops, mnist10k_splits

DIGITS = (0, 2, 4)  # class k of the detector is the digit DIGITS[k]
SIZE = 64  # canvas side, pixels
GRID = 4  # S: a 64x64 canvas is 4 x 4 cells of 16 px
MAX_OBJECTS = 4


def grid_detection_canvases(
  images_Nx28x28: np.ndarray,
  labels_N: np.ndarray,
  n: int,
  seed: int,
  *,
  digits: tuple[int, ...] = DIGITS,
  size: int = SIZE,
  grid_size: int = GRID,
  max_objects: int = MAX_OBJECTS,
  min_side: int = 16,
  max_side: int = 28,
  tries: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """`n` size x size canvases, each with k ~ U{1..max_objects} digits whose classes
  are drawn uniformly (with repetition) from `digits`. Each digit is cut to its ink,
  resized (bilinear, aspect kept) so its longer side is ~ U{min_side..max_side} px,
  and placed uniformly at random fully inside the canvas, where its box overlaps no
  earlier box (1 px apart at least) and its centre falls in a grid cell of its own
  (row floor(y S), column floor(x S)). A digit with no such place after `tries`
  draws is left out (on mnist_grid_detect's train split, 7% of the canvases hold one
  digit fewer than drawn, mostly of the 4-digit ones: 18% hold 4, 30% hold 3).

  Returns canvases_NxSIZExSIZE (uint8), boxes_NxKx4 (x, y, w, h as fractions of
  the canvas side, float32), classes_NxK (index into `digits`, -1 for padding) and
  valid_NxK (bool), K = max_objects.
  """
  if not 0 < min_side <= max_side <= size:
    raise ValueError(f"need 0 < min_side={min_side} <= max_side={max_side} <= size={size}")
  if not 1 <= max_objects <= grid_size * grid_size:
    raise ValueError(
      f"max_objects={max_objects} must be in 1..{grid_size**2} (one "
      f"object per cell of the {grid_size}x{grid_size} grid)"
    )
  by_class = [np.flatnonzero(labels_N == d) for d in digits]
  missing = [d for d, rows in zip(digits, by_class) if not rows.size]
  if missing:
    raise ValueError(f"grid_detection_canvases needs images of every digit; none of {missing}")
  rng = np.random.default_rng(seed)
  crops = ink_crops(images_Nx28x28)
  canvases = np.zeros((n, size, size), np.uint8)
  boxes = np.zeros((n, max_objects, 4), np.float32)
  classes = np.full((n, max_objects), -1, np.int32)
  valid = np.zeros((n, max_objects), bool)
  for i in range(n):
    placed_Mx4 = np.zeros((0, 4), np.int64)  # (top, left, bottom, right) in pixels
    occupied_G = np.zeros(grid_size * grid_size, bool)  # cells holding a centre
    for _ in range(rng.integers(1, max_objects + 1)):
      c = int(rng.integers(len(digits)))
      crop = crops[rng.choice(by_class[c])]
      scale = rng.integers(min_side, max_side + 1) / max(crop.shape)
      h, w = (max(1, round(d * scale)) for d in crop.shape)
      # All the tries at once (a Python loop of draws costs more than the canvas).
      top_T = rng.integers(0, size - h + 1, tries)
      left_T = rng.integers(0, size - w + 1, tries)
      cell_T = (2 * top_T + h) * grid_size // (2 * size) * grid_size + (
        2 * left_T + w
      ) * grid_size // (2 * size)
      t, lf, b, r = (placed_Mx4[None, :, j] for j in range(4))
      # Separated along x or y by >= 1 px: the boxes share no pixel.
      apart_TxM = (
        (left_T[:, None] >= r + 1)
        | (left_T[:, None] + w + 1 <= lf)
        | (top_T[:, None] >= b + 1)
        | (top_T[:, None] + h + 1 <= t)
      )
      ok_T = apart_TxM.all(axis=1) & ~occupied_G[cell_T]
      if not ok_T.any():
        continue
      j, k = int(np.argmax(ok_T)), len(placed_Mx4)
      top, left = int(top_T[j]), int(left_T[j])
      patch = np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR))
      canvases[i, top : top + h, left : left + w] = patch
      boxes[i, k] = ((left + w / 2) / size, (top + h / 2) / size, w / size, h / size)
      classes[i, k], valid[i, k] = c, True
      placed_Mx4 = np.concatenate([placed_Mx4, [[top, left, top + h, left + w]]])
      occupied_G[cell_T[j]] = True
  return canvases, boxes, classes, valid


def target_grids(
  boxes_NxKx4: np.ndarray,
  classes_NxK: np.ndarray,
  valid_NxK: np.ndarray,
  *,
  grid_size: int = GRID,
  num_classes: int = len(DIGITS),
) -> np.ndarray:
  """Each canvas's objects -> its YOLO target grid N x S x S x (5 + C), per cell
  [has_object, x S - column, y S - row, w, h, one_hot(class)] (`assign_targets`)."""
  assign = jax.vmap(
    lambda b, c, v: decoding.assign_targets(b, c, v, grid_size=grid_size, num_classes=num_classes)
  )
  return np.asarray(jax.jit(assign)(boxes_NxKx4, np.maximum(classes_NxK, 0), valid_NxK))


def ground_truth(grids_NxSxSxT: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Target grids N x S x S x (5 + C) -> the objects they hold, one slot per cell:
  (boxes_Nx(S S)x4 as canvas fractions, classes_Nx(S S), valid_Nx(S S)), row-major by
  cell, as `nn_lib.metrics.GroundTruth` takes them.

  The target read as a perfect one-box prediction [x, y, sqrt w, sqrt h, conf =
  has_object] + one-hot class goes through `decode`, the inverse of `assign_targets`:
  box ((column + x) / S, (row + y) / S, w, h)."""
  t = np.asarray(grids_NxSxSxT, np.float32)
  as_prediction = np.concatenate(
    [t[..., 1:3], np.sqrt(np.maximum(t[..., 3:5], 0.0)), t[..., :1], t[..., 5:]], axis=-1
  )
  decode = jax.jit(decoding.decode, static_argnames=("num_boxes", "num_classes"))
  boxes, scores, classes = decode(as_prediction, num_boxes=1, num_classes=t.shape[-1] - 5)
  return np.asarray(boxes), np.asarray(classes), np.asarray(scores) > 0.5


@builders.register_embedded("mnist_grid_detect")
class MnistGridDetect(builders._ArrayBuilder):  # pylint: disable=protected-access
  """64x64 canvases with 1-4 non-overlapping digits 0/2/4; target: YOLO grid."""

  DESCRIPTION = (
    "64x64 canvases holding 1-4 mnist10k digits of the classes 0, 2, 4 "
    "(longer side 16-28 px, random positions, no overlap, one centre per "
    "16 px cell); 6,000 train / 1,000 test; target = the 4x4x8 YOLO "
    "target grid [has_object, x, y, w, h, one-hot class] per cell."
  )
  INPUT_MAX = 255.0
  TARGET_KEY = "grid"
  SIZES: ClassVar[dict[str, int]] = {"train": 6000, "test": 1000}
  SEED = 3

  def _features(self):
    return {
      "image": tfds.features.Tensor(shape=(SIZE, SIZE, 1), dtype=np.uint8),
      "grid": tfds.features.Tensor(shape=(GRID, GRID, 5 + len(DIGITS)), dtype=np.float32),
    }

  def _arrays(self):
    out = {}
    for split, (images, labels) in mnist10k_splits().items():
      x, boxes, classes, valid = grid_detection_canvases(
        images, labels, self.SIZES[split], seed=self.SEED * 100 + (split == "test")
      )
      out[split] = (x[..., None], target_grids(boxes, classes, valid))
    return out
