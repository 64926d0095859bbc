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


def _activation_vjp(p, gp, softmax):
  if softmax:   # notes 001/003: dp_a/dz_b = p_a (delta_ab - p_b)
    return p * (gp - jnp.sum(gp * p, axis=-1, keepdims=True))
  return gp * p * (1.0 - p)   # sigma' = sigma (1 - sigma)


# --- region ratio losses: 1 - mean_c (nI I + s) / (dI I + dP P + dT T + s) ----
@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _ratio(z, t, coef, smooth, softmax):
  return _ratio_fwd(z, t, coef, smooth, softmax)[0]


def _ratio_fwd(z, t, coef, smooth, softmax):
  p = _activate(z, softmax)
  i = jnp.sum(p * t, axis=-2)
  sp, st = jnp.sum(p, axis=-2), jnp.sum(t, axis=-2)
  num = coef[0] * i + smooth
  den = coef[1] * i + coef[2] * sp + coef[3] * st + smooth
  v = 1.0 - jnp.mean(num / den, axis=-1)
  return v, (z, t, coef, num, den)


def _ratio_bwd(softmax, res, g):
  z, t, coef, num, den = res
  p = _activate(z, softmax)   # recomputed: cheaper than storing p
  # quotient rule: dR/dp = (nI t D - N (dI t + dP)) / D^2 = a t + b per class
  scale = -g[..., None] / p.shape[-1] / (den * den)
  a = (scale * (coef[0] * den - coef[1] * num))[..., None, :]
  b_p = (-scale * num * coef[2])[..., None, :]
  b_t = (-scale * num * coef[3])[..., None, :]
  gp = a * t + b_p
  gt = a * p + b_t
  return _activation_vjp(p, gp, softmax), gt, None, None


_ratio.defvjp(_ratio_fwd, _ratio_bwd)


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

  Gradient (quotient rule): ``dD/dp = (2 t (P + T + s) - (2 I + s)) /
  (P + T + s)^2``, then through the sigmoid/softmax. Equals
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
def _pow_m1(q, gamma):
  """gamma q^(gamma - 1), with the q -> 0 limit of gamma q^(gamma-1) q = 0."""
  pos = q > 0
  return jnp.where(pos, gamma * jnp.where(pos, q, 1.0) ** (gamma - 1.0), 0.0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _sfocal(z, t, gamma, alpha, use_alpha):
  return _sfocal_fwd(z, t, gamma, alpha, use_alpha)[0]


def _sfocal_fwd(z, t, gamma, alpha, use_alpha):
  ce, _ = C.bce_logits(z, t)             # BCE on logits
  s, sm = jax.nn.sigmoid(z), jax.nn.sigmoid(-z)
  q = t * sm + (1.0 - t) * s             # 1 - p_t, without cancellation
  at = alpha * t + (1.0 - alpha) * (1.0 - t) if use_alpha else 1.0
  qg = q ** gamma
  return at * qg * ce, (z, t, s, sm, q, qg, ce, at, gamma, alpha)


def _sfocal_bwd(use_alpha, res, g):
  z, t, s, sm, q, qg, ce, at, gamma, alpha = res
  gq = _pow_m1(q, gamma)
  gz = at * (gq * (1.0 - 2.0 * t) * s * sm * ce + qg * (s - t))
  gt = at * (gq * (sm - s) * ce - qg * z)
  if use_alpha:
    gt = gt + (2.0 * alpha - 1.0) * qg * ce
  return g * gz, g * gt, None, None


_sfocal.defvjp(_sfocal_fwd, _sfocal_bwd)


@jax.jit
def sigmoid_focal(logits, labels, *, where=None, weights=None, gamma=2.0,
                  alpha=0.25):
  """Sigmoid focal loss (RetinaNet, note 004), elementwise:
  ``alpha_t (1 - p_t)^gamma BCE(z, t)`` with ``p_t = p t + (1 - p)(1 - t)``,
  ``alpha_t = alpha t + (1 - alpha)(1 - t)`` (``alpha=None``: no weighting).

  Gradient: ``alpha_t [gamma (1-p_t)^(gamma-1) (1-2t) p (1-p) BCE +
  (1-p_t)^gamma (p - t)]``. Same as ``optax.sigmoid_focal_loss``.
  """
  def core(z, t, gamma_, alpha_):
    return _sfocal(z, t, gamma_, alpha_, alpha is not None)
  return C.elementwise("sigmoid_focal", core, logits, labels, where, weights,
                       hypers=(gamma, 0.0 if alpha is None else alpha),
                       names=("logits", "labels"))


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _mfocal(z, t, gamma, alpha, use_alpha):
  return _mfocal_fwd(z, t, gamma, alpha, use_alpha)[0]


def _mfocal_fwd(z, t, gamma, alpha, use_alpha):
  lp = jax.nn.log_softmax(z, axis=-1)
  q = -jnp.expm1(lp)                     # 1 - p_c, accurate near p = 1
  a = alpha * t if use_alpha else t
  qg = q ** gamma
  v = -jnp.sum(jnp.where(a != 0, a * qg * lp, 0.0), axis=-1)
  return v, (lp, q, qg, a, gamma, alpha)


def _mfocal_bwd(use_alpha, res, g):
  lp, q, qg, a, gamma, alpha = res
  p = jnp.exp(lp)
  u = jnp.where(a != 0, a * _pow_m1(q, gamma) * p * lp, 0.0) - a * qg
  gz = u - p * jnp.sum(u, axis=-1, keepdims=True)
  gt = -(alpha if use_alpha else 1.0) * qg * lp
  return g[..., None] * gz, g[..., None] * gt, None, None


_mfocal.defvjp(_mfocal_fwd, _mfocal_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def softmax_focal(logits, target_probs, *, where=None, weights=None, axis=-1,
                  gamma=2.0, alpha=None):
  """Softmax focal loss ``-sum_c alpha_c t_c (1 - p_c)^gamma log p_c`` over
  ``axis`` (one value per example/pixel). ``alpha``: None, a scalar or a
  per-class vector broadcasting against the class axis.

  Gradient: with ``u_c = alpha_c t_c [gamma (1-p_c)^(gamma-1) p_c log p_c -
  (1-p_c)^gamma]``, ``dL/dz = u - p sum_c u_c`` (softmax Jacobian, note 001).
  gamma = 0, alpha = None is ``softmax_cross_entropy``.
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
  (binary/multilabel), averaged over the example. Its gradient is the sum of
  the two hand-derived gradients (quotient rule + ``p - t``).
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
