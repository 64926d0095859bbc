"""Regression losses (notes 000 "Regression: value to value / vector to vector"
and 001 "Regression loss" and its analytic gradient -2(y - s)).

Elementwise losses return the shape of their inputs; ``euclidean_error`` is
vector-valued and reduces over ``axis``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C
from losses._common import Axis


# Each core's hand-derived derivative is a `jax.custom_jvp` rule. The cores are
# functions of d = s - y, so dL/ds = L'(d) and dL/dy = -L'(d): `_pair_tangent`
# applies L'(d) to whichever of the two tangents exists (a fixed target has a
# symbolic-zero tangent and costs nothing). The rules get the value by calling
# the core itself, so differentiating a rule again uses the hand-derived
# derivative for the value too, at every order.
def _pair_tangent(v, partial, tp, tt, extra=()):
  return C.tangent_sum(
    v,
    [
      partial * tp if C.has_tangent(tp) else None,
      -(partial * tt) if C.has_tangent(tt) else None,
      *extra,
    ],
  )


# --- squared error ------------------------------------------------------------
@jax.custom_jvp
def _se(p, t):
  return jnp.square(p - t)


def _se_jvp(primals, tangents):
  p, t = primals
  v = _se(p, t)
  return v, _pair_tangent(v, 2.0 * (p - t), *tangents)


_se.defjvp(_se_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def squared_error(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
) -> jax.Array:
  """Squared error ``(s - y)^2`` elementwise (notes 000 SE, 001 L2 regression).

  Gradient (note 001): ``dL/ds = 2 (s - y)`` (the notes write -2(y - s)).
  Returns ``predictions.shape``; the vector SE ``||y - s||^2`` of note 000 is
  ``squared_error(...).sum(axis)``. ``axis`` is accepted for the common
  signature and unused (the loss is elementwise).
  """
  del axis
  return C.elementwise("squared_error", _se, predictions, targets, where, weights)


# --- absolute error -----------------------------------------------------------
@jax.custom_jvp
def _ae(p, t):
  return jnp.abs(p - t)


def _ae_jvp(primals, tangents):
  p, t = primals
  v = _ae(p, t)
  # sign: the subgradient 0 at the kink, and a second derivative of 0 elsewhere
  return v, _pair_tangent(v, jnp.sign(p - t), *tangents)


_ae.defjvp(_ae_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def absolute_error(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
) -> jax.Array:
  """Absolute error ``|s - y|`` elementwise (notes 000 AE, 001 L1 regression).

  Note 000 prints ``AE = y - y^`` — a typo for ``|y - y^|``; the absolute value
  is implemented. Gradient: ``sign(s - y)`` (subgradient 0 at s = y).
  Note 001's example: ``|0-0.1| + |1-0.7| + |0-0.2| = 0.6`` is
  ``absolute_error(...).sum(-1)``. ``axis`` is unused (elementwise loss).
  """
  del axis
  return C.elementwise("absolute_error", _ae, predictions, targets, where, weights)


# --- euclidean error (vector AE) ----------------------------------------------
@jax.custom_jvp
def _euclid(p, t):
  return C.safe_norm(p - t)[0]


def _euclid_jvp(primals, tangents):
  p, t = primals
  tp, tt = tangents
  # direction = d / ||d|| (0 at d = 0), built from a double-`where` norm, so
  # differentiating it again stays finite at d = 0.
  _, direction = C.safe_norm(p - t)
  v = _euclid(p, t)
  return v, C.tangent_sum(
    v,
    [
      jnp.sum(direction * tp, axis=-1) if C.has_tangent(tp) else None,
      -jnp.sum(direction * tt, axis=-1) if C.has_tangent(tt) else None,
    ],
  )


_euclid.defjvp(_euclid_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def euclidean_error(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: int = -1,
) -> jax.Array:
  """Vector absolute error ``||s - y||_2`` over ``axis`` (note 000, vector AE).

  Gradient: ``(s - y) / ||s - y||`` (0 when ``s == y``, where the norm has no
  derivative). Returns ``predictions.shape`` without ``axis``.
  """
  fn = "euclidean_error"
  C.check_floating(predictions, "predictions", fn)
  C.check_real(targets, "targets", fn)
  C.check_same_shape(predictions, targets, "predictions", "targets", fn)
  C.check_min_rank(predictions, 1, "predictions", fn)
  ax = C.normalize_axis(axis, jnp.ndim(predictions), fn)
  p = jnp.moveaxis(jnp.asarray(predictions), ax, -1)
  t = jnp.moveaxis(jnp.asarray(targets), ax, -1)
  out_shape = p.shape[:-1]
  C.check_broadcast_to(where, out_shape, "where", fn)
  C.check_broadcast_to(weights, out_shape, "weights", fn)
  cdt, odt = C.compute_dtype(p, t)
  mask = C.as_mask(where, out_shape)
  m = C.expand_mask(mask)
  values = _euclid(C.safe(p.astype(cdt), m), C.safe(t.astype(cdt), m))
  return C.finish(values, mask, weights, odt)


# --- huber / smooth L1 --------------------------------------------------------
@jax.custom_jvp
def _huber(p, t, delta):
  d = p - t
  a = jnp.abs(d)
  return jnp.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def _huber_jvp(primals, tangents):
  p, t, delta = primals
  _, _, t_delta = tangents
  d = p - t
  v = _huber(p, t, delta)
  # delta is a hyperparameter (stop_gradient: a symbolic zero) in the public
  # function; its partial 0 / |d| - delta is stated for completeness.
  extra = (
    [jnp.where(jnp.abs(d) <= delta, 0.0, jnp.abs(d) - delta) * t_delta]
    if C.has_tangent(t_delta)
    else []
  )
  return v, _pair_tangent(v, jnp.clip(d, -delta, delta), *tangents[:2], extra=extra)


_huber.defjvp(_huber_jvp, symbolic_zeros=True)


# delta <= 0 would silently make the loss negative (delta (|d| - delta / 2)
# with delta < 0) or identically 0; torch also requires delta > 0.
@C.with_hyperparameter_checks(delta=("> 0", " (the |error| where the loss turns linear)"))
@functools.partial(jax.jit, static_argnames=("axis",))
def huber(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  delta: ArrayLike = 1.0,
) -> jax.Array:
  """Huber loss, elementwise: ``d^2/2`` if ``|d| <= delta`` else
  ``delta (|d| - delta/2)`` with ``d = s - y``.

  Gradient: ``clip(d, -delta, delta)``. Matches ``optax.huber_loss`` but
  refuses mismatched shapes instead of broadcasting (4,) with (4, 1).
  ``delta`` is a traced hyperparameter (no recompiles; zero gradient); it
  must be > 0 (ValueError when concrete; unchecked under ``jax.jit``).
  """
  del axis
  return C.elementwise("huber", _huber, predictions, targets, where, weights, hypers=(delta,))


@jax.custom_jvp
def _smooth_l1(p, t, beta):
  return _smooth_l1_parts(p, t, beta)[0]


def _smooth_l1_parts(p, t, beta):
  d = p - t
  a = jnp.abs(d)
  small = a < beta
  safe_beta = jnp.where(beta > 0, beta, 1.0)  # beta = 0: never `small`
  v = jnp.where(small, 0.5 * d * d / safe_beta, a - 0.5 * beta)
  return v, d, small, safe_beta


def _smooth_l1_jvp(primals, tangents):
  p, t, beta = primals
  _, _, t_beta = tangents
  _, d, small, safe_beta = _smooth_l1_parts(p, t, beta)
  v = _smooth_l1(p, t, beta)
  # beta is a hyperparameter (a symbolic zero in the public function); its
  # partial -d^2 / (2 beta^2) inside, -1/2 outside, is stated for completeness.
  extra = (
    [jnp.where(small, -0.5 * jnp.square(d / safe_beta), -0.5) * t_beta]
    if C.has_tangent(t_beta)
    else []
  )
  return v, _pair_tangent(
    v, jnp.where(small, d / safe_beta, jnp.sign(d)), *tangents[:2], extra=extra
  )


_smooth_l1.defjvp(_smooth_l1_jvp, symbolic_zeros=True)


# beta = 0 is plain L1 (documented, as in torch); beta < 0 would make the
# loss |d| + |beta| / 2, a plausible but wrong number.
@C.with_hyperparameter_checks(beta=(">= 0", " (beta = 0 is plain L1)"))
@functools.partial(jax.jit, static_argnames=("axis",))
def smooth_l1(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  beta: ArrayLike = 1.0,
) -> jax.Array:
  """Smooth L1 (as ``torch.nn.functional.smooth_l1_loss``), elementwise:
  ``d^2 / (2 beta)`` if ``|d| < beta`` else ``|d| - beta/2``; ``beta = 0`` is
  plain L1; ``beta < 0`` raises ValueError when concrete (unchecked under
  ``jax.jit``). Equals ``huber(delta=beta) / beta``.

  Gradient: ``d / beta`` inside, ``sign(d)`` outside.
  """
  del axis
  return C.elementwise(
    "smooth_l1", _smooth_l1, predictions, targets, where, weights, hypers=(beta,)
  )


# --- log-cosh -----------------------------------------------------------------
_LOG2 = 0.6931471805599453


@jax.custom_jvp
def _log_cosh(p, t):
  a = jnp.abs(p - t)
  return a + jnp.log1p(jnp.exp(-2.0 * a)) - _LOG2


def _log_cosh_jvp(primals, tangents):
  p, t = primals
  v = _log_cosh(p, t)
  return v, _pair_tangent(v, jnp.tanh(p - t), *tangents)


_log_cosh.defjvp(_log_cosh_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def log_cosh(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
) -> jax.Array:
  """``log(cosh(s - y))`` elementwise, computed as
  ``|d| + log1p(exp(-2|d|)) - log 2`` so it never overflows.

  Gradient: ``tanh(s - y)``.
  """
  del axis
  return C.elementwise("log_cosh", _log_cosh, predictions, targets, where, weights)
