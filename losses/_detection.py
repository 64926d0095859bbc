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


@jax.custom_jvp
def _det(pred, target, lam):
  return _det_parts(pred, target, lam)[0]


def _det_parts(pred, target, lam):
  zp, zx, zy, lw, lh = (pred[..., k] for k in range(5))
  i, x, y, w, h = (target[..., k] for k in range(5))
  present = i != 0
  # double-where: an absent object's box is undefined (0, NaN, ...)
  x, y = jnp.where(present, x, 0.5), jnp.where(present, y, 0.5)
  safe_w = jnp.where(present, w, 1.0)
  safe_h = jnp.where(present, h, 1.0)
  dw, dh = lw - jnp.log(safe_w), lh - jnp.log(safe_h)
  bce_p = _sp(zp) - i * zp
  bce_x = _sp(zx) - x * zx
  bce_y = _sp(zy) - y * zy
  inner = (lam[1] * bce_x + lam[2] * bce_y + lam[3] * dw * dw
           + lam[4] * dh * dh)
  inner = jnp.where(present, inner, 0.0)
  v = lam[0] * bce_p + i * inner
  return v, (zp, zx, zy, i, x, y, safe_w, safe_h, dw, dh, bce_p, bce_x,
             bce_y, inner, present)


def _dot5(partials, tangent):
  """sum_k partials[k] * tangent[..., k]: the tangent through the 5 slots."""
  return jnp.sum(jnp.stack(partials, axis=-1) * tangent, axis=-1)


def _det_jvp(primals, tangents):
  pred, target, lam = primals
  t_pred, t_target, t_lam = tangents
  (zp, zx, zy, i, x, y, safe_w, safe_h, dw, dh, bce_p, bce_x, bce_y, inner,
   present) = _det_parts(pred, target, lam)[1]
  v = _det(pred, target, lam)
  s = jax.nn.sigmoid
  # I as the box terms see it: equal to I, but constant where I = 0, matching
  # the value, whose box (and dL/dI = -lam_p z_p + inner) is switched off
  # there; so the mixed second derivatives d2L/dI d(box) agree both ways.
  ib = jnp.where(present, i, 0.0)
  terms = []
  if C.has_tangent(t_pred):
    terms.append(_dot5([
        lam[0] * (s(zp) - i),             # note 003: sigma - t
        ib * lam[1] * (s(zx) - x),
        ib * lam[2] * (s(zy) - y),
        ib * lam[3] * 2.0 * dw,           # note 001: 2 (s - y)
        ib * lam[4] * 2.0 * dh], t_pred))
  if C.has_tangent(t_target):
    terms.append(_dot5([
        -lam[0] * zp + inner,
        -ib * lam[1] * zx,
        -ib * lam[2] * zy,
        -ib * lam[3] * 2.0 * dw / safe_w,
        -ib * lam[4] * 2.0 * dh / safe_h], t_target))
  if C.has_tangent(t_lam):   # component_weights are hyperparameters
    terms.append(_dot5([bce_p, ib * bce_x, ib * bce_y, ib * dw * dw,
                        ib * dh * dh], t_lam))
  return v, C.tangent_sum(v, terms)


_det.defjvp(_det_jvp, symbolic_zeros=True)


@C.with_hyperparameter_checks(component_weights=">= 0")
@functools.partial(jax.jit, static_argnames=("axis",))
def single_object_detection(pred, target, *, where=None, weights=None,
                            axis=-1, component_weights=None):
  """Note 000's one-object detector loss; returns pred.shape without ``axis``.

  Gradients: ``sigma(p) - I`` for the presence logit; ``I (sigma(x) - x^)``
  and ``I (sigma(y) - y^)`` for the centre logits; ``2 I (log w - log w^)``
  and ``2 I (log h - log h^)`` for the log-sizes. When ``I = 0`` the box terms
  vanish and a zero/garbage target box is harmless (double ``where``).
  ``weights`` are per-example as everywhere; ``component_weights`` (shape
  (5,)) weight the five terms (presence, x, y, w, h), e.g. YOLO's lambdas;
  they must be >= 0 (ValueError when concrete; unchecked under ``jax.jit``).
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
