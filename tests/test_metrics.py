"""Metrics against hand-computed values."""
import jax
import jax.numpy as jnp
import pytest

from nn_lib import metrics


def test_accuracy_counts_argmax_hits():
  logits = jnp.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [9.0, 0.0, 0.0]])
  labels = jnp.array([0, 2, 2, 1])
  assert float(metrics.accuracy(logits, labels)) == 0.5
  assert float(jax.jit(metrics.accuracy)(logits[:3], labels[:3])) == pytest.approx(2 / 3)


def test_binary_accuracy_thresholds_logits_at_zero():
  logits = jnp.array([[3.0, -1.0], [-0.5, 0.5]])
  labels = jnp.array([[1.0, 1.0], [0.0, 1.0]])
  assert float(metrics.binary_accuracy(logits, labels)) == 0.75


def test_mse_and_mae_by_hand():
  pred = jnp.array([[0.1], [0.7], [0.2]])
  target = jnp.array([[0.0], [1.0], [0.0]])
  # Notes 001's L1 example: |0 - 0.1| + |1 - 0.7| + |0 - 0.2| = 0.6 over 3 values.
  assert float(metrics.mae(pred, target)) == pytest.approx(0.6 / 3)
  assert float(metrics.mse(pred, target)) == pytest.approx((0.01 + 0.09 + 0.04) / 3)


def test_unknown_metric_lists_valid_names():
  with pytest.raises(ValueError, match="unknown metric 'acc'; valid: accuracy"):
    metrics.get("acc")


def test_f1_of_the_notes_classifier_a():
  # Notes 004: classifier A with precision 95% and recall 90% has F1 92.4%.
  assert float(metrics.f1_score(jnp.float32(0.95), jnp.float32(0.90))) == pytest.approx(0.924, abs=5e-4)


def test_multiclass_precision_recall_f1_by_hand():
  # true: 0 0 1 1 2 ; predicted: 0 1 1 1 0
  logits = jnp.eye(3)[jnp.array([0, 1, 1, 1, 0])]
  labels = jnp.array([0, 0, 1, 1, 2])
  np_cm = [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
  assert metrics.confusion_matrix(logits, labels).tolist() == np_cm
  # per class P = (1/2, 2/3, 0), R = (1/2, 1, 0)
  get = lambda n: float(metrics.get(n)(logits, labels))
  assert get("precision_macro") == pytest.approx((0.5 + 2 / 3 + 0) / 3)
  assert get("recall_macro") == pytest.approx((0.5 + 1 + 0) / 3)
  f1 = [0.5, 2 * (2 / 3) / (2 / 3 + 1), 0.0]
  assert get("f1_macro") == pytest.approx(sum(f1) / 3)
  assert get("f1_micro") == pytest.approx(float(metrics.accuracy(logits, labels)))


def test_multilabel_micro_f1_pools_counts():
  logits = jnp.array([[1.0, -1.0, 2.0], [1.0, 1.0, -3.0]])
  targets = jnp.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
  # TP = 3 (0,0) (1,0) (1,1); FP = 1 (0,2); FN = 1 (1,2) -> P = R = F1 = 3/4
  assert float(metrics.get("multilabel_f1_micro")(logits, targets)) == pytest.approx(0.75)
  assert float(metrics.get("multilabel_precision_micro")(logits, targets)) == pytest.approx(0.75)
  assert float(metrics.get("exact_match")(logits, targets)) == 0.0
  # per class F1: class0 1, class1 1, class2 P=0 R=0 -> 0
  assert float(metrics.get("multilabel_f1_macro")(logits, targets)) == pytest.approx(2 / 3)
