"""Shared helpers for :mod:`losses`: dtype handling, masking (the
double-``where`` pattern), input setup for the common layouts, numerics
(stable log-sum-exp variants, safe norms, softplus) and ``reduce``.
Validation lives in :mod:`losses._validation` and is re-exported here."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

from losses._validation import (  # noqa: F401  (used as C.<name> elsewhere)
  check_broadcast_to,
  check_embedding_labels,
  check_floating,
  check_hyperparameter,
  check_integer,
  check_label_shape,
  check_label_values,
  check_min_rank,
  check_real,
  check_same_shape,
  check_unit_interval,
  is_concrete,
  kept_values,
  normalize_axes,
  normalize_axis,
  with_hyperparameter_checks,
)

# A finite stand-in for log(0) used where -inf would poison gradients
# (CTC's impossible paths). It absorbs any finite log-probability added to it
# (-1e30 + x == -1e30) and exp of it is 0; CTC runs in >= float32.
# The type of a loss's `axis`: one axis, or (for a class axis) several flattened
# into one.
Axis = int | tuple[int, ...]

LOG_ZERO = -1e30


# ----------------------------------------------------------------------------
# dtype handling.
# ----------------------------------------------------------------------------
def softplus(z):
  """log(1 + e^z) without overflow."""
  return jnp.maximum(z, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(z)))


def relu(x):
  """max(x, 0) written as a select: XLA:CPU fuses it better than ``maximum``
  (which it pulls into the reduction with a materialised broadcast of 0), and
  a NaN stays NaN."""
  return jnp.where(x < 0, jnp.zeros((), x.dtype), x)


def bce_logits(z, t):
  """-t log sigma(z) - (1 - t) log(1 - sigma(z)) = softplus(z) - t z, with
  z = +-inf handled (0 when the label agrees, inf otherwise, never NaN)."""
  sp = softplus(z)
  v = sp - t * z
  inf_v = jnp.where(jnp.where(z > 0, t == 1, t == 0), 0.0, jnp.inf)
  return jnp.where(jnp.isinf(z), inf_v.astype(v.dtype), v), sp


# ----------------------------------------------------------------------------
# Custom JVPs: every loss states its hand-derived partial derivatives as a
# `jax.custom_jvp` rule with `symbolic_zeros=True`. The rule is ordinary,
# differentiable jnp code, so JAX can take it forward or transpose it, and
# differentiate it again for any order (see docs/losses.md).
# ----------------------------------------------------------------------------
def has_tangent(tangent) -> bool:
  """False for a symbolic-zero tangent: an input nobody differentiates (integer
  labels, hyperparameters, a target held fixed). Skipping its term keeps an
  infinite partial (d/dt of -t log p at p = 0) from turning into 0 * inf = NaN."""
  return type(tangent) is not jax.custom_derivatives.SymbolicZero


def tangent_sum(out, terms):
  """The output tangent: the sum of the terms that exist (None = no tangent),
  or zeros shaped like the primal output."""
  terms = [t for t in terms if t is not None]
  if not terms:
    return jnp.zeros_like(out)
  total = terms[0]
  for t in terms[1:]:
    total = total + t
  return total.astype(out.dtype)


def compute_dtype(*xs):
  """(compute dtype, output dtype): half precision is computed in float32."""
  floats = [
    jnp.result_type(x)
    for x in xs
    if x is not None and jnp.issubdtype(jnp.result_type(x), jnp.floating)
  ]
  out = jnp.result_type(*floats) if floats else jnp.result_type(float)
  return jnp.promote_types(out, jnp.float32), out


def cast(x, dtype):
  return None if x is None else jnp.asarray(x).astype(dtype)


# ----------------------------------------------------------------------------
# Masking (the double-`where` pattern) and per-example weights.
# ----------------------------------------------------------------------------
def as_mask(where, shape):
  """Boolean mask broadcast to ``shape`` (None stays None)."""
  if where is None:
    return None
  return jnp.broadcast_to(jnp.asarray(where).astype(bool), shape)


def safe(x, mask, fill=0.0):
  """Inner ``where``: masked inputs replaced by a harmless value."""
  if mask is None or x is None:
    return x
  return jnp.where(mask, x, jnp.asarray(fill, jnp.result_type(x)))


def finish(values, mask, weights, out_dtype):
  """Outer ``where``: masked outputs are exactly 0; then weights; then cast."""
  if mask is not None:
    values = jnp.where(mask, values, jnp.zeros((), values.dtype))
  if weights is not None:
    values = values * jnp.asarray(weights).astype(values.dtype)
  return values.astype(out_dtype)


def elementwise(
  fn,
  core,
  predictions,
  targets,
  where,
  weights,
  hypers=(),
  names=("predictions", "targets"),
  fills=(0.0, 0.0),
  targets_float=False,
):
  """Shared driver for losses of two same-shape inputs, elementwise output."""
  check_floating(predictions, names[0], fn)
  if targets_float:
    check_floating(targets, names[1], fn)
  else:
    check_real(targets, names[1], fn)
  check_same_shape(predictions, targets, names[0], names[1], fn)
  shape = jnp.shape(predictions)
  check_broadcast_to(where, shape, "where", fn)
  check_broadcast_to(weights, shape, "weights", fn)
  cdt, odt = compute_dtype(predictions, targets)
  mask = as_mask(where, shape)
  p = safe(cast(predictions, cdt), mask, fills[0])
  t = safe(cast(targets, cdt), mask, fills[1])
  values = core(p, t, *[hyper(h, cdt) for h in hypers])
  return finish(values, mask, weights, odt)


def expand_mask(mask, ndim_extra: int = 1):
  """Per-example mask -> mask broadcastable against the unreduced input."""
  if mask is None:
    return None
  return mask.reshape(mask.shape + (1,) * ndim_extra)


def hyper(x, dtype):
  """A hyperparameter: a traced scalar (no recompiles) with zero gradient."""
  return jax.lax.stop_gradient(jnp.asarray(x, dtype))


# ----------------------------------------------------------------------------
# Numerics.
# ----------------------------------------------------------------------------
def logsumexp_excluding_each(x, axis=-1):
  """For every k along ``axis``: log sum_{j != k} exp(x_j), in O(C), stably.

  For k other than the (first) argmax the excluded sum still holds the
  maximum term, so ``S - e^{x_k - m} >= 1`` cannot cancel catastrophically;
  for the argmax the sum is accumulated around the second-largest value, so
  it stays exact even when it is e^-20000 smaller than the total.
  """
  m = jnp.max(x, axis=axis, keepdims=True)
  m = jnp.where(jnp.isfinite(m), m, 0.0)
  e = jnp.exp(x - m)
  total = jnp.sum(e, axis=axis, keepdims=True)
  idx = jax.lax.broadcasted_iota(jnp.int32, x.shape, axis % x.ndim)
  is_top = idx == jnp.argmax(x, axis=axis, keepdims=True)
  others = jnp.where(is_top, -jnp.inf, x)
  m2 = jnp.max(others, axis=axis, keepdims=True)
  m2 = jnp.where(jnp.isfinite(m2), m2, 0.0)
  rest = jnp.log(jnp.sum(jnp.exp(others - m2), axis=axis, keepdims=True)) + m2
  return jnp.where(is_top, rest, jnp.log(total - e) + m)


def safe_norm(x, ord_p=2):
  """(p-norm over the last axis, its gradient d||x||/dx); gradient 0 at x = 0.

  The norm is not differentiable at 0; we return the zero subgradient there
  instead of NaN (the double-``where`` pattern), e.g. for identical embeddings.
  Both outputs are differentiable again (the direction's derivative is the
  norm's second derivative) with no NaN of any order at 0.
  """
  if ord_p == 1:
    return jnp.sum(jnp.abs(x), axis=-1), jnp.sign(x)
  if ord_p == 2:
    s = jnp.sum(x * x, axis=-1, keepdims=True)
    pos = s > 0
    n = jnp.sqrt(jnp.where(pos, s, 1.0))
    return jnp.where(pos, n, 0.0)[..., 0], jnp.where(pos, x / n, 0.0)
  ax = jnp.abs(x)
  s = jnp.sum(ax**ord_p, axis=-1, keepdims=True)
  pos = s > 0
  n = jnp.where(pos, s, 1.0) ** (1.0 / ord_p)
  # sign(x) (|x| / n)^(p - 1); the zero row is replaced by ones first, since
  # |x|^(p - 1) has an infinite derivative at 0 when p < 2
  ax_safe = jnp.where(pos, ax, 1.0)
  direction = jnp.where(pos, jnp.sign(x) * (ax_safe / n) ** (ord_p - 1), 0.0)
  return jnp.where(pos, n, 0.0)[..., 0], direction


# ----------------------------------------------------------------------------
# Batch reduction.
# ----------------------------------------------------------------------------
_HOWS = ("mean", "sum", "weighted_mean")


@functools.partial(jax.jit, static_argnames=("how",))
def reduce(
  values: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  how: str = "mean",
) -> jax.Array:
  """Reduces per-example losses to a scalar.

  * ``how="sum"``: ``sum(m * w * v)``
  * ``how="mean"``: ``sum(m * w * v) / sum(m)`` (weights scale, count divides)
  * ``how="weighted_mean"``: ``sum(m * w * v) / sum(m * w)``

  ``m`` is ``where`` (default all True) and ``w`` is ``weights`` (default 1),
  both broadcastable to ``values.shape``. Masked entries contribute exactly 0
  to the value and the gradient even if they hold NaN/inf (double ``where``);
  NaNs in unmasked entries propagate (they are genuine). An all-masked (or
  zero-total-weight) mean is 0 with zero gradient.
  """
  if how not in _HOWS:
    raise ValueError(f"reduce: how must be one of {_HOWS}, got {how!r}.")
  values = jnp.asarray(values)
  if not jnp.issubdtype(values.dtype, jnp.floating):
    values = values.astype(jnp.result_type(float))
  shape = values.shape
  check_broadcast_to(where, shape, "where", "reduce")
  check_broadcast_to(weights, shape, "weights", "reduce")
  mask = as_mask(where, shape)
  v = values if mask is None else jnp.where(mask, values, 0.0)
  if weights is not None:
    w = jnp.broadcast_to(jnp.asarray(weights).astype(values.dtype), shape)
    if mask is not None:
      w = jnp.where(mask, w, 0.0)
    total = jnp.sum(v * w)
  else:
    w = None
    total = jnp.sum(v)
  if how == "sum":
    return total
  if how == "weighted_mean" and w is not None:
    denom = jnp.sum(w)
  elif mask is not None:
    denom = jnp.sum(mask).astype(values.dtype)
  else:
    denom = jnp.asarray(values.size, values.dtype)
  nonzero = denom != 0
  return jnp.where(nonzero, total / jnp.where(nonzero, denom, 1.0), 0.0)


# ----------------------------------------------------------------------------
# Setup for losses reduced over a class/feature axis.
# ----------------------------------------------------------------------------
def classes_last(x, axes: tuple[int, ...]):
  """Moves the class ``axes`` last (in the order given) and flattens them into
  one axis: a tuple ``axis`` is one class axis of prod(sizes) classes."""
  if len(axes) == 1:
    return jnp.moveaxis(x, axes[0], -1)
  batch = tuple(i for i in range(x.ndim) if i not in axes)
  x = jnp.transpose(x, batch + axes)
  return x.reshape(x.shape[: len(batch)] + (-1,))


def axis_setup(fn, predictions, targets, axis, where, weights, names=("logits", "targets")):
  """Two same-shape inputs reduced over ``axis``.

  Returns (x, t, mask, out_dtype) with ``axis`` moved last, inputs cast to
  the compute dtype and masked examples replaced by zeros (inner ``where``).
  """
  check_floating(predictions, names[0], fn)
  check_real(targets, names[1], fn)
  check_same_shape(predictions, targets, names[0], names[1], fn)
  check_min_rank(predictions, 1, names[0], fn)
  axes = normalize_axes(axis, jnp.ndim(predictions), fn)
  x = classes_last(jnp.asarray(predictions), axes)
  t = classes_last(jnp.asarray(targets), axes)
  out_shape = x.shape[:-1]
  check_broadcast_to(where, out_shape, "where", fn)
  check_broadcast_to(weights, out_shape, "weights", fn)
  cdt, odt = compute_dtype(x, t)
  mask = as_mask(where, out_shape)
  m = expand_mask(mask)
  return safe(x.astype(cdt), m), safe(t.astype(cdt), m), mask, odt


def embedding_batch_setup(fn, embeddings, labels, where, weights):
  """A batch of embeddings (..., B, D) with labels (..., B) whose ``where``
  masks items. Returns (e, labels, valid, compute dtype, output dtype): items
  that are masked or have a negative label are invalid (as anchors and as
  candidates) and their embeddings are replaced by zeros (inner ``where``)."""
  shape = jnp.shape(labels)
  check_broadcast_to(where, shape, "where", fn)
  check_broadcast_to(weights, shape, "weights", fn)
  cdt, odt = compute_dtype(embeddings)
  mask = as_mask(where, shape)
  labels = jnp.asarray(labels)
  valid = labels >= 0 if mask is None else mask & (labels >= 0)
  e = safe(jnp.asarray(embeddings).astype(cdt), valid[..., None])
  return e, labels, valid, cdt, odt


def label_setup(fn, logits, labels, axis, where, weights, names=("logits", "labels")):
  """Float logits + integer labels (logits.shape without ``axis``).

  Returns (z, labels, mask, out_dtype): ``axis`` moved last, masked examples
  get label -1 (ignored) and zero logits (inner ``where``).
  """
  check_floating(logits, names[0], fn)
  check_integer(labels, names[1], fn)
  axes = check_label_shape(logits, labels, axis, fn, names)
  z = classes_last(jnp.asarray(logits), axes)
  out_shape = z.shape[:-1]
  check_broadcast_to(where, out_shape, "where", fn)
  check_broadcast_to(weights, out_shape, "weights", fn)
  cdt, odt = compute_dtype(z)
  mask = as_mask(where, out_shape)
  labels = jnp.asarray(labels).astype(jnp.int32)
  if mask is not None:
    labels = jnp.where(mask, labels, -1)
  return safe(z.astype(cdt), expand_mask(mask)), labels, mask, odt


def eager_label_check(fn, logits, labels, axis, names=("logits", "labels")):
  """Outside-jit checks for integer-label losses (dtype, shape, range)."""
  check_floating(logits, names[0], fn)
  check_integer(labels, names[1], fn)
  axes = check_label_shape(logits, labels, axis, fn, names)
  num_classes = math.prod(jnp.shape(logits)[a] for a in axes)
  check_label_values(labels, num_classes, fn, names[1])


def label_status(labels, num_classes):
  """(safe labels, ignored, out_of_range) for integer labels."""
  ignore = labels < 0
  bad = labels >= num_classes
  return jnp.where(ignore | bad, 0, labels), ignore, bad


def one_hot_like(z, labels):
  """One-hot of ``labels`` over z's last axis, built by a fused compare."""
  iota = jax.lax.broadcasted_iota(jnp.int32, z.shape, z.ndim - 1)
  return (iota == labels[..., None]).astype(z.dtype)


def is_zero(x) -> bool:
  """True only for a concrete scalar zero (lets us skip work statically)."""
  if x is None:
    return True
  if not is_concrete(x):
    return False
  try:
    return bool(np.all(np.asarray(x) == 0))
  except Exception:  # pylint: disable=broad-except
    return False


# ----------------------------------------------------------------------------
# Label smoothing: the one formula behind `smooth_labels` and the
# `label_smoothing` options of the sigmoid (K = 2) and integer-label softmax
# cross-entropies.
# ----------------------------------------------------------------------------
def smoothed(labels, alpha, num_classes):
  """``(1 - alpha) labels + alpha / num_classes``: the target mixed with the
  uniform distribution over ``num_classes`` classes."""
  return (1.0 - alpha) * labels + alpha / num_classes
