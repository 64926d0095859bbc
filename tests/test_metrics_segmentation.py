"""Segmentation metrics (notes 004 "Segmentation": pixel accuracy, Dice, IoU)
against a hand-computed confusion matrix and scikit-learn's per-pixel
jaccard_score / f1_score (Dice is the F1 score of each class's pixels)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score

from nn_lib.metrics import registry
from nn_lib.metrics import segmentation as seg

# Two 3 x 3 images, 3 classes; -1 marks an ignored pixel (its prediction, 2,
# counts nowhere).
LABELS = np.array([[[0, 0, 1],
                    [0, 1, 1],
                    [2, 2, 1]],
                   [[2, 2, 2],
                    [0, 0, 2],
                    [0, -1, 1]]])
PREDS = np.array([[[0, 1, 1],
                   [0, 1, 1],
                   [2, 0, 1]],
                  [[2, 2, 0],
                   [0, 0, 2],
                   [1, 2, 1]]])
# (true -> predicted) counts: image 0: 0->0 x2, 0->1, 1->1 x4, 2->2, 2->0;
# image 1: 2->2 x3, 2->0, 0->0 x2, 0->1, 1->1. Rows true, columns predicted:
#          pred 0  1  2
CM = np.array([[4, 2, 0],    # true 0
               [0, 5, 0],    # true 1
               [2, 0, 4]])   # true 2
# 17 counted pixels (18 - 1 ignored), 13 on the diagonal.
# class 0: TP 4, FP 6 - 4 = 2, FN 6 - 4 = 2: IoU 4/8 = 1/2,  Dice 8/12 = 2/3
# class 1: TP 5, FP 7 - 5 = 2, FN 5 - 5 = 0: IoU 5/7,        Dice 10/12 = 5/6
# class 2: TP 4, FP 4 - 4 = 0, FN 6 - 4 = 2: IoU 4/6 = 2/3,  Dice 8/10 = 4/5
IOU = [1 / 2, 5 / 7, 2 / 3]
DICE = [2 / 3, 5 / 6, 4 / 5]


def _logits(preds, num_classes):
  """Logits whose arg-max is `preds` (a clear winner per pixel)."""
  rng = np.random.default_rng(0)
  noise = rng.uniform(-1.0, 1.0, preds.shape + (num_classes,))
  return jnp.asarray(noise + 3.0 * np.eye(num_classes)[preds], jnp.float32)


def test_hand_computed_two_images():
  logits, labels = _logits(PREDS, 3), jnp.asarray(LABELS)
  np.testing.assert_array_equal(seg.segmentation_confusion_matrix(logits, labels), CM)
  assert float(seg.pixel_accuracy(logits, labels)) == pytest.approx(13 / 17)
  iou, dice = seg.per_class_iou_and_dice(logits, labels)
  np.testing.assert_allclose(iou, IOU, rtol=1e-6)
  np.testing.assert_allclose(dice, DICE, rtol=1e-6)
  # (1/2 + 5/7 + 2/3) / 3 = 0.626984, (2/3 + 5/6 + 4/5) / 3 = 0.766667
  assert float(seg.mean_iou(logits, labels)) == pytest.approx(0.626984, abs=1e-6)
  assert float(seg.mean_dice(logits, labels)) == pytest.approx(0.766667, abs=1e-6)
  # registered by name; the same number inside a jitted step (labels traced:
  # no range check; the three metrics share one compiled core)
  for name in ("pixel_accuracy", "mean_iou", "mean_dice"):
    assert registry.get(name) is getattr(seg, name)
  got = jax.jit(registry.get("mean_iou"))(logits, labels)
  assert float(got) == pytest.approx(0.626984, abs=1e-6)


def test_a_class_absent_from_targets_and_predictions_is_left_out():
  # a 4th class that is never labelled nor predicted: IoU and Dice 0/0 -> NaN,
  # and the means stay over the 3 present classes
  logits, labels = _logits(PREDS, 4), jnp.asarray(LABELS)
  iou, dice = map(np.asarray, seg.per_class_iou_and_dice(logits, labels))
  np.testing.assert_allclose(iou[:3], IOU, rtol=1e-6)
  assert np.isnan(iou[3]) and np.isnan(dice[3])
  assert float(seg.mean_iou(logits, labels)) == pytest.approx(0.626984, abs=1e-6)
  assert float(seg.mean_dice(logits, labels)) == pytest.approx(0.766667, abs=1e-6)
  # a class only predicted (never labelled) is present: IoU 0 counts in the mean
  preds = PREDS.copy()
  preds[0, 0, 0] = 3            # was a correct 0: class 0 loses a TP
  iou, _ = seg.per_class_iou_and_dice(_logits(preds, 4), labels)
  np.testing.assert_allclose(iou, [3 / 8, 5 / 7, 2 / 3, 0.0], rtol=1e-6)
  assert float(seg.mean_iou(_logits(preds, 4), labels)) == pytest.approx(
      (3 / 8 + 5 / 7 + 2 / 3) / 4, abs=1e-6)
  # every pixel ignored: no counts, metrics 0 rather than NaN
  none = -jnp.ones_like(labels)
  for fn in (seg.pixel_accuracy, seg.mean_iou, seg.mean_dice):
    assert float(fn(logits, none)) == 0.0


def test_matches_sklearn_per_pixel_on_random_maps():
  rng = np.random.default_rng(1)
  c = 5
  labels = rng.integers(0, c - 1, (3, 6, 5))          # class 4 never labelled ...
  labels[rng.uniform(size=labels.shape) < 0.1] = -1   # ... some pixels ignored
  preds = rng.integers(0, c - 1, labels.shape)        # ... nor predicted
  logits = _logits(preds, c)
  keep = labels.reshape(-1) >= 0
  y_true, y_pred = labels.reshape(-1)[keep], preds.reshape(-1)[keep]
  iou, dice = map(np.asarray, seg.per_class_iou_and_dice(logits, jnp.asarray(labels)))
  present = np.union1d(y_true, y_pred)
  np.testing.assert_allclose(
      iou[present], jaccard_score(y_true, y_pred, labels=present, average=None),
      rtol=1e-6)
  np.testing.assert_allclose(
      dice[present], f1_score(y_true, y_pred, labels=present, average=None),
      rtol=1e-6)
  assert np.isnan(iou[c - 1]) and np.isnan(dice[c - 1])
  assert float(seg.mean_iou(logits, jnp.asarray(labels))) == pytest.approx(
      jaccard_score(y_true, y_pred, labels=present, average="macro"), abs=1e-6)
  assert float(seg.mean_dice(logits, jnp.asarray(labels))) == pytest.approx(
      f1_score(y_true, y_pred, labels=present, average="macro"), abs=1e-6)
  assert float(seg.pixel_accuracy(logits, jnp.asarray(labels))) == pytest.approx(
      np.mean(y_true == y_pred), abs=1e-6)


def test_bad_inputs_say_what_is_wrong():
  logits = jnp.zeros((2, 3, 3, 3))
  with pytest.raises(ValueError, match=r"mean_iou: needs logits B x H x W x C and "
                     r"integer class maps B x H x W .*"
                     r"got \(2, 3, 3, 3\) and \(2, 3, 4\)"):
    seg.mean_iou(logits, jnp.zeros((2, 3, 4), jnp.int32))
  with pytest.raises(ValueError, match=r"got \(2, 3\) and \(2,\)"):
    seg.pixel_accuracy(jnp.zeros((2, 3)), jnp.zeros((2,), jnp.int32))  # classifier data
  with pytest.raises(ValueError, match="targets must be integer class maps, got dtype "
                     "float32; cast them"):
    seg.mean_dice(logits, jnp.zeros((2, 3, 3), jnp.float32))
  with pytest.raises(ValueError, match=r"targets contain class 3 but the logits have "
                     r"only 3 classes \(0..2; negative targets mean 'ignore'\)"):
    seg.mean_iou(logits, jnp.full((2, 3, 3), 3))


def test_one_hot_targets_give_the_same_numbers():
  # the region losses' targets (B x H x W x C one-hot); an all-zero row is ignored
  one_hot = np.eye(3)[np.maximum(LABELS, 0)] * (LABELS >= 0)[..., None]
  logits = _logits(PREDS, 3)
  np.testing.assert_array_equal(
      seg.segmentation_confusion_matrix(logits, jnp.asarray(one_hot, jnp.float32)), CM)
  assert float(seg.mean_iou(logits, jnp.asarray(one_hot))) == pytest.approx(0.626984,
                                                                            abs=1e-6)


def test_small_object_recall_by_hand():
  # One 6 x 6 map, background 0. Objects (4-connected components per class):
  #   A: class 1, 4 px (rows 0-1, cols 0-1), predicted 1 on 2 px -> 2/4 = 0.5: found
  #   B: class 1, 3 px (row 5, cols 0-2), predicted 1 on 1 px -> 1/3: missed
  #   C: class 2, 2 px (rows 4-5, col 5), predicted 1 (wrong class) -> missed
  #   D: class 2, 8 px (rows 1-3, cols 3-5 but (3, 5), so C does not touch it):
  #      not small below max_area 5, and all of it missed
  true = np.array([[1, 1, 0, 0, 0, 0],
                   [1, 1, 0, 2, 2, 2],
                   [0, 0, 0, 2, 2, 2],
                   [0, 0, 0, 2, 2, 0],
                   [0, 0, 0, 0, 0, 2],
                   [1, 1, 1, 0, 0, 2]])
  pred = np.array([[1, 0, 0, 0, 0, 0],
                   [0, 1, 0, 0, 0, 0],
                   [0, 0, 0, 0, 0, 0],
                   [0, 0, 0, 0, 0, 0],
                   [0, 0, 0, 0, 0, 1],
                   [0, 0, 1, 0, 0, 1]])
  recall, count = seg.small_object_recall(pred[None], true[None], max_area=5)
  assert count == 3 and recall == pytest.approx(1 / 3)
  recall, count = seg.small_object_recall(pred[None], true[None], max_area=5,
                                          min_covered=0.3)
  assert count == 3 and recall == pytest.approx(2 / 3)   # B's 1/3 now counts
  recall, count = seg.small_object_recall(pred[None], true[None], max_area=100)
  assert count == 4 and recall == pytest.approx(1 / 4)   # D (0/8) joins, missed
  recall, count = seg.small_object_recall(pred[None], np.zeros_like(true)[None])
  assert count == 0 and np.isnan(recall)
  with pytest.raises(ValueError, match=r"one shape N x H x W; got \(1, 6, 6\) and \(6, 6\)"):
    seg.small_object_recall(pred[None], true)
