"""Single-object detection loss (note 000 "Detection: One Object").

``pred = (p, x, y, w, h)`` along ``axis``: presence logit, x/y logits (the box
centre in [0, 1] through a sigmoid) and log-width/log-height.
``target = (I, x, y, w, h)``: presence I in {0, 1}, centre in [0, 1] and the
positive width/height (the loss takes their log).

``L = BCE(p, I) + I [BCE(x, x^) + BCE(y, y^) + SE(log w, log w^) +
SE(log h, log h^)]`` — exactly note 000, with optional per-term
``component_weights`` (five numbers, default all 1).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from losses import _common as C


_sp = C.softplus


@jax.custom_vjp
def _det(pred, target, lam):
  return _det_fwd(pred, target, lam)[0]


def _det_fwd(pred, target, lam):
  zp, zx, zy, lw, lh = (pred[..., k] for k in range(5))
  i, x, y, w, h = (target[..., k] for k in range(5))
  present = i != 0
  # double-where: an absent object's box is undefined (0, NaN, ...)
  x, y = jnp.where(present, x, 0.5), jnp.where(present, y, 0.5)
  lw_t = jnp.log(jnp.where(present, w, 1.0))
  lh_t = jnp.log(jnp.where(present, h, 1.0))
  dw, dh = lw - lw_t, lh - lh_t
  bce_x = _sp(zx) - x * zx
  bce_y = _sp(zy) - y * zy
  inner = (lam[1] * bce_x + lam[2] * bce_y + lam[3] * dw * dw
           + lam[4] * dh * dh)
  inner = jnp.where(present, inner, 0.0)
  v = lam[0] * (_sp(zp) - i * zp) + i * inner
  return v, (pred, target, lam, x, y, dw, dh, inner, present)


def _det_bwd(res, g):
  pred, target, lam, x, y, dw, dh, inner, present = res
  zp, zx, zy = pred[..., 0], pred[..., 1], pred[..., 2]
  i, w, h = target[..., 0], target[..., 3], target[..., 4]
  s = jax.nn.sigmoid
  gi = g * i
  g_pred = jnp.stack([
      g * lam[0] * (s(zp) - i),           # note 003: sigma - t
      gi * lam[1] * (s(zx) - x),
      gi * lam[2] * (s(zy) - y),
      gi * lam[3] * 2.0 * dw,             # note 001: 2 (s - y)
      gi * lam[4] * 2.0 * dh], axis=-1)
  safe_w = jnp.where(present, w, 1.0)
  safe_h = jnp.where(present, h, 1.0)
  g_target = jnp.stack([
      g * (-lam[0] * zp + inner),
      -gi * lam[1] * zx,
      -gi * lam[2] * zy,
      -gi * lam[3] * 2.0 * dw / safe_w,
      -gi * lam[4] * 2.0 * dh / safe_h], axis=-1)
  return g_pred, g_target, None


_det.defvjp(_det_fwd, _det_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def single_object_detection(pred, target, *, where=None, weights=None,
                            axis=-1, component_weights=None):
  """Note 000's one-object detector loss; returns pred.shape without ``axis``.

  Gradients: ``sigma(p) - I`` for the presence logit; ``I (sigma(x) - x^)``
  and ``I (sigma(y) - y^)`` for the centre logits; ``2 I (log w - log w^)``
  and ``2 I (log h - log h^)`` for the log-sizes. When ``I = 0`` the box terms
  vanish and a zero/garbage target box is harmless (double ``where``).
  ``weights`` are per-example as everywhere; ``component_weights`` (shape
  (5,)) weight the five terms (presence, x, y, w, h), e.g. YOLO's lambdas.
  """
  fn = "single_object_detection"
  x, t, mask, odt = C.axis_setup(fn, pred, target, axis, where, weights,
                                 ("pred", "target"))
  if x.shape[-1] != 5:
    raise ValueError(
        f"{fn}: pred shape {jnp.shape(pred)} and target shape "
        f"{jnp.shape(target)} need size 5 (p, x, y, w, h) along axis {axis}.")
  lam = (jnp.ones((5,), x.dtype) if component_weights is None
         else C.hyper(component_weights, x.dtype))
  if lam.shape != (5,):
    raise ValueError(f"{fn}: component_weights shape {lam.shape} must be "
                     "(5,).")
  return C.finish(_det(x, t, lam), mask, weights, odt)
