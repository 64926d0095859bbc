"""Strips of handwritten digits read left to right, a sequence-labelling task (notes
004 "CTC cost for speech recognition": the network emits one symbol or "blank" per
input column, and repeats not separated by a blank collapse, so an unsegmented
image maps to its digit string of any length; and multi-digit reading as T_y
outputs of a sequence model).

  digit_strips  28 x 168 strips holding 3-6 mnist10k digits side by side with random
                gaps and vertical jitter; target = the digits left to right, padded
                to MAX_DIGITS with PAD = 10, and their number as "length".

Each digit is cut to its ink box (at most 20 x 20 in MNIST) and pasted unchanged:
the strip's pixels inside a digit's box are that digit's pixels, and everything
outside the boxes is 0. Gaps between neighbouring boxes are ~ U{MIN_GAP..MAX_GAP}
columns (>= 2, so digits never touch and each column holds at most one digit); the
row of digits starts at a uniformly random column so that it fits; each digit's
top is its centred position + U{-JITTER..JITTER} rows. 6 x 20 + 5 x 8 = 160 <= 168,
so every draw fits.

Labels: int32 digits 0..9 in reading order, then PAD = 10 up to MAX_DIGITS = 6.
10 is "no digit here", so a label row is also a valid target of MAX_DIGITS 11-way
classifiers, one per position (Goodfellow et al. 2014's multi-digit reader); a CTC
loss takes the first `length` entries (and needs a blank id other than 0..9, e.g.
10, or the digits shifted by one if its blank is 0).

Train strips use only mnist10k's train digits and test strips only its test digits
(`canvases.mnist10k_splits`); everything is drawn from fixed seeds.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from nn_lib.data import builders
from nn_lib.data.canvases import ink_boxes, mnist10k_splits

HEIGHT, WIDTH = 28, 168
MIN_DIGITS, MAX_DIGITS = 3, 6
MIN_GAP, MAX_GAP = 2, 8
JITTER = 4
PAD = 10
MAX_INK = 20  # MNIST fits every digit's ink into 20 x 20
assert MAX_DIGITS * MAX_INK + (MAX_DIGITS - 1) * MAX_GAP <= WIDTH  # every draw fits


def digit_strips(
  images_Nx28x28: np.ndarray, labels_N: np.ndarray, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """`n` strips (module docstring): k ~ U{MIN_DIGITS..MAX_DIGITS} digits, each drawn
  uniformly (with replacement) from the given images. The draws for all strips are
  made at once, so the first m of n strips are not the strips of n = m.

  Returns strips_NxHEIGHTxWIDTH (uint8), labels_NxMAX_DIGITS (int32, PAD-padded),
  lengths_N (int32) and boxes_NxMAX_DIGITSx4 (int32 (top, left, height, width) of
  each pasted digit in the strip, 0 for padding; for tests and plots: the builder
  stores strips, labels and lengths).
  """
  ink_Nx4 = ink_boxes(images_Nx28x28)
  if (ink_Nx4[:, 2:] - ink_Nx4[:, :2] > MAX_INK).any():
    raise ValueError(
      f"a digit's ink is wider or taller than {MAX_INK} px: six of them "
      f"might not fit in {WIDTH} columns"
    )
  rng = np.random.default_rng(seed)
  # All draws at once (per-strip generator calls cost 5x the pasting); slot j of a
  # strip is used when j < k, so the unused slots' draws are thrown away.
  k_N = rng.integers(MIN_DIGITS, MAX_DIGITS + 1, size=n)
  rows_NxK = rng.integers(len(images_Nx28x28), size=(n, MAX_DIGITS))
  gaps_NxK = rng.integers(MIN_GAP, MAX_GAP + 1, size=(n, MAX_DIGITS))
  jitter_NxK = rng.integers(-JITTER, JITTER + 1, size=(n, MAX_DIGITS))
  start_N = rng.random(n)
  used_NxK = np.arange(MAX_DIGITS) < k_N[:, None]
  t, lf, b, r = np.moveaxis(ink_Nx4[rows_NxK], -1, 0)  # each N x K
  h_NxK, w_NxK = (b - t) * used_NxK, (r - lf) * used_NxK
  gaps_NxK[:, 0] = 0
  gaps_NxK *= used_NxK
  # left edge of slot j = sum of the widths before it + the gaps up to it
  left_NxK = np.cumsum(gaps_NxK, axis=1) + np.cumsum(w_NxK, axis=1) - w_NxK
  slack_N = WIDTH - (left_NxK[np.arange(n), k_N - 1] + w_NxK[np.arange(n), k_N - 1])
  left_NxK += (start_N * (slack_N + 1)).astype(np.int64)[:, None]  # U{0..slack}
  top_NxK = np.clip((HEIGHT - h_NxK) // 2 + jitter_NxK, 0, HEIGHT - h_NxK)
  strips = np.zeros((n, HEIGHT, WIDTH), np.uint8)
  for i, j in zip(*np.nonzero(used_NxK)):
    y, x = top_NxK[i, j], left_NxK[i, j]
    strips[i, y : y + h_NxK[i, j], x : x + w_NxK[i, j]] = images_Nx28x28[
      rows_NxK[i, j], t[i, j] : b[i, j], lf[i, j] : r[i, j]
    ]
  labels = np.where(used_NxK, labels_N[rows_NxK], PAD).astype(np.int32)
  lengths = k_N.astype(np.int32)
  boxes = (np.stack([top_NxK, left_NxK, h_NxK, w_NxK], axis=-1) * used_NxK[..., None]).astype(
    np.int32
  )
  return strips, labels, lengths, boxes


@builders.register_embedded("digit_strips")
class DigitStrips(builders._ArrayBuilder):  # pylint: disable=protected-access
  """28x168 strips of 3-6 mnist10k digits; target: the digits, PAD-padded."""

  DESCRIPTION = (
    "28x168 strips of 3-6 mnist10k digits (ink boxes pasted left to right, "
    "gaps 2-8 px, vertical jitter +-4 px); 6,000 train strips from the "
    "train digits / 1,000 test strips from the test digits; label = the "
    "digits left to right padded to 6 with 10, length = their number."
  )
  INPUT_MAX = 255.0
  SIZES: ClassVar[dict[str, int]] = {"train": 6000, "test": 1000}
  SEED = 15
  DISABLE_SHUFFLING = True  # split[:k] is the first k strips of the split's draw

  def _features(self):
    return {
      "image": tfds.features.Tensor(shape=(HEIGHT, WIDTH, 1), dtype=np.uint8),
      "label": tfds.features.Tensor(shape=(MAX_DIGITS,), dtype=np.int32),
      "length": tfds.features.Tensor(shape=(), dtype=np.int32),
    }

  def _arrays(self):
    out = {}
    for split, (images, labels) in mnist10k_splits().items():
      strips, digits, lengths, _ = digit_strips(
        images, labels, self.SIZES[split], seed=self.SEED * 100 + (split == "test")
      )
      out[split] = (strips[..., None], (digits, lengths))
    return out

  def _generate_examples(self, inputs, labels):
    digits, lengths = labels
    for i, (x, y, k) in enumerate(zip(inputs, digits, lengths)):
      yield i, {"image": x, "label": y, "length": k}
