"""Accuracy and regression errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nn_lib.metrics.registry import register


@register("accuracy")
def accuracy(logits_BxC: jax.Array, labels_B: jax.Array) -> jax.Array:
  """Fraction of rows whose arg-max class equals the integer label."""
  return jnp.mean(jnp.argmax(logits_BxC, axis=-1) == labels_B)


@register("binary_accuracy")
def binary_accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-output accuracy of sigmoid outputs thresholded at p = 0.5 (logit 0)."""
  return jnp.mean((logits > 0) == (labels > 0.5))


@register("mse")
def mse(predictions: jax.Array, targets: jax.Array) -> jax.Array:
  """Mean squared error over every predicted value."""
  return jnp.mean(jnp.square(predictions - targets.astype(predictions.dtype)))


@register("mae")
def mae(predictions: jax.Array, targets: jax.Array) -> jax.Array:
  """Mean absolute error over every predicted value."""
  return jnp.mean(jnp.abs(predictions - targets.astype(predictions.dtype)))


def _row_distance(predictions_BxN: jax.Array, targets_BxN: jax.Array) -> jax.Array:
  diff = predictions_BxN - targets_BxN.astype(predictions_BxN.dtype)
  return jnp.sum(jnp.square(diff.reshape(diff.shape[0], -1)), axis=-1)


@register("euclidean")
def euclidean(predictions_BxN: jax.Array, targets_BxN: jax.Array) -> jax.Array:
  """Notes 000's vector absolute error, mean over rows of ||y - y^||_2."""
  return jnp.mean(jnp.sqrt(_row_distance(predictions_BxN, targets_BxN)))


@register("squared_euclidean")
def squared_euclidean(predictions_BxN: jax.Array, targets_BxN: jax.Array) -> jax.Array:
  """Notes 000's vector squared error, mean over rows of ||y - y^||_2^2."""
  return jnp.mean(_row_distance(predictions_BxN, targets_BxN))
