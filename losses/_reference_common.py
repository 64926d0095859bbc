"""Helpers shared by the reference formulas (``losses.reference`` and the two files
it re-exports): plain ``jax.numpy``, no custom derivatives."""

from __future__ import annotations

import jax

sigmoid = jax.nn.sigmoid
log_softmax = jax.nn.log_softmax


def _onehot(labels, n):
  return jax.nn.one_hot(labels, n)


def _bce_logits(z, t):  # -t log sigma(z) - (1 - t) log(1 - sigma(z))
  return -t * jax.nn.log_sigmoid(z) - (1.0 - t) * jax.nn.log_sigmoid(-z)
