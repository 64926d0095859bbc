"""Dense-prediction (segmentation) losses (note 004 "Loss and Metrics":
Dice ``2|A n B| / (|A| + |B|)``, Jaccard/IoU ``|A n B| / |A u B|``, Tversky,
focal (RetinaNet), Dice + CE).

Layout: ``logits`` and ``targets`` have the same shape. ``mode``:
 * ``"binary"``: ``(..., *spatial)`` — one mask, sigmoid;
 * ``"multilabel"``: ``(..., *spatial, C)`` (class ``axis``) — sigmoids;
 * ``"multiclass"``: ``(..., *spatial, C)`` — softmax over the class axis,
   targets one-hot (or soft).
``spatial_dims`` (default 2) trailing non-class axes are summed per example;
the leading axes are the batch, and each example gets one loss. Region scores
are computed per class and averaged over classes.

Each core states its hand-derived partial derivatives as a ``jax.custom_jvp``
rule (``symbolic_zeros=True``). A rule returns the value by calling its core,
so the value's derivative is again the hand-derived one at every order, and
writes the partials as jnp code that stays exact and finite when JAX
differentiates it again. Hyperparameters enter through ``C.hyper``
(stop_gradient), so their tangents are symbolic zeros and get no term.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from losses import _classification
from losses import _common as C
from losses import _multiclass

_MODES = ("binary", "multiclass", "multilabel")


def _layout(fn, logits, targets, axis, mode, spatial_dims, where, weights):
  if mode not in _MODES:
    raise ValueError(f"{fn}: mode must be one of {_MODES}, got {mode!r}.")
  C.check_floating(logits, "logits", fn)
  C.check_real(targets, "targets", fn)
  C.check_same_shape(logits, targets, "logits", "targets", fn)
  x, t = jnp.asarray(logits), jnp.asarray(targets)
  if mode != "binary":
    C.check_min_rank(x, spatial_dims + 1, "logits", fn)
    ax = C.normalize_axis(axis, x.ndim, fn)
    x, t = jnp.moveaxis(x, ax, -1), jnp.moveaxis(t, ax, -1)
  else:
    C.check_min_rank(x, spatial_dims, "logits", fn)
    x, t = x[..., None], t[..., None]
  lead = x.shape[:x.ndim - 1 - spatial_dims]
  size = math.prod(x.shape[len(lead):-1])
  x = x.reshape(lead + (size, x.shape[-1]))
  t = t.reshape(x.shape)
  C.check_broadcast_to(where, lead, "where", fn)
  C.check_broadcast_to(weights, lead, "weights", fn)
  cdt, odt = C.compute_dtype(x, t)
  mask = C.as_mask(where, lead)
  m = C.expand_mask(mask, 2)
  return C.safe(x.astype(cdt), m), C.safe(t.astype(cdt), m), mask, odt


def _activate(z, softmax):
  return jax.nn.softmax(z, axis=-1) if softmax else jax.nn.sigmoid(z)


def _activation_jvp(p, tz, softmax):
  if softmax:   # notes 001/003: dp_a/dz_b = p_a (delta_ab - p_b)
    return p * (tz - jnp.sum(p * tz, axis=-1, keepdims=True))
  return p * (1.0 - p) * tz   # sigma' = sigma (1 - sigma)


# --- region ratio losses: 1 - mean_c (nI I + s) / (dI I + dP P + dT T + s) ----
def _ratio_parts(p, t, coef, smooth):
  """The loss and its partials per class w.r.t. I, P and T (quotient rule:
  d(N/D) = (dN D - N dD) / D^2)."""
  i = jnp.sum(p * t, axis=-2)
  sp, st = jnp.sum(p, axis=-2), jnp.sum(t, axis=-2)
  num = coef[0] * i + smooth
  den = coef[1] * i + coef[2] * sp + coef[3] * st + smooth
  v = 1.0 - jnp.mean(num / den, axis=-1)
  scale = -1.0 / p.shape[-1] / (den * den)
  return (v, scale * (coef[0] * den - coef[1] * num), -scale * num * coef[2],
          -scale * num * coef[3])


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _ratio(z, t, coef, smooth, softmax):
  return _ratio_parts(_activate(z, softmax), t, coef, smooth)[0]


def _ratio_jvp(softmax, primals, tangents):
  z, t, coef, smooth = primals
  tz, tt, _, _ = tangents     # coef, smooth: hyperparameters (C.hyper)
  v = _ratio(z, t, coef, smooth, softmax)
  p = _activate(z, softmax)
  _, a, b_p, b_t = _ratio_parts(p, t, coef, smooth)
  # chain rule through the per-class sums: dI = sum(t dp + p dt),
  # dP = sum(dp), dT = sum(dt)
  terms = []
  if C.has_tangent(tz):
    dp = _activation_jvp(p, tz, softmax)
    terms.append(a * jnp.sum(t * dp, axis=-2) + b_p * jnp.sum(dp, axis=-2))
  if C.has_tangent(tt):
    terms.append(a * jnp.sum(p * tt, axis=-2) + b_t * jnp.sum(tt, axis=-2))
  return v, jnp.sum(C.tangent_sum(a, terms), axis=-1)


_ratio.defjvp(_ratio_jvp, symbolic_zeros=True)


def _region(fn, coef, logits, targets, where, weights, axis, mode,
            spatial_dims, smooth):
  z, t, mask, odt = _layout(fn, logits, targets, axis, mode, spatial_dims,
                            where, weights)
  coef = C.hyper(jnp.stack([jnp.asarray(c, z.dtype) for c in coef]), z.dtype)
  v = _ratio(z, t, coef, C.hyper(smooth, z.dtype), mode == "multiclass")
  return C.finish(v, mask, weights, odt)


_STATIC = ("axis", "mode", "spatial_dims")


@functools.partial(jax.jit, static_argnames=_STATIC)
def dice(logits, targets, *, where=None, weights=None, axis=-1,
         mode="multiclass", spatial_dims=2, smooth=1.0):
  """Soft Dice loss ``1 - mean_c (2 I_c + s) / (P_c + T_c + s)`` (note 004),
  ``I = sum p t``, ``P = sum p``, ``T = sum t`` over the spatial axes.

  Gradient (quotient rule), given as a custom JVP: ``dD/dp = (2 t (P + T +
  s) - (2 I + s)) / (P + T + s)^2``, then through the sigmoid/softmax; w.r.t.
  the targets ``dD/dt = (2 p (P + T + s) - (2 I + s)) / (P + T + s)^2``. Equals
  ``optax.dice_loss`` with ``smooth / 2`` (optax smooths (I + s) / (...)).
  """
  return _region("dice", (2.0, 0.0, 1.0, 1.0), logits, targets, where,
                 weights, axis, mode, spatial_dims, smooth)


@functools.partial(jax.jit, static_argnames=_STATIC)
def jaccard(logits, targets, *, where=None, weights=None, axis=-1,
            mode="multiclass", spatial_dims=2, smooth=1.0):
  """Soft Jaccard/IoU loss ``1 - mean_c (I + s) / (P + T - I + s)`` (note
  004 IoU). Gradient by the quotient rule, then through the activation.
  """
  return _region("jaccard", (1.0, -1.0, 1.0, 1.0), logits, targets, where,
                 weights, axis, mode, spatial_dims, smooth)


@functools.partial(jax.jit, static_argnames=_STATIC)
def tversky(logits, targets, *, where=None, weights=None, axis=-1,
            mode="multiclass", spatial_dims=2, alpha=0.5, beta=0.5,
            smooth=1.0):
  """Tversky loss ``1 - mean_c (I + s) / (I + alpha FP + beta FN + s)`` with
  ``FP = P - I``, ``FN = T - I`` (note 004). alpha = beta = 0.5 is Dice with
  smoothing 2s; alpha = beta = 1 is Jaccard. Same as ``optax.dice_loss(...,
  alpha, beta)``.
  """
  coef = (1.0, 1.0 - alpha - beta, alpha, beta)
  return _region("tversky", coef, logits, targets, where, weights, axis, mode,
                 spatial_dims, smooth)


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
  e = jnp.exp(jnp.where(pos, -z, z))   # e^-|z|, with slope -+1 (not 0) at 0
  r = 1.0 / (1.0 + e)
  l1 = jnp.log1p(e)
  return (jnp.where(pos, r, e * r), jnp.where(pos, e * r, r),
          jnp.where(pos, z, 0.0) + l1, jnp.where(pos, 0.0, -z) + l1)


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
  live = q >= jnp.finfo(q.dtype).tiny     # so q^(gamma - 1) <= 1 / q is finite
  q = jnp.where(live, q, 1.0)
  b = jnp.where(live, 1.0 / q, 0.0)
  return (jnp.where(live, q ** gamma, jnp.exp(gamma * _log_q_saturated(z, t))),
          jnp.where(live, q ** (gamma - 1.0), 0.0),
          jnp.where(live, (1.0 - t) * s * b, 1.0 - t),
          jnp.where(live, t * sm * b, t), b)


def _focal_weight_jvp(primals, tangents):
  # dq = (1 - 2t) s sm dz + (sm - s) dt. Every partial is a product of the
  # outputs and s, sm (never a division by q, whose square underflows), so
  # differentiating this rule again stays exact.
  z, t, gamma = primals
  tz, tt, _ = tangents        # gamma: a hyperparameter (C.hyper)
  out = w, wb, a0, a1, b = _focal_weight(z, t, gamma)
  s, sm, _, _ = _sigmoid_parts(z)
  dlq, dq, da0 = [], [], []     # dlog q from dz; dq from dt; d a0
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
  wbt = jnp.where(b > 0, wb, jnp.exp(jnp.minimum(
      (gamma - 1.0) * _log_q_saturated(z, t), 0.0)))
  return out, (gamma * (w * dlq + wbt * dq),
               (gamma - 1.0) * wb * (dlq + b * dq), da0, -da0,
               -b * (dlq + b * dq))


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
  tz, tt, _, _ = tangents     # gamma, alpha: hyperparameters (C.hyper)
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


@jax.jit
def sigmoid_focal(logits, labels, *, where=None, weights=None, gamma=2.0,
                  alpha=0.25):
  """Sigmoid focal loss (RetinaNet, note 004), elementwise:
  ``alpha_t (1 - p_t)^gamma BCE(z, t)`` with ``p_t = p t + (1 - p)(1 - t)``,
  ``alpha_t = alpha t + (1 - alpha)(1 - t)`` (``alpha=None``: no weighting).

  Gradient, given as a custom JVP: ``dL/dz = alpha_t [gamma (1-p_t)^(gamma-1)
  (1-2t) p (1-p) BCE + (1-p_t)^gamma (p - t)]``; ``dL/dt = alpha_t [gamma
  (1-p_t)^(gamma-1) (1-2p) BCE - (1-p_t)^gamma z] + (2 alpha - 1)
  (1-p_t)^gamma BCE``. Computed in log space, so that it and its derivatives
  stay finite for gamma < 1 at confident predictions. Same as
  ``optax.sigmoid_focal_loss``.
  """
  def core(z, t, gamma_, alpha_):
    return _sfocal(z, t, gamma_, alpha_, alpha is not None)
  return C.elementwise("sigmoid_focal", core, logits, labels, where, weights,
                       hypers=(gamma, 0.0 if alpha is None else alpha),
                       names=("logits", "labels"))


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
  ls = jax.nn.softplus(lr)                     # log sum e = log(1 + rest)
  inv_s = jnp.exp(-ls)
  e = jnp.exp(zs)
  lp = zs - ls
  p = e * inv_s
  q = jnp.where(top, 1.0, (1.0 + jnp.exp(lr) - e) * inv_s)
  lq_top = lr - ls
  w = jnp.where(top, jnp.exp(gamma * lq_top), q ** gamma)
  # top: q^(gamma-1) p (-log p) = q^gamma rho, rho = log1p(rest) / rest,
  # which is 1 - rest / 2 to the last bit once rest < eps (and e^-log rest
  # would overflow further on)
  far = lr < math.log(jnp.finfo(z.dtype).eps)
  rho = jnp.where(far, 1.0 - 0.5 * jnp.exp(lr),
                  jnp.exp(-jnp.where(far, 0.0, lr)) * ls)
  nlp = jnp.where(e > 0, -lp, 0.0)             # p log p = 0 at a -inf logit
  wr = jnp.where(top, jnp.exp(gamma * lq_top) * rho,
                 q ** (gamma - 1.0) * p * nlp)
  return lp, p, w, wr


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _mfocal(z, t, gamma, alpha, use_alpha):
  lp, _, w, _ = _softmax_focal_parts(z, gamma)
  a = alpha * t if use_alpha else t
  return -jnp.sum(jnp.where(a != 0, a * w * lp, 0.0), axis=-1)  # 0 log 0 = 0


def _mfocal_jvp(use_alpha, primals, tangents):
  z, t, gamma, alpha = primals
  tz, tt, _, _ = tangents     # gamma, alpha: hyperparameters (C.hyper)
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


@functools.partial(jax.jit, static_argnames=("axis",))
def softmax_focal(logits, target_probs, *, where=None, weights=None, axis=-1,
                  gamma=2.0, alpha=None):
  """Softmax focal loss ``-sum_c alpha_c t_c (1 - p_c)^gamma log p_c`` over
  ``axis`` (one value per example/pixel). ``alpha``: None, a scalar or a
  per-class vector broadcasting against the class axis.

  Gradient, given as a custom JVP: with ``u_c = alpha_c t_c [gamma
  (1-p_c)^(gamma-1) p_c log p_c - (1-p_c)^gamma]``, ``dL/dz = u - p sum_c
  u_c`` (softmax Jacobian, note 001); ``dL/dt_c = -alpha_c (1-p_c)^gamma log
  p_c``. gamma = 0, alpha = None is ``softmax_cross_entropy``.
  """
  z, t, mask, odt = C.axis_setup("softmax_focal", logits, target_probs, axis,
                                 where, weights, ("logits", "target_probs"))
  al = 0.0 if alpha is None else C.hyper(alpha, z.dtype)
  v = _mfocal(z, t, C.hyper(gamma, z.dtype), al, alpha is not None)
  return C.finish(v, mask, weights, odt)


# --- Dice + CE --------------------------------------------------------------------
@functools.partial(jax.jit, static_argnames=_STATIC)
def dice_cross_entropy(logits, targets, *, where=None, weights=None, axis=-1,
                       mode="multiclass", spatial_dims=2, smooth=1.0,
                       dice_weight=1.0, ce_weight=1.0):
  """``dice_weight * dice + ce_weight * mean_pixels CE`` (note 004 "Dice CE").

  CE is softmax CE per pixel (multiclass) or sigmoid BCE per pixel and class
  (binary/multilabel), averaged over the example. Its derivative is the sum
  of the two hand-derived custom JVPs (quotient rule + ``p - t``; w.r.t. the
  targets ``-log p``, at every class).
  """
  fn = "dice_cross_entropy"
  z, t, mask, odt = _layout(fn, logits, targets, axis, mode, spatial_dims,
                            where, weights)
  softmax = mode == "multiclass"
  d = _ratio(z, t, jnp.asarray([2.0, 0.0, 1.0, 1.0], z.dtype),
             C.hyper(smooth, z.dtype), softmax)
  if softmax:
    ce = jnp.mean(_multiclass._sce(z, t), axis=-1)  # pylint: disable=protected-access
  else:
    ce = jnp.mean(_classification._sbce(z, t, None, jnp.zeros((), z.dtype)),  # pylint: disable=protected-access
                  axis=(-2, -1))
  v = C.hyper(dice_weight, z.dtype) * d + C.hyper(ce_weight, z.dtype) * ce
  return C.finish(v, mask, weights, odt)
