"""An image as a dataset of pixels, for coordinate networks (notes 000 "Neural
Radiance Fields": the network *is* the model of the object; here a 2-D image,
f(x, y) -> RGB, the smallest case of a neural field).

`field_image(side)` is drawn analytically, with no randomness, so every call and
every preparation gives the same bytes: a smooth colour gradient (low frequencies)
under sharp-edged shapes (a disk, a triangle) and two high-frequency patterns
(binary concentric rings, a checkerboard of 4-pixel cells). The fine detail is
what a coordinate MLP without positional encoding blurs (its spectral bias).

The embedded dataset `image_field_2d` holds one example per pixel of the 64 x 64
image: x = (x, y) pixel centres in [-1, 1]^2 (x to the right, y downwards),
y = (r, g, b) in [0, 1], in raster order (row by row). "train" and "test" hold the
same pixels: fitting the image is the task, and the test split reports how well.
"shifted" is the half-pixel-shifted grid (the 63 x 63 pixel corners inside the
image, drawn from the same analytic image) for checking interpolation between
the training pixels.
"""

from __future__ import annotations

import numpy as np

from nn_lib.data import builders, regression

FIELD_SIDE = 64


def pixel_centres(side: int) -> np.ndarray:
  """The centres of a side x side grid of pixels, in [-1, 1]: (2 j + 1) / side - 1."""
  return (2.0 * np.arange(side) + 1.0) / side - 1.0


def grid_coordinates(xs_W: np.ndarray, ys_H: np.ndarray) -> np.ndarray:
  """(x, y) of every grid point, row by row (y outer, x inner): H W x 2."""
  yy_HxW, xx_HxW = np.meshgrid(ys_H, xs_W, indexing="ij")
  return np.stack([xx_HxW.ravel(), yy_HxW.ravel()], axis=-1)


def field_colour(xy_Nx2: np.ndarray, side: int = FIELD_SIDE) -> np.ndarray:
  """The analytic image at points (x, y) in [-1, 1]^2: N x 3 RGB in [0, 1].

  The ring period and the checker cell are set in pixels of a `side`-pixel image
  (4 pixels each), so the patterns sit below the grid's Nyquist limit (2 pixels)."""
  x, y = xy_Nx2[:, 0].astype(np.float64), xy_Nx2[:, 1].astype(np.float64)
  pixel = 2.0 / side
  # Smooth background: the part every network fits.
  rgb = np.stack(
    [0.25 + 0.35 * (x + 1) / 2, 0.3 + 0.2 * (1 - (y + 1) / 2), 0.3 + 0.35 * (y + 1) / 2], axis=-1
  )
  r = np.hypot(x - 0.45, y + 0.45)
  rings = (r < 0.45) & (np.cos(2 * np.pi * r / (4 * pixel)) > 0)
  rgb[(r < 0.45) & ~rings] = (0.1, 0.1, 0.35)
  rgb[rings] = (1.0, 0.9, 0.2)
  # 6 x 6 cells whose edges fall on pixel edges (multiples of `pixel` from -1), so
  # every cell is exactly 4 x 4 pixels.
  in_board = (np.abs(x + 0.5) < 12 * pixel) & (np.abs(y - 0.5) < 12 * pixel)
  cells = (
    np.floor((x + 0.5 + 12 * pixel) / (4 * pixel)) + np.floor((y - 0.5 + 12 * pixel) / (4 * pixel))
  ) % 2
  rgb[in_board & (cells == 0)] = (0.95, 0.95, 0.95)
  rgb[in_board & (cells == 1)] = (0.05, 0.05, 0.05)
  rgb[np.hypot(x + 0.5, y + 0.5) < 0.3] = (0.9, 0.15, 0.1)
  # A triangle with vertices (0.1, 0.9), (0.9, 0.9), (0.5, 0.15): below both edges.
  in_triangle = (y < 0.9) & (y > 0.15 + 1.875 * np.abs(x - 0.5))
  rgb[in_triangle] = (0.1, 0.6, 0.25)
  return rgb.astype(np.float32)


def field_image(side: int = FIELD_SIDE) -> np.ndarray:
  """The side x side x 3 image (float32 in [0, 1]) sampled at the pixel centres."""
  centres = pixel_centres(side)
  return field_colour(grid_coordinates(centres, centres), side).reshape(side, side, 3)


def grid_image(xy_Nx2: np.ndarray, values_NxC: np.ndarray) -> np.ndarray:
  """Values at the points of a rectangular grid (any order) -> H x W x C image,
  rows by increasing y, columns by increasing x."""
  xs, col = np.unique(xy_Nx2[:, 0], return_inverse=True)
  ys, row = np.unique(xy_Nx2[:, 1], return_inverse=True)
  if len(xs) * len(ys) != len(xy_Nx2):
    raise ValueError(
      f"{len(xy_Nx2)} points are not a rectangular grid "
      f"({len(ys)} distinct y x {len(xs)} distinct x)"
    )
  image = np.zeros((len(ys), len(xs), values_NxC.shape[-1]), values_NxC.dtype)
  image[row.ravel(), col.ravel()] = values_NxC
  return image


@builders.register_embedded("image_field_2d")
class ImageField2D(regression._Regression):  # pylint: disable=protected-access
  """The pixels of `field_image(64)`: (x, y) in [-1, 1]^2 -> RGB in [0, 1]."""

  DESCRIPTION = (
    "A deterministic 64x64 RGB image (gradient, disk, triangle, rings, "
    "checkerboard) as 4,096 pixels (x, y) -> (r, g, b); train = test = "
    "every pixel centre; shifted = the 63x63 interior pixel corners."
  )
  name = "image_field_2d"  # TFDS would derive "image_field2_d" from the class name
  INPUT_DIM = 2
  TARGET_DIM = 3

  def _arrays(self):
    centres = pixel_centres(FIELD_SIDE)
    corners = centres[:-1] + 1.0 / FIELD_SIDE  # half a pixel (2 / side / 2) on
    out = {}
    for split, axis in (("train", centres), ("test", centres), ("shifted", corners)):
      xy = grid_coordinates(axis, axis).astype(np.float32)
      out[split] = (xy, field_colour(xy, FIELD_SIDE))
    return out
