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
