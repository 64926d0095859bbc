"""Precision, recall and (mean) average precision of a detector over a split (notes 004
"Object detection", "Evaluating" and "Mean Average Precision").

For one class and an IoU threshold alpha:

  1. run the detector on every image of the split;
  2. sort all the class's detections by score, most confident first;
  3. match them to ground truth, image by image, greedily by score: a detection
     matches the unmatched ground-truth box of its class and image with the highest
     IoU, if that IoU >= alpha (TP), else it is a false positive (FP); each
     ground-truth box is matched at most once, so a duplicate detection is an FP;
  4. after the k-th detection, P_k = TP_k / k and R_k = TP_k / (number of
     ground-truth boxes of the class), the notes' table;
  5. AP = the area under the interpolated precision envelope, all-point
     interpolation (PASCAL VOC 2010 and later):

       AP = sum_k (R_k - R_{k-1}) max_{j >= k} P_j,   R_0 = 0.

mAP = (1/n) sum_i AP_i over the n classes that have ground truth; mAP@0.5 uses
alpha = 0.5 and mAP@[.5:.95] averages mAP over alpha = 0.5, 0.55, ..., 0.95 (COCO's
primary metric; COCO samples the envelope at 101 recall points instead of every
point, which changes AP slightly).

Host-side numpy, on a whole split: the greedy matching is sequential. Inputs per image
are the fixed-size, masked arrays of `nn_lib.decoding` (e.g. `jax.vmap(nms)`'s output):
`Detections(boxes, scores, classes, valid)` and `GroundTruth(boxes, classes, valid)`,
each field either an array with a leading image axis (I x N x 4, I x N, ...) or a
list of per-image arrays (images may then hold different numbers of boxes). Boxes
are (x, y, w, h), centre and size, like `nn_lib.metrics.detection.box_iou`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

# 0.5, 0.55, ..., 0.95 written out, so that each is the nearest float to its decimal
# (np.arange accumulates error, e.g. 0.7000000000000001, which would move a match of
# IoU exactly 0.7 across the threshold).
COCO_IOU_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


class Detections(NamedTuple):
  """A split's detections, per image: boxes N x 4, scores N, classes N, valid N
  (None: all real). Any (boxes, scores, classes, valid) tuple works too."""

  boxes: Any
  scores: Any
  classes: Any
  valid: Any = None


class GroundTruth(NamedTuple):
  """A split's ground truth, per image: boxes K x 4, classes K, valid K (None: all
  real). Any (boxes, classes, valid) tuple works too."""

  boxes: Any
  classes: Any
  valid: Any = None


class PrecisionRecall(NamedTuple):
  """One class's detections over the split, most confident first (the notes' table)."""

  scores_D: np.ndarray
  true_positive_D: np.ndarray  # bool: matched a ground-truth box
  precision_D: np.ndarray
  recall_D: np.ndarray
  num_ground_truth: int


def pairwise_iou(boxes_a_Nx4: np.ndarray, boxes_b_Kx4: np.ndarray) -> np.ndarray:
  """N x K IoU of (x, y, w, h) boxes in float64: the formula of
  `nn_lib.metrics.detection.box_iou`, I / (w_a h_a + w_b h_b - I); 0 for an empty union."""
  a = np.asarray(boxes_a_Nx4, np.float64).reshape(-1, 4)[:, None, :]
  b = np.asarray(boxes_b_Kx4, np.float64).reshape(-1, 4)[None, :, :]
  side = np.clip(
    np.minimum(a[..., :2] + a[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2)
    - np.maximum(a[..., :2] - a[..., 2:] / 2, b[..., :2] - b[..., 2:] / 2),
    0.0,
    None,
  )
  inter = side[..., 0] * side[..., 1]
  union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
  return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _images(detections: Sequence, ground_truth: Sequence):
  """Per image: (det boxes Nx4, scores N, classes N, gt boxes Kx4, classes K), the
  padding removed, checked."""
  if len(detections) not in (3, 4) or len(ground_truth) not in (2, 3):
    raise ValueError(
      "average precision: detections must be (boxes, scores, classes"
      "[, valid]) and ground_truth (boxes, classes[, valid]), each field "
      f"per image; got tuples of {len(detections)} and {len(ground_truth)}"
    )

  # One host copy of a stacked (device) array, rather than one transfer per image.
  def host(field):
    return np.asarray(field) if hasattr(field, "shape") else field

  d_boxes, d_scores, d_classes, d_valid = map(host, (*detections, None)[:4])
  g_boxes, g_classes, g_valid = map(host, (*ground_truth, None)[:3])
  if len(d_boxes) != len(g_boxes):
    raise ValueError(
      f"average precision: {len(d_boxes)} images of detections but "
      f"{len(g_boxes)} of ground truth; give both for the same images"
    )
  out = []
  for i in range(len(d_boxes)):
    db = np.asarray(d_boxes[i], np.float64).reshape(-1, 4)
    ds, dc = np.asarray(d_scores[i], np.float64), np.asarray(d_classes[i])
    gb = np.asarray(g_boxes[i], np.float64).reshape(-1, 4)
    gc = np.asarray(g_classes[i])
    if ds.shape != (len(db),) or dc.shape != (len(db),) or gc.shape != (len(gb),):
      raise ValueError(
        f"average precision: image {i}: needs detection boxes N x 4, scores N, "
        f"classes N and ground-truth boxes K x 4, classes K; got "
        f"{np.shape(d_boxes[i])}, {ds.shape}, {dc.shape}, {np.shape(g_boxes[i])}, "
        f"{gc.shape}"
      )
    dv = np.ones(len(db), bool) if d_valid is None else np.asarray(d_valid[i], bool)
    gv = np.ones(len(gb), bool) if g_valid is None else np.asarray(g_valid[i], bool)
    if dv.shape != (len(db),) or gv.shape != (len(gb),):
      raise ValueError(
        f"average precision: image {i}: valid masks of shape {dv.shape} "
        f"and {gv.shape} do not fit {len(db)} detections and {len(gb)} "
        f"ground-truth boxes"
      )
    out.append((db[dv], ds[dv], dc[dv].astype(np.int64), gb[gv], gc[gv].astype(np.int64)))
  return out


def _match_image(
  d_boxes, d_scores, d_classes, g_boxes, g_classes, thresholds_T: np.ndarray
) -> np.ndarray:
  """T x N: whether each detection of one image is a true positive at each threshold."""
  n = len(d_scores)
  tp_TxN = np.zeros((len(thresholds_T), n), bool)
  if n == 0 or len(g_boxes) == 0:
    return tp_TxN
  iou_NxK = pairwise_iou(d_boxes, g_boxes)
  iou_NxK[d_classes[:, None] != g_classes[None, :]] = -1.0  # other class: never a match
  order = np.argsort(-d_scores, kind="stable")
  for t, alpha in enumerate(thresholds_T):
    free_K = np.ones(len(g_boxes), bool)
    for d in order:
      iou_K = np.where(free_K, iou_NxK[d], -1.0)
      k = int(np.argmax(iou_K))
      if iou_K[k] >= alpha:
        tp_TxN[t, d], free_K[k] = True, False
  return tp_TxN


def _split_matches(detections, ground_truth, thresholds_T):
  """All detections of the split, flattened: scores D, classes D, true positive T x D,
  and the ground-truth class of every ground-truth box."""
  images = _images(detections, ground_truth)
  thresholds_T = np.asarray(thresholds_T, np.float64).reshape(-1)
  if len(thresholds_T) == 0 or np.any((thresholds_T < 0) | (thresholds_T > 1)):
    raise ValueError(
      f"average precision: IoU thresholds must be in [0, 1]; got {thresholds_T.tolist()}"
    )
  tp = [_match_image(*im, thresholds_T) for im in images]

  def cat(xs, dtype):
    return np.concatenate(xs) if xs else np.zeros((0,), dtype)

  return (
    cat([im[1] for im in images], np.float64),
    cat([im[2] for im in images], np.int64),
    np.concatenate(tp, axis=1) if tp else np.zeros((len(thresholds_T), 0), bool),
    cat([im[4] for im in images], np.int64),
  )


def _table(scores_D, tp_D, num_gt: int) -> PrecisionRecall:
  # Stable: equal scores keep split order (earlier image, then earlier detection).
  order = np.argsort(-scores_D, kind="stable")
  tp = tp_D[order]
  cum_tp = np.cumsum(tp)
  precision = cum_tp / np.arange(1, len(tp) + 1)
  recall = cum_tp / num_gt if num_gt else np.full(len(tp), np.nan)
  return PrecisionRecall(scores_D[order], tp, precision, recall, num_gt)


def precision_recall_table(
  detections: Sequence, ground_truth: Sequence, *, class_id: int, iou_threshold: float = 0.5
) -> PrecisionRecall:
  """The notes' table for one class: its detections over the split sorted by score
  (most confident first), whether each is a TP, and P_k = TP_k / k, R_k = TP_k /
  #ground truth after each. Recall is NaN if the class has no ground truth."""
  scores, classes, tp_TxD, gt_classes = _split_matches(detections, ground_truth, [iou_threshold])
  mine = classes == class_id
  return _table(scores[mine], tp_TxD[0, mine], int(np.sum(gt_classes == class_id)))


def all_point_average_precision(precision_D: np.ndarray, recall_D: np.ndarray) -> float:
  """All-point interpolated AP of a precision/recall table in score order:

      AP = sum_k (R_k - R_{k-1}) max_{j >= k} P_j,   R_0 = 0,

  the area under the precision envelope (VOC 2010+). 0 for an empty table (a class
  that was never detected). Recall must be over the class's ground-truth boxes (as
  `precision_recall_table` gives it), so missed boxes lower the AP."""
  precision = np.asarray(precision_D, np.float64)
  recall = np.asarray(recall_D, np.float64)
  if precision.shape != recall.shape or precision.ndim != 1:
    raise ValueError(
      f"all_point_average_precision: needs precision D and recall D of "
      f"one table; got {precision.shape} and {recall.shape}"
    )
  if len(precision) == 0:
    return 0.0
  # The envelope makes the curve monotone: a lower precision at some recall is
  # raised to the best precision reachable by going on to a higher recall.
  envelope = np.maximum.accumulate(precision[::-1])[::-1]
  steps = np.diff(np.concatenate([[0.0], recall]))
  return float(np.sum(steps * envelope))


def per_class_average_precision(
  detections: Sequence,
  ground_truth: Sequence,
  *,
  num_classes: int,
  iou_thresholds: float | Sequence[float] = 0.5,
) -> np.ndarray:
  """C x T: AP of every class at every IoU threshold. A class with ground truth but
  no detection has AP 0; a class without ground truth has AP NaN (undefined: it has
  no recall), which `mean_average_precision` leaves out."""
  if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
    raise ValueError(
      f"per_class_average_precision: num_classes must be a positive int; got {num_classes!r}"
    )
  thresholds = np.atleast_1d(np.asarray(iou_thresholds, np.float64))
  scores, classes, tp_TxD, gt_classes = _split_matches(detections, ground_truth, thresholds)
  if len(classes) and (classes.min() < 0 or classes.max() >= num_classes):
    raise ValueError(
      f"per_class_average_precision: detection classes must be in "
      f"[0, {num_classes}); got {sorted(set(classes.tolist()))}"
    )
  ap = np.full((num_classes, len(thresholds)), np.nan)
  for c in range(num_classes):
    num_gt = int(np.sum(gt_classes == c))
    if num_gt == 0:
      continue
    mine = classes == c
    for t in range(len(thresholds)):
      table = _table(scores[mine], tp_TxD[t, mine], num_gt)
      ap[c, t] = all_point_average_precision(table.precision_D, table.recall_D)
  return ap


def mean_average_precision(
  detections: Sequence,
  ground_truth: Sequence,
  *,
  num_classes: int,
  iou_thresholds: float | Sequence[float] = 0.5,
) -> float:
  """mAP = (1/n) sum_i AP_i over the n classes with ground truth, averaged over the
  IoU thresholds (one threshold: mAP@alpha; COCO_IOU_THRESHOLDS: mAP@[.5:.95]).
  NaN if no class has ground truth."""
  ap_CxT = per_class_average_precision(
    detections, ground_truth, num_classes=num_classes, iou_thresholds=iou_thresholds
  )
  has_gt = ~np.isnan(ap_CxT[:, 0])
  return float(np.mean(ap_CxT[has_gt])) if np.any(has_gt) else float("nan")


def map_50(detections: Sequence, ground_truth: Sequence, *, num_classes: int) -> float:
  """mAP@0.5: mean over classes of AP at IoU threshold 0.5 (PASCAL VOC's metric)."""
  return mean_average_precision(
    detections, ground_truth, num_classes=num_classes, iou_thresholds=0.5
  )


def map_50_95(detections: Sequence, ground_truth: Sequence, *, num_classes: int) -> float:
  """mAP@[.5:.95]: mAP averaged over IoU thresholds 0.5, 0.55, ..., 0.95 (COCO)."""
  return mean_average_precision(
    detections, ground_truth, num_classes=num_classes, iou_thresholds=COCO_IOU_THRESHOLDS
  )
