"""Focal losses (RetinaNet; note 004 "Loss and Metrics"): ``sigmoid_focal``
(elementwise, sigmoid) and ``softmax_focal`` (over the class axis, softmax).

Each core states its hand-derived partial derivatives as a ``jax.custom_jvp``
rule (``symbolic_zeros=True``). A rule returns the value by calling its core,
so the value's derivative is again the hand-derived one at every order, and
writes the partials as jnp code that stays exact and finite when JAX
differentiates it again. Hyperparameters enter through ``C.hyper``
(stop_gradient), so their tangents are symbolic zeros and get no term.
(Moved unchanged from ``losses._dense``.)
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C
from losses._common import Axis


# --- focal losses --------------------------------------------------------------
# The modulating factor q^gamma, q = 1 - p, vanishes at a confident right
# answer, and for gamma < 1 its derivative gamma q^(gamma - 1) dq is 0^(-x)
# * 0 there. So q is formed without cancellation; where it leaves the normal
# range it is handled in log space (log q = log-sigmoid of the signed logit,
# or a log-sum-exp of the other classes); gamma q^(gamma - 1) only appears
# multiplied by dq's factors (s sm, p log p) before anything divides; and
# since JAX differentiates the rules for higher orders, their pieces have
# derivatives that never divide by q^2 (which underflows in float32 once
# q < 1e-19). Hessians stay finite and accurate at |logit| = 50 for gamma = 0.
def _alpha_t(t, alpha, use_alpha):
  return alpha * t + (1.0 - alpha) * (1.0 - t) if use_alpha else 1.0


def _sigmoid_parts(z):
  """(sigma(z), sigma(-z), softplus(z), softplus(-z)) from one exp. Both tails
  stay accurate at every order of differentiation: they are rational in
  e^-|z| (sigma(z) (1 - sigma(z)) would round to 0 where it is 1e-22)."""
  pos = z >= 0
  e = jnp.exp(jnp.where(pos, -z, z))  # e^-|z|, with slope -+1 (not 0) at 0
  r = 1.0 / (1.0 + e)
  l1 = jnp.log1p(e)
  return (
    jnp.where(pos, r, e * r),
    jnp.where(pos, e * r, r),
    jnp.where(pos, z, 0.0) + l1,
    jnp.where(pos, 0.0, -z) + l1,
  )


def _log_q_saturated(z, t):
  """log(1 - p_t) for a hard label where it underflows (|z| > ~87 in float32):
  the log-sigmoid of the signed logit, -softplus(+-z), in which
  log(1 + e^-|z|) < 1e-38 is below rounding."""
  return jnp.maximum(-jnp.where(z > 0, t * z, (t - 1.0) * z), C.LOG_ZERO)


@jax.custom_jvp
def _focal_weight(z, t, gamma):
  """Powers of q = 1 - p_t = t sm + (1 - t) s (s = sigma(z), sm = sigma(-z)):
  (q^gamma, q^(gamma - 1), a0 = (1 - t) s / q, a1 = t sm / q, b = 1 / q).
  a0 + a1 = 1, and r = s sm / q = a1 s + a0 sm is (dq/dz) / ((1 - 2t) q).
  The powers are jnp.power, which XLA turns into products for a constant
  integer gamma. Where q is below the smallest normal number (a hard label
  at a saturated logit) q^gamma = exp(gamma log q) in log space, a1 = t, and
  q^(gamma - 1) and b, which only enter products with known limits, are 0."""
  s, sm, _, _ = _sigmoid_parts(z)
  q = t * sm + (1.0 - t) * s
  live = q >= jnp.finfo(q.dtype).tiny  # so q^(gamma - 1) <= 1 / q is finite
  q = jnp.where(live, q, 1.0)
  b = jnp.where(live, 1.0 / q, 0.0)
  return (
    jnp.where(live, q**gamma, jnp.exp(gamma * _log_q_saturated(z, t))),
    jnp.where(live, q ** (gamma - 1.0), 0.0),
    jnp.where(live, (1.0 - t) * s * b, 1.0 - t),
    jnp.where(live, t * sm * b, t),
    b,
  )


def _focal_weight_jvp(primals, tangents):
  # dq = (1 - 2t) s sm dz + (sm - s) dt. Every partial is a product of the
  # outputs and s, sm (never a division by q, whose square underflows), so
  # differentiating this rule again stays exact.
  z, t, gamma = primals
  tz, tt, _ = tangents  # gamma: a hyperparameter (C.hyper)
  out = w, wb, a0, a1, b = _focal_weight(z, t, gamma)
  s, sm, _, _ = _sigmoid_parts(z)
  dlq, dq, da0 = [], [], []  # dlog q from dz; dq from dt; d a0
  if C.has_tangent(tz):
    dlq.append((1.0 - 2.0 * t) * (a1 * s + a0 * sm) * tz)
    da0.append(a0 * a1 * tz)
  if C.has_tangent(tt):
    dq.append((sm - s) * tt)
    da0.append(-(a1 * s + a0 * sm) * b * tt)
  dlq, dq, da0 = (C.tangent_sum(w, x) for x in (dlq, dq, da0))
  # d q^gamma / dt through q^(gamma - 1), which is still a normal number
  # where q^gamma is flushed to 0; where q underflows, q^(gamma - 1) is
  # exp((gamma - 1) log q) for gamma >= 1 (capped at 1 below, where it is
  # unbounded)
  wbt = jnp.where(b > 0, wb, jnp.exp(jnp.minimum((gamma - 1.0) * _log_q_saturated(z, t), 0.0)))
  return out, (
    gamma * (w * dlq + wbt * dq),
    (gamma - 1.0) * wb * (dlq + b * dq),
    da0,
    -da0,
    -b * (dlq + b * dq),
  )


_focal_weight.defjvp(_focal_weight_jvp, symbolic_zeros=True)


def _sfocal_parts(z, t, gamma):
  """(s, sm, BCE, q^gamma, q^(gamma - 1) s sm, q^(gamma - 1) (sm - s) BCE):
  the last two are q^gamma times dlog q/dz / (1 - 2t) and times dlog q/dt."""
  s, sm, sp, spm = _sigmoid_parts(z)
  # BCE = softplus(z) - t z, summed from nonnegative terms: the difference
  # rounds to 0 for a confident right answer, where it is e^-|z|
  ce = (1.0 - t) * sp + t * spm
  agree = jnp.where(z > 0, t == 1, t == 0)
  ce = jnp.where(jnp.isinf(z), jnp.where(agree, 0.0, jnp.inf), ce)
  w, wb, _, _, _ = _focal_weight(z, t, gamma)
  live = t * sm + (1.0 - t) * s >= jnp.finfo(z.dtype).tiny
  # as q underflows (hard t), s sm / q -> sigma(+-z) and BCE / q -> 1
  wr = jnp.where(live, wb * s * sm, w * (t * s + (1.0 - t) * sm))
  wk = jnp.where(live, wb * (sm - s) * ce, w * (sm - s))
  return s, sm, ce, w, wr, wk


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _sfocal(z, t, gamma, alpha, use_alpha):
  _, _, ce, w, _, _ = _sfocal_parts(z, t, gamma)
  return _alpha_t(t, alpha, use_alpha) * w * ce


def _sfocal_jvp(use_alpha, primals, tangents):
  z, t, gamma, alpha = primals
  tz, tt, _, _ = tangents  # gamma, alpha: hyperparameters (C.hyper)
  v = _sfocal(z, t, gamma, alpha, use_alpha)
  s, sm, ce, w, wr, wk = _sfocal_parts(z, t, gamma)
  at = _alpha_t(t, alpha, use_alpha)
  terms = []
  if C.has_tangent(tz):
    # d q^gamma / dz = gamma q^(gamma-1) (1 - 2t) s sm; dBCE/dz = s - t,
    # written without cancellation
    gz = at * (gamma * (1.0 - 2.0 * t) * wr * ce + w * ((1.0 - t) * s - t * sm))
    terms.append(gz * tz)
  if C.has_tangent(tt):
    # d q^gamma / dt = gamma q^(gamma-1) (sm - s); dBCE/dt = -z
    gt = at * (gamma * wk - w * z)
    if use_alpha:
      gt = gt + (2.0 * alpha - 1.0) * w * ce
    terms.append(gt * tt)
  return v, C.tangent_sum(v, terms)


_sfocal.defjvp(_sfocal_jvp, symbolic_zeros=True)


# gamma < 0 would up-weight the well-classified examples (the opposite of
# focusing) and is undefined at p_t = 1; gamma = 0 is (alpha-weighted) BCE.
_GAMMA = (">= 0", " (0 gives plain cross-entropy)")


# alpha weights the positives and 1 - alpha the negatives, so it is a
# fraction: outside [0, 1] one of the two weights turns negative
@C.with_hyperparameter_checks(
  gamma=_GAMMA,
  alpha=(
    "in [0, 1]",
    " (it weights positives and 1 - alpha negatives; alpha=None turns the weighting off)",
  ),
)
@jax.jit
def sigmoid_focal(
  logits: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  gamma: ArrayLike = 2.0,
  alpha: ArrayLike = 0.25,
) -> jax.Array:
  """Sigmoid focal loss (RetinaNet, note 004), elementwise:
  ``alpha_t (1 - p_t)^gamma BCE(z, t)`` with ``p_t = p t + (1 - p)(1 - t)``,
  ``alpha_t = alpha t + (1 - alpha)(1 - t)`` (``alpha=None``: no weighting).

  Gradient, given as a custom JVP: ``dL/dz = alpha_t [gamma (1-p_t)^(gamma-1)
  (1-2t) p (1-p) BCE + (1-p_t)^gamma (p - t)]``; ``dL/dt = alpha_t [gamma
  (1-p_t)^(gamma-1) (1-2p) BCE - (1-p_t)^gamma z] + (2 alpha - 1)
  (1-p_t)^gamma BCE``. Computed in log space, so that it and its derivatives
  stay finite for gamma < 1 at confident predictions. Same as
  ``optax.sigmoid_focal_loss``. ``gamma`` must be >= 0 and ``alpha`` in
  [0, 1] (ValueError when concrete; unchecked under ``jax.jit``).
  """

  def core(z, t, gamma_, alpha_):
    return _sfocal(z, t, gamma_, alpha_, alpha is not None)

  return C.elementwise(
    "sigmoid_focal",
    core,
    logits,
    labels,
    where,
    weights,
    hypers=(gamma, 0.0 if alpha is None else alpha),
    names=("logits", "labels"),
  )


def _softmax_focal_parts(z, gamma):
  """(log p, p, q^gamma, -q^(gamma - 1) p log p) over the last axis, for
  q = 1 - p: accurate as p_top -> 1 and differentiable again without dividing
  by the vanishing 1 - p_top. Shifted by the top logit, e_top = 1 and
  sum e = 1 + rest, with log rest a log-sum-exp of the other classes, so
  the top class is in log space: q = sigma(log rest), log p =
  -softplus(log rest). The others have q = (1 + rest - e_c) / (1 + rest) >=
  1/2, so their powers are plain (and XLA turns them into products for a
  constant integer gamma)."""
  idx = jnp.argmax(z, axis=-1, keepdims=True)
  top = jax.lax.broadcasted_iota(jnp.int32, z.shape, z.ndim - 1) == idx
  m = jnp.take_along_axis(z, idx, axis=-1)
  zs = z - jnp.where(jnp.isfinite(m), m, 0.0)
  others = jnp.where(top, -jnp.inf, zs)
  m2 = jnp.max(others, axis=-1, keepdims=True)
  m2 = jnp.where(jnp.isfinite(m2), m2, 0.0)
  rs = jnp.sum(jnp.exp(others - m2), axis=-1, keepdims=True)
  lr = jnp.where(rs > 0, jnp.log(jnp.where(rs > 0, rs, 1.0)) + m2, C.LOG_ZERO)
  ls = jax.nn.softplus(lr)  # log sum e = log(1 + rest)
  inv_s = jnp.exp(-ls)
  e = jnp.exp(zs)
  lp = zs - ls
  p = e * inv_s
  q = jnp.where(top, 1.0, (1.0 + jnp.exp(lr) - e) * inv_s)
  lq_top = lr - ls
  w = jnp.where(top, jnp.exp(gamma * lq_top), q**gamma)
  # top: q^(gamma-1) p (-log p) = q^gamma rho, rho = log1p(rest) / rest,
  # which is 1 - rest / 2 to the last bit once rest < eps (and e^-log rest
  # would overflow further on)
  far = lr < math.log(jnp.finfo(z.dtype).eps)
  rho = jnp.where(far, 1.0 - 0.5 * jnp.exp(lr), jnp.exp(-jnp.where(far, 0.0, lr)) * ls)
  nlp = jnp.where(e > 0, -lp, 0.0)  # p log p = 0 at a -inf logit
  wr = jnp.where(top, jnp.exp(gamma * lq_top) * rho, q ** (gamma - 1.0) * p * nlp)
  return lp, p, w, wr


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _mfocal(z, t, gamma, alpha, use_alpha):
  lp, _, w, _ = _softmax_focal_parts(z, gamma)
  a = alpha * t if use_alpha else t
  return -jnp.sum(jnp.where(a != 0, a * w * lp, 0.0), axis=-1)  # 0 log 0 = 0


def _mfocal_jvp(use_alpha, primals, tangents):
  z, t, gamma, alpha = primals
  tz, tt, _, _ = tangents  # gamma, alpha: hyperparameters (C.hyper)
  v = _mfocal(z, t, gamma, alpha, use_alpha)
  lp, p, w, wr = _softmax_focal_parts(z, gamma)
  terms = []
  if C.has_tangent(tz):
    # u_c = a_c [gamma q^(gamma-1) p log p - q^gamma], then the softmax
    # Jacobian: dL/dz = u - p sum_c u_c
    a = alpha * t if use_alpha else t
    u = -a * (w + gamma * wr)
    gz = u - p * jnp.sum(u, axis=-1, keepdims=True)
    terms.append(jnp.sum(gz * tz, axis=-1))
  if C.has_tangent(tt):
    # the true -alpha q^gamma log p for every class, t_c = 0 included
    gt = -(alpha if use_alpha else 1.0) * w * lp
    terms.append(jnp.sum(gt * tt, axis=-1))
  return v, C.tangent_sum(v, terms)


_mfocal.defjvp(_mfocal_jvp, symbolic_zeros=True)


# Here alpha is a per-class weight with no 1 - alpha counterpart, so values
# above 1 are legitimate (e.g. inverse class frequencies); only a negative
# weight, which would reward the loss of that class, is refused.
@C.with_hyperparameter_checks(gamma=_GAMMA, alpha=(">= 0", " (per-class weights)"))
@functools.partial(jax.jit, static_argnames=("axis",))
def softmax_focal(
  logits: ArrayLike,
  target_probs: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  gamma: ArrayLike = 2.0,
  alpha: ArrayLike | None = None,
) -> jax.Array:
  """Softmax focal loss ``-sum_c alpha_c t_c (1 - p_c)^gamma log p_c`` over
  ``axis`` (one value per example/pixel). ``alpha``: None, a scalar or a
  per-class vector broadcasting against the class axis.

  Gradient, given as a custom JVP: with ``u_c = alpha_c t_c [gamma
  (1-p_c)^(gamma-1) p_c log p_c - (1-p_c)^gamma]``, ``dL/dz = u - p sum_c
  u_c`` (softmax Jacobian, note 001); ``dL/dt_c = -alpha_c (1-p_c)^gamma log
  p_c``. gamma = 0, alpha = None is ``softmax_cross_entropy``. ``gamma`` and
  ``alpha`` must be >= 0 (ValueError when concrete; unchecked under
  ``jax.jit``); unlike ``sigmoid_focal``'s, this alpha is a class weight and
  may exceed 1.
  """
  z, t, mask, odt = C.axis_setup(
    "softmax_focal", logits, target_probs, axis, where, weights, ("logits", "target_probs")
  )
  al = 0.0 if alpha is None else C.hyper(alpha, z.dtype)
  v = _mfocal(z, t, C.hyper(gamma, z.dtype), al, alpha is not None)
  return C.finish(v, mask, weights, odt)
