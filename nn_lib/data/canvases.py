"""Canvas datasets made from the embedded MNIST digits (mnist10k), for the interfaces
of notes 000 that need more than one label per image:

  mnist_multilabel  "Complementary Multiclass": 44x44 canvases holding 1-3 digits of
                    distinct classes; target = the 10-dim presence vector.
  mnist_detect      "Detection: One Object": 48x48 canvases holding one digit at a
                    random position and scale, or nothing (I = 0 for 20% of them);
                    target = (I, x, y, w, h), centre and size as canvas fractions.
  mnist_likes       "Learning to Rank": the mnist10k digits, each with a hidden
                    "likes" score that is a deterministic function of the image.

Train canvases are made only from mnist10k's train digits and test canvases only
from its test digits, so no test digit is ever seen in training. Everything is
drawn from fixed seeds: every preparation writes the same bytes. The generators are
plain numpy functions (`multilabel_canvases`, `detection_canvases`, `likes`), so
tests and plots can use them without TFDS.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from nn_lib.data import builders

NUM_CLASSES = 10


def mnist10k_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """split -> (images_Nx28x28 uint8, labels_N): exactly the rows of the `mnist10k`
  builder's train and test splits (same asset, same shuffled split)."""
  with np.load(builders.ASSETS / "mnist10k.npz") as npz:
    images, labels = npz["images"], npz["labels"]
  # pylint: disable-next=protected-access
  train, test = builders._shuffled_split(len(images), test_size=2000, seed=0)
  return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}


# ---------------------------------------------------------------------------
# Multi-label canvases
# ---------------------------------------------------------------------------


def ink_boxes(images_Nx28x28: np.ndarray) -> np.ndarray:
  """Each image's ink bounding box (top, left, bottom, right), exclusive ends, as
  int64 N x 4: the rows and columns holding any non-zero pixel. MNIST normalises
  every digit to fit a 20x20 box, so an ink box is at most 20x20."""
  rows_NxH, cols_NxW = np.any(images_Nx28x28, axis=2), np.any(images_Nx28x28, axis=1)
  if not rows_NxH.any(axis=1).all():
    raise ValueError("cannot place a blank image (no non-zero pixel) on a canvas")
  h, w = rows_NxH.shape[1], cols_NxW.shape[1]
  top, left = rows_NxH.argmax(axis=1), cols_NxW.argmax(axis=1)
  bottom = h - rows_NxH[:, ::-1].argmax(axis=1)
  right = w - cols_NxW[:, ::-1].argmax(axis=1)
  return np.stack([top, left, bottom, right], axis=1).astype(np.int64)


def ink_crops(images_Nx28x28: np.ndarray) -> list[np.ndarray]:
  """Each digit cut to its ink box (views): computed for all digits at once, since
  the canvas generators draw tens of thousands of digits one at a time."""
  return [
    image[t:b, lf:r] for image, (t, lf, b, r) in zip(images_Nx28x28, ink_boxes(images_Nx28x28))
  ]


def multilabel_canvases(
  images_Nx28x28: np.ndarray,
  labels_N: np.ndarray,
  n: int,
  seed: int,
  max_digits: int = 3,
  cell: int = 22,
) -> tuple[np.ndarray, np.ndarray]:
  """`n` canvases of 2 cell x 2 cell pixels (a 2x2 grid of cells); k ~ U{1..max_digits}
  of the cells each hold one digit, of k distinct classes, cut to its ink (at most
  20x20, see `ink_boxes`) and placed at a uniformly random position inside its cell,
  so digits never overlap.

  Returns canvases_NxSxS (uint8, S = 2 cell) and presence_Nx10 (float32, 1 where a
  class is on the canvas).
  """
  if not 1 <= max_digits <= 4:
    raise ValueError(f"max_digits={max_digits} must be in 1..4 (a 2x2 grid of cells)")
  if cell < 20:
    raise ValueError(f"cell={cell} must be >= 20, the largest MNIST ink box")
  rng = np.random.default_rng(seed)
  by_class = [np.flatnonzero(labels_N == c) for c in range(NUM_CLASSES)]
  missing = [c for c in range(NUM_CLASSES) if not by_class[c].size]
  if missing:
    raise ValueError(f"multilabel_canvases needs digits of every class; none of {missing}")
  crops = ink_crops(images_Nx28x28)
  canvases = np.zeros((n, 2 * cell, 2 * cell), np.uint8)
  presence = np.zeros((n, NUM_CLASSES), np.float32)
  for i in range(n):
    k = rng.integers(1, max_digits + 1)
    classes = rng.choice(NUM_CLASSES, size=k, replace=False)
    cells = rng.choice(4, size=k, replace=False)
    for c, where in zip(classes, cells):
      digit = crops[rng.choice(by_class[c])]
      h, w = digit.shape
      row, col = divmod(int(where), 2)
      top = row * cell + rng.integers(0, cell - h + 1)
      left = col * cell + rng.integers(0, cell - w + 1)
      canvases[i, top : top + h, left : left + w] = digit
      presence[i, c] = 1.0
  return canvases, presence


@builders.register_embedded("mnist_multilabel")
class MnistMultilabel(builders._ArrayBuilder):  # pylint: disable=protected-access
  """44x44 canvases with 1-3 distinct mnist10k digits; target: presence vector."""

  DESCRIPTION = (
    "44x44 canvases holding 1-3 mnist10k digits of distinct classes, one "
    "per 22x22 cell of a 2x2 grid at a random position in its cell; "
    "24,000 train / 2,000 test; target = 10-dim presence vector."
  )
  INPUT_MAX = 255.0
  TARGET_KEY = "labels"
  SIZES = {"train": 24000, "test": 2000}
  SEED = 1

  def _features(self):
    return {
      "image": tfds.features.Tensor(shape=(44, 44, 1), dtype=np.uint8),
      "labels": tfds.features.Tensor(shape=(NUM_CLASSES,), dtype=np.float32),
    }

  def _arrays(self):
    out = {}
    for split, (images, labels) in mnist10k_splits().items():
      x, y = multilabel_canvases(
        images, labels, self.SIZES[split], seed=self.SEED * 100 + (split == "test")
      )
      out[split] = (x[..., None], y)
    return out


# ---------------------------------------------------------------------------
# Single-object detection canvases
# ---------------------------------------------------------------------------


def detection_canvases(
  images_Nx28x28: np.ndarray,
  n: int,
  seed: int,
  size: int = 48,
  empty_fraction: float = 0.2,
  min_side: int = 12,
  max_side: int = 40,
) -> tuple[np.ndarray, np.ndarray]:
  """`n` size x size canvases; exactly round(empty_fraction * n) are empty (I = 0).
  The others hold one digit, cropped to its ink, resized (bilinear, aspect kept) so
  that its longer side is ~ U{min_side..max_side} pixels, at a uniformly random
  position fully inside the canvas.

  Returns canvases_NxSxS (uint8) and boxes_Nx5 = (I, x, y, w, h) float32: the box is
  the pasted digit's extent, its centre (x, y) and size (w, h) as fractions of the
  canvas side (x to the right, y down); all zeros when I = 0.
  """
  if not 0 < min_side <= max_side <= size:
    raise ValueError(f"need 0 < min_side={min_side} <= max_side={max_side} <= size={size}")
  if not 0.0 <= empty_fraction < 1.0:
    raise ValueError(f"empty_fraction={empty_fraction} must be in [0, 1)")
  rng = np.random.default_rng(seed)
  empty = rng.permutation(n) < int(round(empty_fraction * n))
  crops = ink_crops(images_Nx28x28)
  canvases = np.zeros((n, size, size), np.uint8)
  boxes = np.zeros((n, 5), np.float32)
  for i in np.flatnonzero(~empty):
    crop = crops[rng.integers(len(images_Nx28x28))]
    side = rng.integers(min_side, max_side + 1)
    scale = side / max(crop.shape)
    h, w = (max(1, int(round(d * scale))) for d in crop.shape)
    patch = np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR))
    top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
    canvases[i, top : top + h, left : left + w] = patch
    boxes[i] = (1.0, (left + w / 2) / size, (top + h / 2) / size, w / size, h / size)
  return canvases, boxes


@builders.register_embedded("mnist_detect")
class MnistDetect(builders._ArrayBuilder):  # pylint: disable=protected-access
  """48x48 canvases with one mnist10k digit (random position, scale) or nothing."""

  DESCRIPTION = (
    "48x48 canvases: one mnist10k digit at a random position with its "
    "longer side 12-40 px, or nothing (20%); 12,000 train / 2,000 test; "
    "target = (I, x, y, w, h), box centre and size as canvas fractions."
  )
  INPUT_MAX = 255.0
  TARGET_KEY = "box"
  SIZES = {"train": 12000, "test": 2000}
  SEED = 2

  def _features(self):
    return {
      "image": tfds.features.Tensor(shape=(48, 48, 1), dtype=np.uint8),
      "box": tfds.features.Tensor(shape=(5,), dtype=np.float32),
    }

  def _arrays(self):
    out = {}
    for split, (images, _) in mnist10k_splits().items():
      x, y = detection_canvases(images, self.SIZES[split], seed=self.SEED * 100 + (split == "test"))
      out[split] = (x[..., None], y)
    return out


# ---------------------------------------------------------------------------
# Ranking: a hidden "likes" score per image
# ---------------------------------------------------------------------------

# The hidden taste of the audience: base likes per digit class (a fixed, arbitrary
# order, so that the score is not simply the digit's value).
CLASS_LIKES = np.array([30.0, 60.0, 0.0, 80.0, 20.0, 90.0, 40.0, 70.0, 10.0, 50.0], np.float32)
INK_LIKES = 40.0


def likes(images_Nx28x28: np.ndarray, labels_N: np.ndarray) -> np.ndarray:
  """likes = CLASS_LIKES[class] + 40 * ink, with ink = mean pixel value in [0, 1].

  Ink is about 0.13 +- 0.04 on MNIST, so the ink term (about 1-14) mostly orders
  digits within a class and rarely overturns the 10-like steps between classes: the
  score is a deterministic, learnable function of the image (what the digit is, how
  bold it is). Returns likes_N float32; ties have probability ~0.
  """
  ink = images_Nx28x28.reshape(len(images_Nx28x28), -1).mean(axis=1) / 255.0
  return (CLASS_LIKES[labels_N] + INK_LIKES * ink).astype(np.float32)


@builders.register_embedded("mnist_likes")
class MnistLikes(builders._ArrayBuilder):  # pylint: disable=protected-access
  """The mnist10k digits with a hidden "likes" score per image (for ranking)."""

  DESCRIPTION = (
    "The mnist10k digits (8,000 train / 2,000 test), target = hidden "
    "'likes' score (shape (1,)) = CLASS_LIKES[class] + 40 * mean ink."
  )
  INPUT_MAX = 255.0
  TARGET_KEY = "likes"

  def _features(self):
    return {
      "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
      "likes": tfds.features.Tensor(shape=(1,), dtype=np.float32),
    }

  def _arrays(self):
    return {
      split: (images[..., None], likes(images, labels)[:, None])
      for split, (images, labels) in mnist10k_splits().items()
    }
