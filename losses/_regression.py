"""Regression losses (notes 000 "Regression: value to value / vector to vector"
and 001 "Regression loss" and its analytic gradient -2(y - s)).

Elementwise losses return the shape of their inputs; ``euclidean_error`` is
vector-valued and reduces over ``axis``.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from losses import _common as C


# --- squared error ------------------------------------------------------------
@jax.custom_vjp
def _se(p, t):
  return jnp.square(p - t)


def _se_fwd(p, t):
  d = p - t
  return d * d, d


def _se_bwd(d, g):
  gd = 2.0 * g * d
  return gd, -gd


_se.defvjp(_se_fwd, _se_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def squared_error(predictions, targets, *, where=None, weights=None, axis=-1):
  """Squared error ``(s - y)^2`` elementwise (notes 000 SE, 001 L2 regression).

  Gradient (note 001): ``dL/ds = 2 (s - y)`` (the notes write -2(y - s)).
  Returns ``predictions.shape``; the vector SE ``||y - s||^2`` of note 000 is
  ``squared_error(...).sum(axis)``. ``axis`` is accepted for the common
  signature and unused (the loss is elementwise).
  """
  del axis
  return C.elementwise("squared_error", _se, predictions, targets, where,
                     weights)


# --- absolute error -----------------------------------------------------------
@jax.custom_vjp
def _ae(p, t):
  return jnp.abs(p - t)


def _ae_fwd(p, t):
  d = p - t
  return jnp.abs(d), jnp.sign(d)


def _ae_bwd(s, g):
  return g * s, -g * s


_ae.defvjp(_ae_fwd, _ae_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def absolute_error(predictions, targets, *, where=None, weights=None, axis=-1):
  """Absolute error ``|s - y|`` elementwise (notes 000 AE, 001 L1 regression).

  Note 000 prints ``AE = y - y^`` — a typo for ``|y - y^|``; the absolute value
  is implemented. Gradient: ``sign(s - y)`` (subgradient 0 at s = y).
  Note 001's example: ``|0-0.1| + |1-0.7| + |0-0.2| = 0.6`` is
  ``absolute_error(...).sum(-1)``. ``axis`` is unused (elementwise loss).
  """
  del axis
  return C.elementwise("absolute_error", _ae, predictions, targets, where,
                     weights)


# --- euclidean error (vector AE) ----------------------------------------------
@jax.custom_vjp
def _euclid(p, t):
  return C.safe_norm(p - t)[0]


def _euclid_fwd(p, t):
  n, direction = C.safe_norm(p - t)
  return n, direction


def _euclid_bwd(direction, g):
  gd = g[..., None] * direction
  return gd, -gd


_euclid.defvjp(_euclid_fwd, _euclid_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def euclidean_error(predictions, targets, *, where=None, weights=None,
                    axis=-1):
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
@jax.custom_vjp
def _huber(p, t, delta):
  d = p - t
  a = jnp.abs(d)
  return jnp.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def _huber_fwd(p, t, delta):
  d = p - t
  a = jnp.abs(d)
  v = jnp.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))
  return v, (d, delta)


def _huber_bwd(res, g):
  d, delta = res
  gd = g * jnp.clip(d, -delta, delta)
  return gd, -gd, None


_huber.defvjp(_huber_fwd, _huber_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def huber(predictions, targets, *, where=None, weights=None, axis=-1,
          delta=1.0):
  """Huber loss, elementwise: ``d^2/2`` if ``|d| <= delta`` else
  ``delta (|d| - delta/2)`` with ``d = s - y``.

  Gradient: ``clip(d, -delta, delta)``. Matches ``optax.huber_loss`` but
  refuses mismatched shapes instead of broadcasting (4,) with (4, 1).
  ``delta`` is a traced hyperparameter (no recompiles; zero gradient).
  """
  del axis
  return C.elementwise("huber", _huber, predictions, targets, where, weights,
                     hypers=(delta,))


@jax.custom_vjp
def _smooth_l1(p, t, beta):
  return _smooth_l1_fwd(p, t, beta)[0]


def _smooth_l1_fwd(p, t, beta):
  d = p - t
  a = jnp.abs(d)
  small = a < beta
  safe_beta = jnp.where(beta > 0, beta, 1.0)
  v = jnp.where(small, 0.5 * d * d / safe_beta, a - 0.5 * beta)
  return v, (d, small, safe_beta)


def _smooth_l1_bwd(res, g):
  d, small, safe_beta = res
  gd = g * jnp.where(small, d / safe_beta, jnp.sign(d))
  return gd, -gd, None


_smooth_l1.defvjp(_smooth_l1_fwd, _smooth_l1_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def smooth_l1(predictions, targets, *, where=None, weights=None, axis=-1,
              beta=1.0):
  """Smooth L1 (as ``torch.nn.functional.smooth_l1_loss``), elementwise:
  ``d^2 / (2 beta)`` if ``|d| < beta`` else ``|d| - beta/2``; ``beta = 0`` is
  plain L1. Equals ``huber(delta=beta) / beta``.

  Gradient: ``d / beta`` inside, ``sign(d)`` outside.
  """
  del axis
  return C.elementwise("smooth_l1", _smooth_l1, predictions, targets, where,
                     weights, hypers=(beta,))


# --- log-cosh -----------------------------------------------------------------
_LOG2 = 0.6931471805599453


@jax.custom_vjp
def _log_cosh(p, t):
  a = jnp.abs(p - t)
  return a + jnp.log1p(jnp.exp(-2.0 * a)) - _LOG2


def _log_cosh_fwd(p, t):
  d = p - t
  a = jnp.abs(d)
  return a + jnp.log1p(jnp.exp(-2.0 * a)) - _LOG2, d


def _log_cosh_bwd(d, g):
  gd = g * jnp.tanh(d)
  return gd, -gd


_log_cosh.defvjp(_log_cosh_fwd, _log_cosh_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def log_cosh(predictions, targets, *, where=None, weights=None, axis=-1):
  """``log(cosh(s - y))`` elementwise, computed as
  ``|d| + log1p(exp(-2|d|)) - log 2`` so it never overflows.

  Gradient: ``tanh(s - y)``.
  """
  del axis
  return C.elementwise("log_cosh", _log_cosh, predictions, targets, where,
                     weights)
