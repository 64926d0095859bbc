"""Hinge (SVM) losses (note 001 "Hinge Loss" + "Analytic Gradient: Hinge
Loss", note 002 "multiclass SVM" worked example and sanity questions).

Integer labels: negative -> ignored (loss 0, gradient 0); >= C ->
ValueError when concrete, NaN under jit.

``margin`` must be >= 0 (ValueError when concrete; unchecked under jit):
margin 0 is the plain perceptron-style hinge ("score the right class above
the others at all"), a legitimate choice, while a negative margin tolerates
misclassified examples within |margin| and has no common use.

The hand-derived derivatives are given as custom JVPs (see docs/losses.md).
The hinge's indicator has derivative 0 away from the kink, so the second
derivatives of the plain hinges are 0 and the squared hinge's is 2.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C
from losses._common import Axis

_NAN = float("nan")


# --- binary hinge -----------------------------------------------------------------
@jax.custom_jvp
def _bhinge(s, y, margin):
  return C.relu(margin - y * s)


def _bhinge_jvp(primals, tangents):
  s, y, margin = primals
  ts, ty, tm = tangents
  m = margin - y * s
  v = C.relu(m)
  active = m > 0
  # note 001: dL/ds = -y (and dL/dy = -s, dL/dmargin = 1) if 1 - y s > 0.
  # The partials are selects on the inputs, so in reverse mode XLA fuses them
  # into the gradient instead of writing a residual array.
  return v, C.tangent_sum(
    v,
    [
      jnp.where(active, -y, 0.0) * ts if C.has_tangent(ts) else None,
      jnp.where(active, -s, 0.0) * ty if C.has_tangent(ty) else None,
      active.astype(v.dtype) * tm if C.has_tangent(tm) else None,
    ],
  )


_bhinge.defjvp(_bhinge_jvp, symbolic_zeros=True)


_MARGIN = (">= 0", " (0 for no margin)")


@C.with_hyperparameter_checks(margin=_MARGIN)
@jax.jit
def binary_hinge(
  scores: ArrayLike,
  labels_pm1: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  margin: ArrayLike = 1.0,
) -> jax.Array:
  """Binary SVM loss (note 001): ``max(0, margin - y s)`` with y in {-1, +1},
  elementwise. Gradient: ``-y`` where the hinge is active, else 0.
  Same as ``optax.hinge_loss`` for margin 1.
  """
  return C.elementwise(
    "binary_hinge",
    _bhinge,
    scores,
    labels_pm1,
    where,
    weights,
    hypers=(margin,),
    names=("scores", "labels_pm1"),
  )


def _pick(s, lab):
  return jnp.take_along_axis(s, lab[..., None], axis=-1)


def _finish_labels(v, ignore, bad):
  return jnp.where(bad, _NAN, jnp.where(ignore, 0.0, v))


def _row_coef(ignore, bad, dtype):
  """Per-example factor of the partials: 0 for ignored labels, NaN for
  out-of-range ones (as their value), else 1."""
  return jnp.where(bad, _NAN, jnp.where(ignore, 0.0, 1.0)).astype(dtype)


# --- Weston-Watkins multiclass hinge ------------------------------------------------
def _mhinge_parts(s, labels, margin, squared):
  lab, ignore, bad = C.label_status(labels, s.shape[-1])
  onehot = C.one_hot_like(s, lab)
  m = s - _pick(s, lab) + margin
  h = jnp.where(onehot > 0, 0.0, C.relu(m))
  v = jnp.sum(h * h if squared else h, axis=-1)
  return _finish_labels(v, ignore, bad), h, onehot, ignore, bad


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _mhinge(s, labels, margin, squared):
  return _mhinge_parts(s, labels, margin, squared)[0]


def _mhinge_jvp(squared, primals, tangents):
  s, labels, margin = primals
  ts, _, tm = tangents
  v, h, onehot, ignore, bad = _mhinge_parts(s, labels, margin, squared)
  # note 001: dL/ds_j = 1[s_j - s_y + 1 > 0] (j != y), dL/ds_y = -sum of those;
  # squared: 2 h_j. 2 h stays a function of s, so its derivative (the squared
  # hinge's second derivative) is right too.
  c = 2.0 * h if squared else (h > 0).astype(h.dtype)
  k = _row_coef(ignore, bad, h.dtype)
  terms = [None, None]
  if C.has_tangent(ts):
    gs = c - onehot * jnp.sum(c, axis=-1, keepdims=True)
    terms[0] = k * jnp.sum(gs * ts, axis=-1)  # k per row: cheaper transposed
  if C.has_tangent(tm):
    terms[1] = k * jnp.sum(c, axis=-1) * tm
  return v, C.tangent_sum(v, terms)


_mhinge.defjvp(_mhinge_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis", "squared"))
def _mhinge_jit(scores, labels, where, weights, axis, margin, squared):
  s, lab, mask, odt = C.label_setup(
    "multiclass_hinge", scores, labels, axis, where, weights, ("scores", "labels")
  )
  v = _mhinge(s, lab, C.hyper(margin, s.dtype), squared)
  return C.finish(v, mask, weights, odt)


def multiclass_hinge(
  scores: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  margin: ArrayLike = 1.0,
  squared: bool = False,
) -> jax.Array:
  """Weston-Watkins multiclass SVM loss (notes 001, 002):
  ``sum_{j != y} max(0, s_j - s_y + margin)`` (squared hinge if ``squared``).

  Worked example (note 002, columns cat/car/frog): 2.9, 0, 12.9, mean 5.27.
  Sanity (note 002): all scores ~0 gives C - 1.
  Gradient (note 001): ``1[s_j - s_y + margin > 0]`` for j != y and minus
  their count for y (squared: ``2 h_j`` and ``-sum 2 h_j``).
  Differs from ``optax.multiclass_hinge_loss`` (Crammer-Singer, see
  ``crammer_singer_hinge``) and from torch's ``multi_margin_loss``, which
  divides this sum by C.
  """
  C.eager_label_check("multiclass_hinge", scores, labels, axis, ("scores", "labels"))
  C.check_hyperparameter(margin, "margin", "multiclass_hinge", *_MARGIN)
  return _mhinge_jit(scores, labels, where, weights, axis, margin, squared)


# --- Crammer-Singer -------------------------------------------------------------
def _cs_parts(s, labels, margin):
  lab, ignore, bad = C.label_status(labels, s.shape[-1])
  onehot = C.one_hot_like(s, lab)
  # max_j (s_j + margin [j != y]) - s_y = max(0, margin + max_{j!=y} s_j - s_y)
  a = s + margin * (1.0 - onehot)
  m = jnp.max(a, axis=-1)
  v = m - _pick(s, lab)[..., 0]
  return _finish_labels(v, ignore, bad), a, m, onehot, ignore, bad


@jax.custom_jvp
def _cs(s, labels, margin):
  return _cs_parts(s, labels, margin)[0]


def _cs_jvp(primals, tangents):
  s, labels, margin = primals
  ts, _, tm = tangents
  v, a, m, onehot, ignore, bad = _cs_parts(s, labels, margin)
  top = (a == m[..., None]).astype(s.dtype)
  top = top / jnp.sum(top, axis=-1, keepdims=True)  # ties share, like max
  k = _row_coef(ignore, bad, s.dtype)
  terms = [None, None]
  # +1 at the top wrong class, -1 at y; they cancel when y is the top (the
  # hinge is inactive)
  if C.has_tangent(ts):
    terms[0] = k * jnp.sum((top - onehot) * ts, axis=-1)
  if C.has_tangent(tm):
    terms[1] = k * jnp.sum(top * (1.0 - onehot), axis=-1) * tm
  return v, C.tangent_sum(v, terms)


_cs.defjvp(_cs_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def _cs_jit(scores, labels, where, weights, axis, margin):
  s, lab, mask, odt = C.label_setup(
    "crammer_singer_hinge", scores, labels, axis, where, weights, ("scores", "labels")
  )
  return C.finish(_cs(s, lab, C.hyper(margin, s.dtype)), mask, weights, odt)


def crammer_singer_hinge(
  scores: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  margin: ArrayLike = 1.0,
) -> jax.Array:
  """Crammer-Singer multiclass hinge: ``max(0, margin + max_{j != y} s_j -
  s_y)`` — only the most-violating class counts (Weston-Watkins sums all).

  Gradient: +1 at the highest wrong class, -1 at y, when active (ties share
  the +1, as for ``jnp.max``).
  Equals ``optax.multiclass_hinge_loss`` for margin 1.
  """
  C.eager_label_check("crammer_singer_hinge", scores, labels, axis, ("scores", "labels"))
  C.check_hyperparameter(margin, "margin", "crammer_singer_hinge", *_MARGIN)
  return _cs_jit(scores, labels, where, weights, axis, margin)
