"""Evaluation metrics: `metric(outputs, targets) -> scalar` over a batch or a split.

Written with jax.numpy, so the same function runs on device inside the jitted train
step (on the training batch) and on the host over a whole evaluation split, whose
outputs the loop gathers first (padding removed). Metrics that are not averages
over examples (F1, Kendall tau, ...) are therefore exact, not batch-averaged.
Experiments name them in `config.metrics`; `get(name)` looks them up.
"""
from nn_lib.metrics import (  # noqa: F401  (modules register)
    basic, classification, detection, ranking, reconstruction)
from nn_lib.metrics.basic import (accuracy, binary_accuracy, euclidean, mae, mse,
                                  squared_euclidean)
from nn_lib.metrics.classification import (confusion_matrix, f1_score,
                                           softmax_multilabel_f1_micro)
from nn_lib.metrics.detection import box_iou, decode_boxes, mean_box_iou, presence_accuracy
from nn_lib.metrics.ranking import kendall_tau, pairwise_accuracy
from nn_lib.metrics.reconstruction import reconstruction_mse
from nn_lib.metrics.registry import METRICS, check_metrics_fit, get, register

__all__ = ["METRICS", "accuracy", "binary_accuracy", "box_iou", "check_metrics_fit",
           "confusion_matrix",
           "decode_boxes", "euclidean", "f1_score", "get", "kendall_tau", "mae",
           "mean_box_iou", "mse", "pairwise_accuracy", "presence_accuracy",
           "reconstruction_mse", "register", "softmax_multilabel_f1_micro",
           "squared_euclidean"]
