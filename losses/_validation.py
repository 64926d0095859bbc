"""Input validation for :mod:`losses` (trace time: shapes and dtypes are
static under ``jax.jit``), plus the one eager check that looks at label
*values* (:func:`check_label_values`), which only acts on concrete labels.

Every error is a ``ValueError`` that names the function and the shapes.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _shape(x):
  return tuple(jnp.shape(x))


def check_floating(x, name: str, fn: str):
  """Raises ValueError unless ``x`` has a floating dtype."""
  dtype = jnp.result_type(x)
  if not jnp.issubdtype(dtype, jnp.floating):
    raise ValueError(
        f"{fn}: {name} must be floating point, got dtype {dtype} "
        f"with shape {_shape(x)}.")


def check_integer(x, name: str, fn: str):
  """Raises ValueError unless ``x`` has an integer dtype."""
  dtype = jnp.result_type(x)
  if not jnp.issubdtype(dtype, jnp.integer):
    raise ValueError(
        f"{fn}: {name} must be integer class indices, got dtype {dtype} "
        f"with shape {_shape(x)}.")


def check_real(x, name: str, fn: str):
  """Accepts bool, integer or floating ``x``; rejects complex and others."""
  dtype = jnp.result_type(x)
  if not (jnp.issubdtype(dtype, jnp.floating)
          or jnp.issubdtype(dtype, jnp.integer) or dtype == jnp.bool_):
    raise ValueError(f"{fn}: {name} must be real, got dtype {dtype}.")


def check_same_shape(a, b, name_a: str, name_b: str, fn: str):
  """Raises ValueError naming both shapes unless they are equal (no broadcast)."""
  sa, sb = _shape(a), _shape(b)
  if sa != sb:
    raise ValueError(
        f"{fn}: {name_a} shape {sa} and {name_b} shape {sb} must be equal "
        "(no implicit broadcasting).")


def check_min_rank(x, rank: int, name: str, fn: str):
  if jnp.ndim(x) < rank:
    raise ValueError(
        f"{fn}: {name} must have rank >= {rank}, got shape {_shape(x)}.")


def check_embedding_labels(embeddings, labels, fn: str):
  """A batch of embeddings (..., B, D) with integer labels (..., B)."""
  check_floating(embeddings, "embeddings", fn)
  check_integer(labels, "labels", fn)
  check_min_rank(embeddings, 2, "embeddings", fn)
  if _shape(labels) != _shape(embeddings)[:-1]:
    raise ValueError(
        f"{fn}: embeddings shape {_shape(embeddings)} and labels shape "
        f"{_shape(labels)} are incompatible (labels must be "
        f"{_shape(embeddings)[:-1]}).")


def normalize_axis(axis: int, ndim: int, fn: str) -> int:
  if not isinstance(axis, (int, np.integer)):
    raise ValueError(f"{fn}: axis must be a single int, got {axis!r}.")
  if not -ndim <= axis < ndim:
    raise ValueError(f"{fn}: axis {axis} out of range for rank {ndim}.")
  return int(axis) % ndim


def normalize_axes(axis, ndim: int, fn: str) -> tuple[int, ...]:
  """A class axis given as an int or a tuple of ints -> non-negative indices.

  A tuple names several axes that together form the class axis (flattened in
  the order given, as ``optax`` does), e.g. ``(2, 3)`` for 12 = 3 x 4 classes.
  """
  if isinstance(axis, (int, np.integer)):
    return (normalize_axis(axis, ndim, fn),)
  if not isinstance(axis, tuple) or not axis:
    raise ValueError(f"{fn}: axis must be an int or a non-empty tuple of ints, "
                     f"got {axis!r}.")
  axes = tuple(normalize_axis(a, ndim, fn) for a in axis)
  if len(set(axes)) != len(axes):
    raise ValueError(f"{fn}: axis {axis} names an axis twice.")
  return axes


def check_label_shape(logits, labels, axis, fn: str,
                      names=("logits", "labels")) -> tuple[int, ...]:
  """Checks labels.shape == logits.shape without ``axis``; returns the axes."""
  check_min_rank(logits, 1, names[0], fn)
  axes = normalize_axes(axis, jnp.ndim(logits), fn)
  expected = tuple(n for i, n in enumerate(_shape(logits)) if i not in axes)
  if _shape(labels) != expected:
    raise ValueError(
        f"{fn}: {names[0]} shape {_shape(logits)} and {names[1]} shape "
        f"{_shape(labels)} are incompatible: {names[1]} must have shape "
        f"{expected} ({names[0]} without axis {axis}).")
  return axes


def check_broadcast_to(x, shape, name: str, fn: str):
  """``where``/``weights`` may broadcast *to* the loss shape, never enlarge it."""
  if x is None:
    return
  sx = _shape(x)
  try:
    out = np.broadcast_shapes(sx, tuple(shape))
  except ValueError:
    out = None
  if out != tuple(shape):
    raise ValueError(
        f"{fn}: {name} shape {sx} does not broadcast to the per-example loss "
        f"shape {tuple(shape)}.")


def is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


def check_label_values(labels, num_classes: int, fn: str, name="labels"):
  """Eager guard: labels >= num_classes raise ValueError when concrete.

  Under ``jax.jit`` the labels are traced and this check cannot run; the
  loss then returns NaN for the offending examples instead (never a
  plausible wrong number). Negative labels mean "ignore".
  """
  if labels is None or not is_concrete(labels):
    return
  arr = np.asarray(labels)
  if arr.size and arr.max() >= num_classes:
    raise ValueError(
        f"{fn}: {name} contain {int(arr.max())} but there are only "
        f"{num_classes} classes (valid labels are 0..{num_classes - 1}; "
        "negative labels mean 'ignore').")


