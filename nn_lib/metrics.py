"""Evaluation metrics, computed on device as (numerator, denominator) sums.

Sums (not means) per batch let the loop add batches and devices exactly, including a
padded final batch: metric = sum(numerators) / sum(denominators). `mask_B` marks the
real rows of a batch.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

Sums = tuple[jax.Array, jax.Array]
MetricFn = Callable[[jax.Array, jax.Array, jax.Array], Sums]


def _rows(mask_B: jax.Array, like: jax.Array) -> jax.Array:
  """The row mask broadcast over trailing dimensions of `like`."""
  return jnp.reshape(mask_B, mask_B.shape + (1,) * (like.ndim - 1)).astype(jnp.float32)


def accuracy(logits_BxC, labels_B, mask_B) -> Sums:
  """Fraction of rows whose arg-max class equals the integer label."""
  correct = (jnp.argmax(logits_BxC, axis=-1) == labels_B).astype(jnp.float32)
  m = mask_B.astype(jnp.float32)
  return jnp.sum(correct * m), jnp.sum(m)


def binary_accuracy(logits, labels, mask_B) -> Sums:
  """Per-output accuracy of sigmoid outputs thresholded at p = 0.5 (logit 0)."""
  correct = ((logits > 0) == (labels > 0.5)).astype(jnp.float32)
  m = jnp.broadcast_to(_rows(mask_B, correct), correct.shape)
  return jnp.sum(correct * m), jnp.sum(m)


def mse(predictions, targets, mask_B) -> Sums:
  """Mean squared error over every predicted value."""
  se = jnp.square(predictions - targets.astype(predictions.dtype))
  m = jnp.broadcast_to(_rows(mask_B, se), se.shape)
  return jnp.sum(se * m), jnp.sum(m)


def mae(predictions, targets, mask_B) -> Sums:
  """Mean absolute error over every predicted value."""
  ae = jnp.abs(predictions - targets.astype(predictions.dtype))
  m = jnp.broadcast_to(_rows(mask_B, ae), ae.shape)
  return jnp.sum(ae * m), jnp.sum(m)


METRICS: dict[str, MetricFn] = {
    "accuracy": accuracy,
    "binary_accuracy": binary_accuracy,
    "mse": mse,
    "mae": mae,
}


def get(name: str) -> MetricFn:
  if name not in METRICS:
    raise ValueError(f"unknown metric {name!r}; valid: {', '.join(sorted(METRICS))}")
  return METRICS[name]
