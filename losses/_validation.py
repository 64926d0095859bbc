"""Input validation for :mod:`losses` (trace time: shapes and dtypes are
static under ``jax.jit``), plus the eager checks that look at *values*, which
only act on concrete ones: label ranges (:func:`check_label_values`),
hyperparameter ranges (:func:`check_hyperparameter`) and probabilities
(:func:`check_unit_interval`).

Every error is a ``ValueError`` that names the function and the shapes or the
offending values.
"""

from __future__ import annotations

import functools

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
      f"{fn}: {name} must be floating point, got dtype {dtype} with shape {_shape(x)}."
    )


def check_integer(x, name: str, fn: str):
  """Raises ValueError unless ``x`` has an integer dtype."""
  dtype = jnp.result_type(x)
  if not jnp.issubdtype(dtype, jnp.integer):
    raise ValueError(
      f"{fn}: {name} must be integer class indices, got dtype {dtype} with shape {_shape(x)}."
    )


def check_real(x, name: str, fn: str):
  """Accepts bool, integer or floating ``x``; rejects complex and others."""
  dtype = jnp.result_type(x)
  if not (
    jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer) or dtype == jnp.bool_
  ):
    raise ValueError(f"{fn}: {name} must be real, got dtype {dtype}.")


def check_same_shape(a, b, name_a: str, name_b: str, fn: str):
  """Raises ValueError naming both shapes unless they are equal (no broadcast)."""
  sa, sb = _shape(a), _shape(b)
  if sa != sb:
    raise ValueError(
      f"{fn}: {name_a} shape {sa} and {name_b} shape {sb} must be equal (no implicit broadcasting)."
    )


def check_min_rank(x, rank: int, name: str, fn: str):
  if jnp.ndim(x) < rank:
    raise ValueError(f"{fn}: {name} must have rank >= {rank}, got shape {_shape(x)}.")


def check_embedding_labels(embeddings, labels, fn: str):
  """A batch of embeddings (..., B, D) with integer labels (..., B)."""
  check_floating(embeddings, "embeddings", fn)
  check_integer(labels, "labels", fn)
  check_min_rank(embeddings, 2, "embeddings", fn)
  if _shape(labels) != _shape(embeddings)[:-1]:
    raise ValueError(
      f"{fn}: embeddings shape {_shape(embeddings)} and labels shape "
      f"{_shape(labels)} are incompatible (labels must be "
      f"{_shape(embeddings)[:-1]})."
    )


def normalize_axis(axis: int | np.integer, ndim: int, fn: str) -> int:
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
    raise ValueError(f"{fn}: axis must be an int or a non-empty tuple of ints, got {axis!r}.")
  axes = tuple(normalize_axis(a, ndim, fn) for a in axis)
  if len(set(axes)) != len(axes):
    raise ValueError(f"{fn}: axis {axis} names an axis twice.")
  return axes


def check_label_shape(logits, labels, axis, fn: str, names=("logits", "labels")) -> tuple[int, ...]:
  """Checks labels.shape == logits.shape without ``axis``; returns the axes."""
  check_min_rank(logits, 1, names[0], fn)
  axes = normalize_axes(axis, jnp.ndim(logits), fn)
  expected = tuple(n for i, n in enumerate(_shape(logits)) if i not in axes)
  if _shape(labels) != expected:
    raise ValueError(
      f"{fn}: {names[0]} shape {_shape(logits)} and {names[1]} shape "
      f"{_shape(labels)} are incompatible: {names[1]} must have shape "
      f"{expected} ({names[0]} without axis {axis})."
    )
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
      f"{fn}: {name} shape {sx} does not broadcast to the per-example loss shape {tuple(shape)}."
    )


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
      "negative labels mean 'ignore')."
    )


# ----------------------------------------------------------------------------
# Eager value checks. Values are only known outside ``jax.jit`` (or for Python
# constants inside it); traced values are unchecked, so these checks never add
# work to the compiled loss.
# ----------------------------------------------------------------------------
# what a hyperparameter may be, in the message's words -> the test of its
# values; the comparisons are False for NaN, so NaN is refused too
_ALLOWED = {
  "> 0": lambda a: a > 0,
  ">= 0": lambda a: a >= 0,
  "in [0, 1]": lambda a: (a >= 0) & (a <= 1),
}


def check_hyperparameter(value, name: str, fn: str, allowed: str, hint: str = ""):
  """Raises ValueError when concrete ``value`` (a scalar or an array, e.g.
  per-class weights) is not ``allowed`` (a key of ``_ALLOWED``); ``hint``
  (e.g. " (0 is plain L1)") follows the rule in the message. None (an option
  left off) and traced values (under ``jax.jit``) pass unchecked."""
  if value is None or not is_concrete(value):
    return
  arr = np.asarray(value, dtype=np.float64)
  bad = arr[~_ALLOWED[allowed](arr)]
  if bad.size:
    got = (
      f"{float(bad[0])}"
      if arr.ndim == 0
      else f"{float(bad[0])} ({bad.size} of its {arr.size} entries)"
    )
    raise ValueError(f"{fn}: {name} must be {allowed}{hint}, got {got}.")


def with_hyperparameter_checks(**specs):
  """Decorator for a jitted loss: every keyword of ``specs`` that a call
  passes is checked first by :func:`check_hyperparameter` (``spec`` is
  ``allowed`` or ``(allowed, hint)``), in Python, on concrete values only;
  the hyperparameters stay traced arguments of the one compiled program.
  Defaults are not checked (they are valid). The wrapper keeps the loss's
  name, docstring, signature and ``_cache_size``."""
  specs = {k: (v, "") if isinstance(v, str) else v for k, v in specs.items()}

  def wrap(jitted):
    fn = jitted.__name__

    @functools.wraps(jitted)
    def loss(*args, **kwargs):
      for name, (allowed, hint) in specs.items():
        if name in kwargs:
          check_hyperparameter(kwargs[name], name, fn, allowed, hint)
      return jitted(*args, **kwargs)

    loss._cache_size = jitted._cache_size  # pylint: disable=protected-access
    return loss

  return wrap


def kept_values(x, where=None, axes=()):
  """The entries of concrete ``x`` that ``where`` keeps, as a numpy array of
  >= 32-bit floats, or None when ``x`` or ``where`` is traced. ``where``
  (already validated) has the shape of ``x`` without ``axes``: it masks whole
  examples, whose entries may then hold anything (padding)."""
  if not (is_concrete(x) and is_concrete(where)):
    return None
  arr = np.asarray(x)
  if arr.dtype not in (np.float32, np.float64):  # half floats, ints, bools
    arr = arr.astype(np.float32)
  if where is None:
    return arr
  axes = tuple(axes)
  arr = np.moveaxis(arr, axes, tuple(range(arr.ndim - len(axes), arr.ndim)))
  return arr[np.broadcast_to(np.asarray(where, bool), arr.shape[: arr.ndim - len(axes)])]


def check_unit_interval(values, fn: str, what: str, hint: str = ""):
  """Raises ``{fn}: {what} in [0, 1], got values in [lo, hi]{hint}.`` when
  some of ``values`` (from :func:`kept_values`; None: traced, unchecked) lie
  outside [0, 1]. NaN is not flagged: it propagates to the loss as itself."""
  if values is None or values.size == 0:
    return
  if np.any(values < 0) or np.any(values > 1):
    raise ValueError(
      f"{fn}: {what} in [0, 1], got values in [{np.nanmin(values):.6g}, "
      f"{np.nanmax(values):.6g}]{hint}."
    )
