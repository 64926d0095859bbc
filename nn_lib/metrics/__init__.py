"""Evaluation metrics: `metric(outputs, targets) -> scalar` over a batch or a split.

Written with jax.numpy, so the same function runs on device inside the jitted train
step (on the training batch) and on the host over a whole evaluation split, whose
outputs the loop gathers first (padding removed). Metrics that are not averages
over examples (F1, Kendall tau, ...) are therefore exact, not batch-averaged.
Experiments name them in `config.metrics`; `get(name)` looks them up.
"""

from nn_lib.metrics import (  # noqa: F401  (modules register)
  basic,
  classification,
  detection,
  ranking,
  reconstruction,
  segmentation,
  verification,
)

# Average precision matches detections to ground truth greedily on the host over a
# whole split (numpy), so it is a library of functions, not registered metrics.
from nn_lib.metrics.average_precision import (
  COCO_IOU_THRESHOLDS,
  Detections,
  GroundTruth,
  PrecisionRecall,
  all_point_average_precision,
  map_50,
  map_50_95,
  mean_average_precision,
  pairwise_iou,
  per_class_average_precision,
  precision_recall_table,
)
from nn_lib.metrics.basic import accuracy, binary_accuracy, euclidean, mae, mse, squared_euclidean

# BLEU counts the n-grams of variable-length token sequences on the host (plain
# Python), a library of functions like average precision.
from nn_lib.metrics.bleu import (
  BleuScore,
  brevity_penalty,
  characters,
  clipped_counts,
  closest_reference_length,
  corpus_bleu,
  modified_precision,
  ngram_counts,
  sentence_bleu,
)
from nn_lib.metrics.classification import confusion_matrix, f1_score, softmax_multilabel_f1_micro
from nn_lib.metrics.detection import box_iou, decode_boxes, mean_box_iou, presence_accuracy
from nn_lib.metrics.ranking import kendall_tau, pairwise_accuracy
from nn_lib.metrics.reconstruction import psnr, reconstruction_mse
from nn_lib.metrics.registry import METRICS, check_metrics_fit, get, register
from nn_lib.metrics.segmentation import (
  iou_and_dice_from_confusion,
  mean_dice,
  mean_iou,
  per_class_iou_and_dice,
  pixel_accuracy,
  segmentation_confusion_matrix,
)
from nn_lib.metrics.verification import (
  far_frr,
  pairwise_squared_distances,
  recall_at_1,
  verification_eer,
  verification_roc,
)

__all__ = [
  "COCO_IOU_THRESHOLDS",
  "Detections",
  "GroundTruth",
  "METRICS",
  "PrecisionRecall",
  "accuracy",
  "all_point_average_precision",
  "binary_accuracy",
  "box_iou",
  "check_metrics_fit",
  "confusion_matrix",
  "decode_boxes",
  "euclidean",
  "f1_score",
  "get",
  "iou_and_dice_from_confusion",
  "kendall_tau",
  "mae",
  "map_50",
  "map_50_95",
  "mean_average_precision",
  "mean_box_iou",
  "mean_dice",
  "mean_iou",
  "mse",
  "pairwise_accuracy",
  "pairwise_iou",
  "per_class_average_precision",
  "per_class_iou_and_dice",
  "pixel_accuracy",
  "precision_recall_table",
  "presence_accuracy",
  "psnr",
  "reconstruction_mse",
  "register",
  "segmentation_confusion_matrix",
  "softmax_multilabel_f1_micro",
  "squared_euclidean",
  "far_frr",
  "pairwise_squared_distances",
  "recall_at_1",
  "verification_eer",
  "verification_roc",
  "BleuScore",
  "brevity_penalty",
  "characters",
  "clipped_counts",
  "closest_reference_length",
  "corpus_bleu",
  "modified_precision",
  "ngram_counts",
  "sentence_bleu",
]
