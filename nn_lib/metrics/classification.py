"""Precision, recall, F1 and the confusion matrix (notes 004, "single number
evaluation metric"): multi-class from logits and integer labels, multi-label from
independent-sigmoid logits and 0/1 targets.

  precision = TP / (TP + FP)   recall = TP / (TP + FN)   F1 = 2 P R / (P + R)

Macro averages the per-class values; micro pools the counts of every class first.
A class with no predictions (or no examples) counts as precision (recall) 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nn_lib.metrics.registry import register


def f1_score(precision: jax.Array, recall: jax.Array) -> jax.Array:
  """The harmonic mean 2PR / (P + R); 0 where P + R = 0."""
  total = precision + recall
  return jnp.where(total > 0, 2 * precision * recall / jnp.where(total > 0, total, 1), 0)


def _ratio(num: jax.Array, den: jax.Array) -> jax.Array:
  return jnp.where(den > 0, num / jnp.where(den > 0, den, 1), 0.0)


def confusion_matrix(logits_BxC: jax.Array, labels_B: jax.Array) -> jax.Array:
  """C x C counts: row = true class, column = predicted class."""
  num_classes = logits_BxC.shape[-1]
  pred = jax.nn.one_hot(jnp.argmax(logits_BxC, axis=-1), num_classes)
  true = jax.nn.one_hot(labels_B, num_classes)
  return true.T @ pred


def _counts(true_BxC: jax.Array, pred_BxC: jax.Array):
  """Per-class true positives, false positives, false negatives."""
  tp = jnp.sum(true_BxC * pred_BxC, axis=0)
  return tp, jnp.sum(pred_BxC, axis=0) - tp, jnp.sum(true_BxC, axis=0) - tp


def _multiclass_counts(logits_BxC, labels_B):
  c = logits_BxC.shape[-1]
  return _counts(jax.nn.one_hot(labels_B, c), jax.nn.one_hot(jnp.argmax(logits_BxC, -1), c))


def _multilabel_counts(logits_BxC, targets_BxC):
  return _counts((targets_BxC > 0.5).astype(jnp.float32), (logits_BxC > 0).astype(jnp.float32))


def _macro(counts, which: str) -> jax.Array:
  tp, fp, fn = counts
  precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
  value = {"precision": precision, "recall": recall, "f1": f1_score(precision, recall)}
  return jnp.mean(value[which])


def _micro(counts, which: str) -> jax.Array:
  tp, fp, fn = (jnp.sum(x) for x in counts)
  precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
  return {"precision": precision, "recall": recall, "f1": f1_score(precision, recall)}[which]


@register("precision_macro")
def precision_macro(logits_BxC, labels_B):
  return _macro(_multiclass_counts(logits_BxC, labels_B), "precision")


@register("recall_macro")
def recall_macro(logits_BxC, labels_B):
  return _macro(_multiclass_counts(logits_BxC, labels_B), "recall")


@register("f1_macro")
def f1_macro(logits_BxC, labels_B):
  return _macro(_multiclass_counts(logits_BxC, labels_B), "f1")


@register("f1_micro")
def f1_micro(logits_BxC, labels_B):
  """For single-label multi-class data this equals accuracy."""
  return _micro(_multiclass_counts(logits_BxC, labels_B), "f1")


@register("multilabel_precision_micro")
def multilabel_precision_micro(logits_BxC, targets_BxC):
  return _micro(_multilabel_counts(logits_BxC, targets_BxC), "precision")


@register("multilabel_recall_micro")
def multilabel_recall_micro(logits_BxC, targets_BxC):
  return _micro(_multilabel_counts(logits_BxC, targets_BxC), "recall")


@register("multilabel_f1_micro")
def multilabel_f1_micro(logits_BxC, targets_BxC):
  return _micro(_multilabel_counts(logits_BxC, targets_BxC), "f1")


@register("multilabel_f1_macro")
def multilabel_f1_macro(logits_BxC, targets_BxC):
  return _macro(_multilabel_counts(logits_BxC, targets_BxC), "f1")


@register("exact_match")
def exact_match(logits_BxC, targets_BxC):
  """Fraction of examples whose whole label set is predicted exactly."""
  return jnp.mean(jnp.all((logits_BxC > 0) == (targets_BxC > 0.5), axis=-1))


def softmax_multilabel_f1_micro(logits_BxC, targets_BxC, threshold: float) -> jax.Array:
  """Micro-F1 of a softmax head read as several labels: class c is predicted where
  p_c > threshold, and present where its target is > 0 (a 0/1 presence vector or
  that vector normalised to a distribution). Notes 000: the p_c sum to 1, so at
  threshold 0.5 at most one label per example can be predicted."""
  predicted = jax.nn.softmax(jnp.asarray(logits_BxC, jnp.float32), axis=-1) > threshold
  present = jnp.asarray(targets_BxC) > 0
  return _micro(_counts(present.astype(jnp.float32), predicted.astype(jnp.float32)), "f1")


@register("softmax_f1_micro_p50")
def softmax_f1_micro_p50(logits_BxC, targets_BxC):
  return softmax_multilabel_f1_micro(logits_BxC, targets_BxC, 0.5)
