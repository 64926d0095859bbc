"""digit_strips (notes 004 "CTC cost"): 3-6 digits pasted left to right, each pixel
of a digit's box its source digit's pixel, labels in reading order padded with 10,
train strips from train digits only, and the builder deterministic."""
from __future__ import annotations

import ml_collections
import numpy as np
import pytest

from nn_lib import data
from nn_lib.data import canvases
from nn_lib.data import digit_strips as ds


def _blocks() -> tuple[np.ndarray, np.ndarray]:
  """Fake 28x28 "digits" with known ink boxes: digit d is a (10 + d) x (3 + 2 d)
  block of grey level 20 (d + 1) at row 4, column 5 (d = 9's 21 columns are cut to
  MNIST's 20)."""
  labels = np.repeat(np.arange(10), 3)
  images = np.zeros((len(labels), 28, 28), np.uint8)
  for i, d in enumerate(labels):
    h, w = 10 + d, min(3 + 2 * d, 20)
    images[i, 4:4 + h, 5:5 + w] = 20 * (d + 1)
  return images, labels


def test_ink_boxes_are_the_first_and_last_inked_rows_and_columns():
  images, _ = canvases.mnist10k_splits()["test"]
  boxes = canvases.ink_boxes(images[:200])
  for image, box in zip(images[:200], boxes):
    rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
    assert box.tolist() == [rows[0], cols[0], rows[-1] + 1, cols[-1] + 1]
  assert canvases.ink_boxes(_blocks()[0][:1]).tolist() == [[4, 5, 14, 8]]
  with pytest.raises(ValueError, match="cannot place a blank image"):
    canvases.ink_boxes(np.zeros((2, 28, 28), np.uint8))


def test_strips_hold_the_digits_left_to_right_and_nothing_else():
  images, labels = _blocks()
  strips, digits, lengths, boxes = ds.digit_strips(images, labels, n=300, seed=4)
  assert strips.shape == (300, 28, 168) and strips.dtype == np.uint8
  assert digits.shape == (300, 6) and digits.dtype == lengths.dtype == np.int32
  assert set(lengths.tolist()) == {3, 4, 5, 6}
  for strip, label, k, box in zip(strips, digits, lengths, boxes):
    assert (label[k:] == ds.PAD).all() and (label[:k] < 10).all()
    covered = np.zeros(strip.shape, bool)
    for d, (top, left, h, w) in zip(label[:k], box[:k]):
      # the pasted pixels are the source digit's ink box, unchanged
      assert (h, w) == (10 + d, min(3 + 2 * d, 20))
      assert (strip[top:top + h, left:left + w] == 20 * (d + 1)).all()
      covered[top:top + h, left:left + w] = True
      assert abs(top - (28 - h) // 2) <= ds.JITTER and 0 <= top <= 28 - h
    assert not strip[~covered].any()
    lefts, rights = box[:k, 1], box[:k, 1] + box[:k, 3]
    gaps = lefts[1:] - rights[:-1]
    assert (gaps >= 2).all() and (gaps <= 8).all()      # reading order, never touching
    assert lefts[0] >= 0 and rights[-1] <= 168
    assert not box[k:].any()
  # every gap and jitter value is drawn; the first digit may start anywhere
  all_gaps = np.concatenate([b[1:k, 1] - b[:k - 1, 1] - b[:k - 1, 3]
                             for b, k in zip(boxes, lengths)])
  assert set(all_gaps.tolist()) == set(range(2, 9))
  assert boxes[:, 0, 1].min() == 0 and boxes[:, 0, 1].max() > 60


def test_real_digits_pasted_equal_their_source_and_are_deterministic():
  images, labels = canvases.mnist10k_splits()["test"]
  a = ds.digit_strips(images, labels, n=40, seed=7)
  b = ds.digit_strips(images, labels, n=40, seed=7)
  c = ds.digit_strips(images, labels, n=40, seed=8)
  for u, v in zip(a, b):
    np.testing.assert_array_equal(u, v)
  assert not np.array_equal(a[0], c[0])
  ink = canvases.ink_boxes(images)
  crops = {}  # (digit, h, w) -> the source crops it could be
  for image, d, (t, lf, bt, r) in zip(images, labels, ink):
    crops.setdefault((int(d), bt - t, r - lf), []).append(image[t:bt, lf:r])
  strips, digits, lengths, boxes = a
  for strip, label, k, box in zip(strips, digits, lengths, boxes):
    for d, (top, left, h, w) in zip(label[:k], box[:k]):
      pasted = strip[top:top + h, left:left + w]
      assert any(np.array_equal(pasted, crop) for crop in crops[(int(d), h, w)])


def test_builder_strips_train_from_train_digits_and_test_from_test_digits():
  cfg = ml_collections.ConfigDict({"source": "embedded", "name": "digit_strips",
                                   "train_split": "train[:6]", "test_split": "test[:5]"})
  splits = data.load(cfg)
  mnist = canvases.mnist10k_splits()
  for split, n in (("train", 6), ("test", 5)):
    # the whole split's draw (draws are made for all strips at once: the first n of
    # 6,000 are not a draw of n)
    strips, digits, _, _ = ds.digit_strips(
        *mnist[split], ds.DigitStrips.SIZES[split],
        seed=ds.DigitStrips.SEED * 100 + (split == "test"))
    strips, digits = strips[:n], digits[:n]
    got = splits[split]
    assert got["inputs"].shape == (n, 28, 168, 1) and got["inputs"].dtype == np.float32
    np.testing.assert_allclose(got["inputs"][..., 0], strips / 255.0, atol=1e-6)
    np.testing.assert_array_equal(got["targets"], digits)
    assert got["targets"].dtype == np.int32
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  source = tfds.data_source("digit_strips", split="test", download=False,
                            data_dir=str(data.prepare("digit_strips")))
  assert len(source) == 1000
  row = source[3]
  assert int(row["length"]) == int((row["label"] != ds.PAD).sum()) >= 3
