"""Synthetic shapes for semantic segmentation (notes 004 "Segmentation": one class
per pixel, FCN / U-Net, pixel accuracy, Dice, IoU).

`shapes_canvases(n, seed)` draws `n` size x size RGB canvases, each holding 2-4
objects (a disc, a square or a triangle, any rotation) on a textured background: a
smooth, greyish colour field (bilinear noise) crossed by stripes of a random
direction, period and tint. Every class draws its colour from the same saturated
hues, so colour tells an object from the background but never its class, and the
stripes put edges everywhere: the network must use shape. Object sizes are
log-uniform in [min_radius, max_radius] (circumradius in pixels), so small objects
(a few tens of pixels) are common. Later objects occlude earlier ones.

The mask holds one class per pixel: 0 background, 1 disc, 2 square, 3 triangle; a
pixel belongs to a shape when its centre lies inside it (and to the last drawn
shape containing it). Everything comes from `np.random.default_rng(seed)`, so every
call (and every preparation of the builder) gives the same bytes.

The embedded dataset `shapes_seg` holds 2,000 train / 500 test canvases of
64 x 64 x 3 (uint8 image, "mask" the 64 x 64 uint8 class map). Its targets are
integer class maps B x H x W, the layout of `softmax_cross_entropy_with_integer_labels`
over B x H x W x C logits and of the segmentation metrics. The region losses (dice,
tversky, softmax_focal, dice_cross_entropy) want one-hot maps B x H x W x C: the
target transform `one_hot` makes them (and keeps the class maps as `labels`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from nn_lib.data import builders

CLASS_NAMES = ("background", "disc", "square", "triangle")
NUM_CLASSES = len(CLASS_NAMES)
SIZE = 64


def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
  """(y_HxW, x_HxW): pixel centres in pixel units (row i has y = i + 0.5)."""
  centres = np.arange(size) + 0.5
  return np.meshgrid(centres, centres, indexing="ij")


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
  """A size x size x 3 colour field: a (cells + 1)^2 grid of random colours in
  [0.2, 0.8], bilinearly interpolated."""
  grey = rng.uniform(0.3, 0.7, (cells + 1, cells + 1, 1))
  grid = grey + rng.uniform(-0.12, 0.12, (cells + 1, cells + 1, 3))
  t = np.linspace(0.0, cells, size, endpoint=False) + cells / (2 * size)
  i = np.minimum(t.astype(int), cells - 1)
  w = (t - i)[:, None]
  rows = grid[i] * (1 - w[..., None]) + grid[i + 1] * w[..., None]  # H x K x 3
  cols = rows[:, i] * (1 - w.T[..., None]) + rows[:, i + 1] * w.T[..., None]
  return cols


def _background(rng: np.random.Generator, y: np.ndarray, x: np.ndarray) -> np.ndarray:
  """Smooth noise crossed by soft stripes of a random direction and colour."""
  size = y.shape[0]
  image = _smooth_noise(rng, size, int(rng.integers(2, 5)))
  angle = rng.uniform(0.0, np.pi)
  period = rng.uniform(5.0, 16.0)
  phase = (x * np.cos(angle) + y * np.sin(angle)) / period
  stripes = (np.sin(2 * np.pi * phase) > 0).astype(np.float64)[..., None]
  strength = rng.uniform(0.1, 0.35)
  image = (1 - strength * stripes) * image + strength * stripes * rng.uniform(0.2, 0.8, 3)
  return image


def _saturated_colour(rng: np.random.Generator) -> np.ndarray:
  """A random hue at saturation 0.6-1 and value 0.55-1 (HSV -> RGB), so that an
  object stands out of the greyish background whatever its class."""
  hue, sat, val = rng.uniform(0, 1), rng.uniform(0.6, 1.0), rng.uniform(0.55, 1.0)
  k_3 = (np.array([5.0, 3.0, 1.0]) + 6 * hue) % 6
  return val - val * sat * np.clip(np.minimum(k_3, 4 - k_3), 0, 1)


def _polygon_inside(y: np.ndarray, x: np.ndarray, vertices_Kx2: np.ndarray) -> np.ndarray:
  """Pixels whose centre is inside a convex polygon (vertices counter-clockwise
  in (x, y)): on the left of every edge."""
  inside = np.ones(y.shape, bool)
  for (x0, y0), (x1, y1) in zip(vertices_Kx2, np.roll(vertices_Kx2, -1, axis=0)):
    inside &= (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0) >= 0
  return inside


def shape_mask(
  kind: int, y: np.ndarray, x: np.ndarray, cx: float, cy: float, radius: float, angle: float
) -> np.ndarray:
  """The pixels of one shape of class `kind` (1 disc, 2 square, 3 triangle) with
  centre (cx, cy) and circumradius `radius` (pixels), rotated by `angle`: a disc
  of that radius, or the regular polygon (4 or 3 vertices) inscribed in it."""
  if kind == 1:
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
  if kind not in (2, 3):
    raise ValueError(f"shape class must be 1 (disc), 2 (square) or 3 (triangle), got {kind}")
  k = 4 if kind == 2 else 3  # vertices
  theta = angle + 2 * np.pi * np.arange(k) / k
  vertices = np.stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)], -1)
  return _polygon_inside(y, x, vertices)


def shapes_canvases(
  n: int,
  seed: int,
  size: int = SIZE,
  min_objects: int = 2,
  max_objects: int = 4,
  min_radius: float = 5.0,
  max_radius: float = 16.0,
  noise: float = 0.03,
) -> tuple[np.ndarray, np.ndarray]:
  """`n` canvases with min_objects..max_objects shapes each (module docstring).

  Each object: class ~ U{1, 2, 3}; circumradius r log-uniform in [min_radius,
  max_radius]; centre uniform in [r, size - r]^2 (fully inside); rotation uniform;
  colour a random saturated hue (`_saturated_colour`), shaded linearly (up to
  +-15% along each axis) so it is not flat. Pixel noise N(0, noise) is added last.

  Returns images_NxHxWx3 (uint8) and masks_NxHxW (uint8 classes 0..3).
  """
  if not 1 <= min_objects <= max_objects:
    raise ValueError(f"need 1 <= min_objects={min_objects} <= max_objects={max_objects}")
  if not 0 < min_radius <= max_radius <= size / 2:
    raise ValueError(
      f"need 0 < min_radius={min_radius} <= max_radius={max_radius} <= size / 2 = {size / 2}"
    )
  rng = np.random.default_rng(seed)
  y, x = _pixel_grid(size)
  images = np.zeros((n, size, size, 3), np.uint8)
  masks = np.zeros((n, size, size), np.uint8)
  for i in range(n):
    image = _background(rng, y, x)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(min_objects, max_objects + 1)):
      kind = int(rng.integers(1, NUM_CLASSES))
      radius = float(np.exp(rng.uniform(np.log(min_radius), np.log(max_radius))))
      cx, cy = rng.uniform(radius, size - radius, 2)
      inside = shape_mask(kind, y, x, cx, cy, radius, rng.uniform(0, 2 * np.pi))
      gy, gx = rng.uniform(-0.15, 0.15, 2) / radius
      shade_P = 1 + gx * (x[inside] - cx) + gy * (y[inside] - cy)
      image[inside] = _saturated_colour(rng) * shade_P[:, None]
      mask[inside] = kind
    image += rng.normal(0.0, noise, image.shape)
    images[i] = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
    masks[i] = mask
  return images, masks


@builders.register_embedded("shapes_seg")
class ShapesSeg(builders._ArrayBuilder):  # pylint: disable=protected-access
  """64x64 RGB canvases of 2-4 discs / squares / triangles; target: class map."""

  DESCRIPTION = (
    "64x64x3 canvases holding 2-4 shapes (disc, square, triangle; random "
    "size, rotation, colour) on striped smooth-noise backgrounds; "
    "2,000 train / 500 test; target = 64x64 class map (0 = background)."
  )
  name = "shapes_seg"
  INPUT_MAX = 255.0
  TARGET_KEY = "mask"
  SIZES: ClassVar[dict[str, int]] = {"train": 2000, "test": 500}
  SEED = 13
  DISABLE_SHUFFLING = True  # split[:k] is shapes_canvases(n, seed)[:k]

  def _features(self):
    return {
      "image": tfds.features.Tensor(shape=(SIZE, SIZE, 3), dtype=np.uint8),
      "mask": tfds.features.Tensor(shape=(SIZE, SIZE), dtype=np.uint8),
    }

  def _arrays(self):
    return {
      split: shapes_canvases(n, seed=self.SEED * 100 + k)
      for k, (split, n) in enumerate(self.SIZES.items())
    }
