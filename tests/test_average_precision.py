"""Precision/recall tables and (mean) average precision (notes 004 "Object detection",
"Mean Average Precision"), against the notes' table, hand-computed APs, the PASCAL VOC
devkit's interpolation and scikit-learn."""
from __future__ import annotations

import jax
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from nn_lib.metrics import average_precision as ap
from nn_lib.metrics.detection import box_iou

# Two images, three class-0 ground-truth boxes: a1, a2 in image A, b1 in image B.
A1, A2, B1 = [0.25, 0.25, 0.2, 0.2], [0.75, 0.75, 0.2, 0.2], [0.5, 0.5, 0.3, 0.3]
C1_A = [0.5, 0.2, 0.2, 0.2]  # class-1 ground truth in image A
C1_B = [0.2, 0.8, 0.2, 0.2]  # class-1 ground truth in image B
C2_B = [0.8, 0.2, 0.1, 0.1]  # class-2 ground truth in image B, never detected


def _notes_split(fp_score: float = 0.9, *, more_classes: bool = False):
  """The notes' example as per-image lists: 5 class-0 detections,
    0.99 on a1 (TP), fp_score far from any box (FP), 0.8 on a2 (TP), 0.5 on b1 (TP),
    0.3 on a1 again (FP: a1 is already matched, each ground truth matches once).
  more_classes adds class 1 (0.95 on b1, a class-0 box: FP; 0.6 on C1_A: TP) and
  an undetected class-2 box."""
  def near(box, dx):
    return [box[0] + dx, *box[1:]]
  det_a = [(near(A1, 0.01), 0.99, 0), (near(A2, -0.01), 0.8, 0), (near(A1, 0.03), 0.3, 0)]
  det_b = [([0.1, 0.1, 0.1, 0.1], fp_score, 0), (near(B1, 0.02), 0.5, 0)]
  gt_a, gt_b = [(A1, 0), (A2, 0)], [(B1, 0)]
  if more_classes:
    det_a.append((near(C1_A, 0.01), 0.6, 1))
    det_b.append((B1, 0.95, 1))
    gt_a.append((C1_A, 1))
    gt_b += [(C1_B, 1), (C2_B, 2)]
  dets = [[np.array(f) for f in zip(*d)] for d in (det_a, det_b)]
  gts = [[np.array(f) for f in zip(*g)] for g in (gt_a, gt_b)]
  return (ap.Detections(*(list(f) for f in zip(*dets))),
          ap.GroundTruth(*(list(f) for f in zip(*gts))))


def _padded(detections, ground_truth, n: int = 4, k: int = 4):
  """The same split as stacked I x N arrays with validity masks (nms's output form)."""
  def pad(arrays, size, fill):
    out = np.stack([np.concatenate([a, np.full((size - len(a),) + a.shape[1:], fill)])
                    for a in arrays])
    return out, np.stack([np.arange(size) < len(a) for a in arrays])
  (db, dv), (ds, _), (dc, _) = (pad(f, n, 0) for f in detections[:3])
  (gb, gv), (gc, _) = (pad(f, k, 0) for f in ground_truth[:2])
  return ap.Detections(db, ds, dc, dv), ap.GroundTruth(gb, gc, gv)


def test_notes_table_row_by_row():
  # Score  TP/FP  Precision  Recall
  # 0.99   TP     1          1/3
  # 0.9    FP     1/2        1/3
  # 0.8    TP     2/3        2/3
  # 0.5    TP     3/4        1
  # 0.3    FP     3/5        1
  dets, gts = _notes_split()
  for split in ((dets, gts), _padded(dets, gts)):
    table = ap.precision_recall_table(*split, class_id=0, iou_threshold=0.5)
    np.testing.assert_allclose(table.scores_D, [0.99, 0.9, 0.8, 0.5, 0.3])
    assert table.true_positive_D.tolist() == [True, False, True, True, False]
    np.testing.assert_allclose(table.precision_D, [1, 1 / 2, 2 / 3, 3 / 4, 3 / 5])
    np.testing.assert_allclose(table.recall_D, [1 / 3, 1 / 3, 2 / 3, 1, 1])
    assert table.num_ground_truth == 3


def test_notes_all_point_ap():
  # Envelope max_{j >= k} P_j: 1 up to recall 1/3, then 3/4 (the 0.8 row's 2/3 is
  # lifted to the 0.5 row's 3/4) from 1/3 to 1:
  #   AP = 1/3 * 1 + (2/3 - 1/3) * 3/4 + (1 - 2/3) * 3/4 = 1/3 + 1/2 = 5/6 = 0.8333...
  dets, gts = _notes_split()
  table = ap.precision_recall_table(dets, gts, class_id=0)
  ap_all_point = ap.all_point_average_precision(table.precision_D, table.recall_D)
  assert ap_all_point == pytest.approx(5 / 6)
  assert ap.map_50(dets, gts, num_classes=1) == pytest.approx(5 / 6)


def test_map_over_classes_and_a_class_never_detected():
  # Class 0: the notes' example, AP 5/6 (class 1's detection on b1 does not touch it).
  # Class 1, 2 ground-truth boxes: 0.95 on a class-0 box (FP: P 0, R 0), 0.6 on
  # C1_A (TP: P 1/2, R 1/2) -> AP = 1/2 * 1/2 = 1/4.
  # Class 2: ground truth, no detection -> AP 0. Class 3: no ground truth -> NaN,
  # left out of the mean: mAP = (5/6 + 1/4 + 0) / 3 = 13/36.
  dets, gts = _notes_split(more_classes=True)
  per_class = ap.per_class_average_precision(dets, gts, num_classes=4)
  assert per_class.shape == (4, 1)
  np.testing.assert_allclose(per_class[:3, 0], [5 / 6, 1 / 4, 0.0])
  assert np.isnan(per_class[3, 0])
  for split in ((dets, gts), _padded(dets, gts)):
    assert ap.map_50(*split, num_classes=4) == pytest.approx(13 / 36)
  table = ap.precision_recall_table(dets, gts, class_id=1)
  np.testing.assert_allclose(table.precision_D, [0, 1 / 2])
  np.testing.assert_allclose(table.recall_D, [0, 1 / 2])


@pytest.mark.parametrize("detection, iou, expected", [
    # A 1 x 1 ground-truth box and a 0.7 x 1 detection inside it: IoU exactly 0.7,
    # a match at thresholds 0.5, 0.55, ..., 0.7: 5 of the 10 -> mAP@[.5:.95] = 0.5.
    ([0.5, 0.5, 0.7, 1.0], 0.7, 0.5),
    # 0.85 x 1: IoU 0.85 counts for 0.5 .. 0.85: 8 of 10.
    ([0.5, 0.5, 0.85, 1.0], 0.85, 0.8),
    ([0.5, 0.5, 0.4, 1.0], 0.4, 0.0),
])
def test_map_50_95_counts_the_thresholds_the_iou_passes(detection, iou, expected):
  gt = [0.5, 0.5, 1.0, 1.0]
  assert ap.pairwise_iou([detection], [gt])[0, 0] == pytest.approx(iou, abs=1e-15)
  dets = ap.Detections([np.array([detection])], [np.array([0.9])], [np.array([0])])
  gts = ap.GroundTruth([np.array([gt])], [np.array([0])])
  assert ap.map_50_95(dets, gts, num_classes=1) == pytest.approx(expected)
  assert ap.map_50(dets, gts, num_classes=1) == float(iou >= 0.5)
  per_threshold = ap.per_class_average_precision(
      dets, gts, num_classes=1, iou_thresholds=ap.COCO_IOU_THRESHOLDS)[0]
  np.testing.assert_array_equal(per_threshold,
                                np.array(ap.COCO_IOU_THRESHOLDS) <= iou + 1e-12)


def test_against_sklearn_where_they_agree_and_where_they_differ():
  # sklearn's AP is the step sum sum_k (R_k - R_{k-1}) P_k without the envelope, with
  # recall over the positives it is given (the TPs). Both agree when every ground
  # truth is found and no later row has a higher precision than a TP row:
  # FP moved to 0.7 -> TP TP FP TP FP, P = 1, 1, 2/3, 3/4, 3/5 at recall 1/3, 2/3,
  # 2/3, 1, 1: AP = 1/3 + 1/3 + 1/3 * 3/4 = 11/12 either way.
  dets, gts = _notes_split(fp_score=0.7)
  table = ap.precision_recall_table(dets, gts, class_id=0)
  ours = ap.all_point_average_precision(table.precision_D, table.recall_D)
  assert ours == pytest.approx(11 / 12)
  assert average_precision_score(table.true_positive_D, table.scores_D) == pytest.approx(ours)
  # The notes' order: sklearn keeps the 0.8 row's 2/3, 1/3 + 1/3 * 2/3 + 1/3 * 3/4 =
  # 0.8056, where the envelope gives 5/6.
  table = ap.precision_recall_table(*_notes_split(), class_id=0)
  assert average_precision_score(table.true_positive_D, table.scores_D) == pytest.approx(29 / 36)
  assert ap.all_point_average_precision(table.precision_D, table.recall_D) == pytest.approx(5 / 6)


def _voc_devkit_ap(recall, precision) -> float:
  """PASCAL VOC devkit's VOCap (2010+), transcribed: sentinel points, the envelope
  from the right, and the area at the points where recall changes."""
  mrec = np.concatenate([[0.0], recall, [1.0]])
  mpre = np.concatenate([[0.0], precision, [0.0]])
  for i in range(len(mpre) - 2, -1, -1):
    mpre[i] = max(mpre[i], mpre[i + 1])
  i = np.flatnonzero(mrec[1:] != mrec[:-1])
  return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@pytest.mark.parametrize("seed", range(4))
def test_random_splits_against_voc_and_sklearn(seed):
  rng = np.random.default_rng(seed)
  def box(n):
    return np.concatenate([rng.uniform(0.2, 0.8, (n, 2)), rng.uniform(0.1, 0.4, (n, 2))], 1)
  gts, dets = [], []
  for _ in range(3):
    g = box(4)
    jitter = g[rng.integers(0, 4, 6)] + rng.normal(0, 0.03, (6, 4))
    d = np.concatenate([jitter, box(3)])  # near-duplicates and strays
    gts.append((g, rng.integers(0, 2, 4)))
    dets.append((d, rng.random(9), rng.integers(0, 2, 9)))
  dets = ap.Detections(*(list(f) for f in zip(*dets)))
  gts = ap.GroundTruth(*(list(f) for f in zip(*gts)))
  per_class = ap.per_class_average_precision(dets, gts, num_classes=2, iou_thresholds=0.3)
  for c in range(2):
    t = ap.precision_recall_table(dets, gts, class_id=c, iou_threshold=0.3)
    assert 0 < t.true_positive_D.sum() < len(t.true_positive_D)  # a real mix
    assert per_class[c, 0] == pytest.approx(_voc_devkit_ap(t.recall_D, t.precision_D))
    # sklearn's step sum, rescaled from "over the TPs" to "over the ground truth".
    step = np.sum(np.diff(np.concatenate([[0.0], t.recall_D])) * t.precision_D)
    sk = average_precision_score(t.true_positive_D, t.scores_D)
    assert sk * t.true_positive_D.sum() / t.num_ground_truth == pytest.approx(step)
    assert per_class[c, 0] >= step - 1e-12


def test_pairwise_iou_matches_box_iou():
  rng = np.random.default_rng(0)
  a, b = rng.uniform(0.05, 0.6, (5, 4)), rng.uniform(0.05, 0.6, (3, 4))
  expected = jax.jit(box_iou)(np.repeat(a[:, None], 3, 1), np.repeat(b[None], 5, 0))
  np.testing.assert_allclose(ap.pairwise_iou(a, b), np.asarray(expected), atol=1e-6)


def test_bad_inputs_say_what_is_wrong():
  dets, gts = _notes_split()
  with pytest.raises(ValueError, match="2 images of detections but 1 of ground truth"):
    ap.map_50(dets, ap.GroundTruth(gts.boxes[:1], gts.classes[:1]), num_classes=1)
  with pytest.raises(ValueError, match=r"detection classes must be in \[0, 1\)"):
    ap.map_50(*_notes_split(more_classes=True), num_classes=1)
  with pytest.raises(ValueError, match=r"IoU thresholds must be in \[0, 1\]"):
    ap.mean_average_precision(dets, gts, num_classes=1, iou_thresholds=50)
  bad = ap.Detections(dets.boxes, [s[:-1] for s in dets.scores], dets.classes)
  with pytest.raises(ValueError, match="image 0: needs detection boxes N x 4, scores N"):
    ap.map_50(bad, gts, num_classes=1)
