"""Metrics against hand-computed values."""
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib import metrics


def ratio(sums):
  num, den = sums
  return float(num) / float(den)


def test_accuracy_counts_argmax_hits_and_ignores_masked_rows():
  logits = jnp.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [9.0, 0.0, 0.0]])
  labels = jnp.array([0, 2, 2, 1])
  assert ratio(metrics.accuracy(logits, labels, jnp.ones(4, bool))) == 0.5
  # The last row (wrong) is padding: 2 of 3 real rows are right.
  assert ratio(metrics.accuracy(logits, labels, jnp.array([1, 1, 1, 0], bool))) == pytest.approx(2 / 3)


def test_binary_accuracy_thresholds_logits_at_zero():
  logits = jnp.array([[3.0, -1.0], [-0.5, 0.5]])
  labels = jnp.array([[1.0, 1.0], [0.0, 1.0]])
  assert ratio(metrics.binary_accuracy(logits, labels, jnp.ones(2, bool))) == 0.75
  assert ratio(metrics.binary_accuracy(logits, labels, jnp.array([False, True]))) == 1.0


def test_mse_and_mae_by_hand():
  pred = jnp.array([[0.1], [0.7], [0.2]])
  target = jnp.array([[0.0], [1.0], [0.0]])
  mask = jnp.ones(3, bool)
  # Notes 001's L1 example: |0 - 0.1| + |1 - 0.7| + |0 - 0.2| = 0.6 over 3 values.
  assert ratio(metrics.mae(pred, target, mask)) == pytest.approx(0.6 / 3)
  assert ratio(metrics.mse(pred, target, mask)) == pytest.approx((0.01 + 0.09 + 0.04) / 3)


def test_sums_add_up_across_batches():
  rng = np.random.default_rng(0)
  logits, labels = rng.normal(size=(10, 4)), rng.integers(0, 4, 10)
  whole = metrics.accuracy(logits, labels, np.ones(10, bool))
  parts = [metrics.accuracy(logits[s], labels[s], np.ones(5, bool)) for s in (slice(0, 5), slice(5, 10))]
  assert ratio(whole) == ratio((sum(p[0] for p in parts), sum(p[1] for p in parts)))


def test_unknown_metric_lists_valid_names():
  with pytest.raises(ValueError, match="unknown metric 'acc'; valid: accuracy"):
    metrics.get("acc")
