"""Detection losses: one object per image (note 000 "Detection: One Object")
and the YOLO v1 grid loss (note 004 "Object detection"; Redmon et al. 2016).

Single object:

``pred = (p, x, y, w, h)`` along ``axis``: presence logit, x/y logits (the box
centre in [0, 1] through a sigmoid) and log-width/log-height.
``target = (I, x, y, w, h)``: presence I in {0, 1}, centre in [0, 1] and the
positive width/height (the loss takes their log).

``L = BCE(p, I) + I [BCE(x, x^) + BCE(y, y^) + SE(log w, log w^) +
SE(log h, log h^)]`` — exactly note 000, with optional per-term
``component_weights`` (five numbers, default all 1).

YOLO (``yolo_loss``): a weighted sum of squares, ``sum W (P - T)^2`` over the
cells and channels, once the responsible boxes (and, for
``confidence_target="iou"``, the confidence targets) are chosen. Those
choices are constants for differentiation (``stop_gradient``), so the
hand-derived derivative is ``2 W (P - T)`` for the predictions and
``-2 W (P - T) dT/dt`` for the targets.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

from losses import _common as C
from losses._common import Axis


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
  inner = lam[1] * bce_x + lam[2] * bce_y + lam[3] * dw * dw + lam[4] * dh * dh
  inner = jnp.where(present, inner, 0.0)
  v = lam[0] * bce_p + i * inner
  return v, (zp, zx, zy, i, x, y, safe_w, safe_h, dw, dh, bce_p, bce_x, bce_y, inner, present)


def _dot5(partials, tangent):
  """sum_k partials[k] * tangent[..., k]: the tangent through the 5 slots."""
  return jnp.sum(jnp.stack(partials, axis=-1) * tangent, axis=-1)


def _det_jvp(primals, tangents):
  pred, target, lam = primals
  t_pred, t_target, t_lam = tangents
  (zp, zx, zy, i, x, y, safe_w, safe_h, dw, dh, bce_p, bce_x, bce_y, inner, present) = _det_parts(
    pred, target, lam
  )[1]
  v = _det(pred, target, lam)
  s = jax.nn.sigmoid
  # I as the box terms see it: equal to I, but constant where I = 0, matching
  # the value, whose box (and dL/dI = -lam_p z_p + inner) is switched off
  # there; so the mixed second derivatives d2L/dI d(box) agree both ways.
  ib = jnp.where(present, i, 0.0)
  terms = []
  if C.has_tangent(t_pred):
    terms.append(
      _dot5(
        [
          lam[0] * (s(zp) - i),  # note 003: sigma - t
          ib * lam[1] * (s(zx) - x),
          ib * lam[2] * (s(zy) - y),
          ib * lam[3] * 2.0 * dw,  # note 001: 2 (s - y)
          ib * lam[4] * 2.0 * dh,
        ],
        t_pred,
      )
    )
  if C.has_tangent(t_target):
    terms.append(
      _dot5(
        [
          -lam[0] * zp + inner,
          -ib * lam[1] * zx,
          -ib * lam[2] * zy,
          -ib * lam[3] * 2.0 * dw / safe_w,
          -ib * lam[4] * 2.0 * dh / safe_h,
        ],
        t_target,
      )
    )
  if C.has_tangent(t_lam):  # component_weights are hyperparameters
    terms.append(_dot5([bce_p, ib * bce_x, ib * bce_y, ib * dw * dw, ib * dh * dh], t_lam))
  return v, C.tangent_sum(v, terms)


_det.defjvp(_det_jvp, symbolic_zeros=True)


@C.with_hyperparameter_checks(component_weights=">= 0")
@functools.partial(jax.jit, static_argnames=("axis",))
def single_object_detection(
  pred: ArrayLike,
  target: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  component_weights: ArrayLike | None = None,
) -> jax.Array:
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
  x, t, mask, odt = C.axis_setup(fn, pred, target, axis, where, weights, ("pred", "target"))
  if x.shape[-1] != 5:
    raise ValueError(
      f"{fn}: pred shape {jnp.shape(pred)} and target shape "
      f"{jnp.shape(target)} need size 5 (p, x, y, w, h) along axis {axis}."
    )
  lam = (
    jnp.ones((5,), x.dtype) if component_weights is None else C.hyper(component_weights, x.dtype)
  )
  if lam.shape != (5,):
    raise ValueError(f"{fn}: component_weights shape {lam.shape} must be (5,).")
  return C.finish(_det(x, t, lam), mask, weights, odt)


# --- YOLO v1 (note 004; Redmon et al. 2016, eq. (3)) ------------------------
_CONFIDENCE_TARGETS = ("iou", "one")
_LAMBDA = (">= 0", " (a weight of the loss's terms)")


def _iou_cxcywh(a, b):
  """IoU of boxes given as (..., 4) = (cx, cy, w, h) in one unit; 0 (not NaN)
  for two empty boxes (masked examples, cells of zeros)."""
  lo = jnp.maximum(a[..., :2] - a[..., 2:] / 2, b[..., :2] - b[..., 2:] / 2)
  hi = jnp.minimum(a[..., :2] + a[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2)
  inter = jnp.prod(jnp.maximum(hi - lo, 0.0), axis=-1)
  union = jnp.prod(a[..., 2:], axis=-1) + jnp.prod(b[..., 2:], axis=-1) - inter
  ok = union > 0
  return jnp.where(ok, inter / jnp.where(ok, union, 1.0), 0.0)


def _layout(p_SxSxD, t_SxSxT, lam, num_boxes, confidence_target):
  """Weights W and targets T shaped like the predictions (the loss is
  sum W (P - T)^2), the coordinate and no-object masks (dW/dlambda), the
  object mask and the factor dT/dt of the box coordinates."""
  nb, dt = num_boxes, p_SxSxD.dtype
  rows, cols = p_SxSxD.shape[-3], p_SxSxD.shape[-2]
  boxes = p_SxSxD[..., : 5 * nb].reshape(p_SxSxD.shape[:-1] + (nb, 5))
  obj = t_SxSxT[..., 0] > 0.5
  # double where: a cell without an object has no box (zeros, NaN, ...); a
  # unit box keeps sqrt and its derivative finite there
  box_t = jnp.where(obj[..., None], t_SxSxT[..., 1:5], jnp.asarray([0.5, 0.5, 1.0, 1.0], dt))
  # x, y are offsets inside the cell in cell units, w, h image fractions:
  # centres / S puts both in image units (the cell's corner cancels in IoU)
  scale = jnp.asarray([1.0 / cols, 1.0 / rows, 1.0, 1.0], dt)
  pred_box = jnp.concatenate([boxes[..., :2], boxes[..., 2:4] ** 2], -1)
  iou_SxSxB = jax.lax.stop_gradient(_iou_cxcywh(pred_box * scale, (box_t * scale)[..., None, :]))
  resp = jax.nn.one_hot(jnp.argmax(iou_SxSxB, axis=-1), nb, dtype=dt) * obj[..., None].astype(dt)
  conf_t = resp * (iou_SxSxB if confidence_target == "iou" else 1.0)
  sqrt_wh = jnp.sqrt(box_t[..., 2:])
  # per box slot (x, y, sqrt_w, sqrt_h, conf): which term it belongs to
  is_conf = jnp.asarray([0.0, 0.0, 0.0, 0.0, 1.0], dt)
  coord_mask = resp[..., None] * (1.0 - is_conf)
  noobj_mask = (1.0 - resp)[..., None] * is_conf
  w_box = lam[0] * coord_mask + resp[..., None] * is_conf + lam[1] * noobj_mask
  coord_t = jnp.concatenate([box_t[..., :2], sqrt_wh], -1)[..., None, :]
  t_box = jnp.concatenate(
    [jnp.broadcast_to(coord_t, boxes.shape[:-1] + (4,)), conf_t[..., None]], -1
  )
  flat = lambda x: x.reshape(p_SxSxD.shape[:-1] + (5 * nb,))  # noqa: E731
  cls_w = jnp.broadcast_to(obj[..., None].astype(dt), t_SxSxT[..., 5:].shape)
  no_cls = jnp.zeros_like(cls_w)
  weights = jnp.concatenate([flat(w_box), cls_w], -1)
  targets = jnp.concatenate([flat(t_box), jnp.where(obj[..., None], t_SxSxT[..., 5:], 0.0)], -1)
  masks = (
    jnp.concatenate([flat(coord_mask), no_cls], -1),
    jnp.concatenate([flat(noobj_mask), no_cls], -1),
  )
  # dT/dt for (x, y, w, h): 1, 1, 1 / (2 sqrt w), 1 / (2 sqrt h); the
  # confidence target does not move with t (1, or the IoU under stop_gradient)
  d_coord = jnp.where(
    obj[..., None], jnp.concatenate([jnp.ones_like(sqrt_wh), 0.5 / sqrt_wh], -1), 0.0
  )
  return weights, targets, masks, obj, d_coord


def _lift_target_tangent(tt_SxSxT, obj, d_coord, num_boxes):
  """A tangent of the targets in the predictions' layout (dT)."""
  coord = d_coord * tt_SxSxT[..., 1:5]
  per_box = jnp.concatenate([coord, jnp.zeros_like(coord[..., :1])], -1)
  boxes = jnp.tile(per_box, num_boxes)
  cls = jnp.where(obj[..., None], tt_SxSxT[..., 5:], 0.0)
  return jnp.concatenate([boxes, cls], -1)


def _cells_sum(x):
  return jnp.sum(x, axis=(-3, -2, -1))


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _yolo(p, t, lam, num_boxes, confidence_target):
  w, target, _, _, _ = _layout(p, t, lam, num_boxes, confidence_target)
  d = p - target
  return _cells_sum(w * d * d)


def _yolo_jvp(num_boxes, confidence_target, primals, tangents):
  p, t, lam = primals
  tp, tt, tlam = tangents
  w, target, (coord_mask, noobj_mask), obj, d_coord = _layout(
    p, t, lam, num_boxes, confidence_target
  )
  d = p - target
  v = _cells_sum(w * d * d)
  terms = []
  if C.has_tangent(tp):  # d/dP W (P - T)^2 = 2 W (P - T)
    terms.append(_cells_sum(2.0 * w * d * tp))
  if C.has_tangent(tt):  # -2 W (P - T) dT; has_object is a switch: 0
    dt = _lift_target_tangent(tt, obj, d_coord, num_boxes)
    terms.append(_cells_sum(-2.0 * w * d * dt))
  if C.has_tangent(tlam):  # lambdas are hyperparameters (C.hyper)
    terms.append(
      _cells_sum(coord_mask * d * d) * tlam[0] + _cells_sum(noobj_mask * d * d) * tlam[1]
    )
  return v, C.tangent_sum(v, terms)


_yolo.defjvp(_yolo_jvp, symbolic_zeros=True)


def _check_layout(fn, predictions, targets, num_boxes, confidence_target):
  """Trace-time checks: dtypes, ranks, the channel sizes, the options."""
  if isinstance(num_boxes, bool) or not isinstance(num_boxes, (int, np.integer)) or num_boxes < 1:
    raise ValueError(f"{fn}: num_boxes must be a positive int (boxes per cell), got {num_boxes!r}.")
  if confidence_target not in _CONFIDENCE_TARGETS:
    raise ValueError(f"{fn}: confidence_target must be 'iou' or 'one', got {confidence_target!r}.")
  C.check_floating(predictions, "predictions", fn)
  C.check_real(targets, "targets", fn)
  C.check_min_rank(predictions, 3, "predictions", fn)
  sp, st = tuple(jnp.shape(predictions)), tuple(jnp.shape(targets))
  if len(sp) != len(st) or sp[:-1] != st[:-1]:
    raise ValueError(
      f"{fn}: predictions shape {sp} and targets shape {st} must agree in "
      "every axis but the last (... x S x S x (5 num_boxes + C) and "
      "... x S x S x (5 + C))."
    )
  if st[-1] < 5 or sp[-1] != 5 * num_boxes + st[-1] - 5:
    raise ValueError(
      f"{fn}: predictions shape {sp} and targets shape {st} do not fit "
      f"num_boxes={num_boxes}: targets need 5 + C channels (has_object, x, "
      f"y, w, h, C classes) and predictions 5 * {num_boxes} + C; pass the "
      "num_boxes the model predicts."
    )


def _check_target_values(fn, targets, where):
  """Eager: has_object must be 0/1 and an object's w, h >= 0 (the loss takes
  their square roots). Traced targets (under jit) are unchecked."""
  kept = C.kept_values(targets, where, axes=(-3, -2, -1))
  if kept is None or kept.size == 0:
    return
  has = kept[..., 0]
  if np.any((has != 0) & (has != 1)):
    raise ValueError(
      f"{fn}: targets[..., 0] (has_object) must be 0 or 1, "
      f"got values in [{np.nanmin(has):.6g}, "
      f"{np.nanmax(has):.6g}]."
    )
  wh = kept[..., 3:5][has == 1]
  if np.any(wh < 0):
    raise ValueError(
      f"{fn}: targets[..., 3:5] (w, h of an object) must be "
      f">= 0 fractions of the image, got {np.min(wh):.6g}."
    )


@functools.partial(jax.jit, static_argnames=("num_boxes", "confidence_target"))
def _yolo_jit(
  predictions, targets, where, weights, lambda_coord, lambda_noobj, num_boxes, confidence_target
):
  fn = "yolo_loss"
  _check_layout(fn, predictions, targets, num_boxes, confidence_target)
  out_shape = jnp.shape(predictions)[:-3]
  C.check_broadcast_to(where, out_shape, "where", fn)
  C.check_broadcast_to(weights, out_shape, "weights", fn)
  cdt, odt = C.compute_dtype(predictions, targets)
  mask = C.as_mask(where, out_shape)
  m = C.expand_mask(mask, 3)
  p = C.safe(jnp.asarray(predictions).astype(cdt), m)
  t = C.safe(jnp.asarray(targets).astype(cdt), m)
  lam = jnp.stack([C.hyper(lambda_coord, cdt), C.hyper(lambda_noobj, cdt)])
  return C.finish(_yolo(p, t, lam, num_boxes, confidence_target), mask, weights, odt)


def yolo_loss(
  predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  num_boxes: int = 2,
  lambda_coord: ArrayLike = 5.0,
  lambda_noobj: ArrayLike = 0.5,
  confidence_target: str = "iou",
) -> jax.Array:
  """The YOLO v1 loss (Redmon et al. 2016, eq. (3); note 004 "Object
  detection"), one value per image: ``predictions.shape[:-3]``, which is
  also the shape ``where`` and ``weights`` broadcast to (they mask and
  weight whole images).

  Layout (``S_r x S_c`` grid; rows are y, columns x):

  * ``predictions`` ``... x S x S x (5 num_boxes + C)``: per cell, each box
    ``[x, y, sqrt_w, sqrt_h, conf]`` (centre offset inside the cell in cell
    units; square roots of the width/height as fractions of the image, as
    the paper's loss compares ``sqrt w``), then the cell's ``C`` class
    scores (raw numbers: a squared error, no softmax).
  * ``targets`` ``... x S x S x (5 + C)``: per cell ``[has_object, x, y, w,
    h, one-hot class]`` (w, h plain fractions; what
    ``nn_lib.decoding``'s ``assign_targets`` produces). ``has_object`` is 0
    or 1; the box and classes of an empty cell are ignored (even NaN).

  Per image, summed over the cells ``i`` and boxes ``j``::

    L = l_coord sum_i sum_j 1obj_ij [(x_ij - x^_i)^2 + (y_ij - y^_i)^2]
      + l_coord sum_i sum_j 1obj_ij [(sqrt_w_ij - sqrt w^_i)^2
                                     + (sqrt_h_ij - sqrt h^_i)^2]
      + sum_i sum_j 1obj_ij (conf_ij - C^_ij)^2
      + l_noobj sum_i sum_j 1noobj_ij conf_ij^2
      + sum_i 1obj_i sum_c (p_i(c) - p^_i(c))^2

  with ``l_coord = lambda_coord`` (5) and ``l_noobj = lambda_noobj`` (0.5),
  which the paper uses to weigh the box error up and the confidence of the
  many empty boxes down. ``1obj_i``: cell ``i`` holds an object;
  ``1obj_ij``: box ``j`` is *responsible* for it, the one of the cell's
  ``num_boxes`` boxes with the highest IoU with the true box (first on a
  tie; IoU of the predicted box, width ``sqrt_w^2``, and the true one, in
  image units); ``1noobj_ij = 1 - 1obj_ij``: every other box, in empty cells
  and the non-responsible boxes of cells with an object, as in the paper.
  The confidence target ``C^_ij`` is the IoU of the responsible box with
  the truth (``confidence_target="iou"``, the paper's) or 1 (``"one"``).

  Derivatives (``jax.custom_jvp``, every order): the choice of the
  responsible box and the IoU target are held constant (``stop_gradient``),
  so the loss is ``sum W (P - T)^2`` with W, T fixed and ``dL/dP = 2 W (P -
  T)``: ``2 l_coord (x - x^)`` for a responsible box's coordinates,
  ``2 (conf - C^)`` for its confidence, ``2 l_noobj conf`` for the others'
  and ``2 (p - p^)`` for an object cell's classes (0 elsewhere). With
  ``"iou"`` this is not the derivative of the loss as a function of the
  box (the IoU moves with it; the paper regresses the confidence *on* the
  IoU as a target), so only ``"one"`` passes a finite-difference check.
  Targets: ``-2 W (P - T)`` through x, y, class and ``sqrt w``, ``sqrt h``
  (times ``1 / (2 sqrt w^)``); ``has_object`` is a switch (derivative 0).

  ``lambda_coord``, ``lambda_noobj`` must be >= 0 (ValueError when
  concrete); ``num_boxes`` and ``confidence_target`` are static. Concrete
  targets are checked (has_object 0/1, an object's w, h >= 0).
  """
  fn = "yolo_loss"
  C.check_hyperparameter(lambda_coord, "lambda_coord", fn, *_LAMBDA)
  C.check_hyperparameter(lambda_noobj, "lambda_noobj", fn, *_LAMBDA)
  _check_layout(fn, predictions, targets, num_boxes, confidence_target)
  C.check_broadcast_to(where, jnp.shape(predictions)[:-3], "where", fn)
  _check_target_values(fn, targets, where)
  return _yolo_jit(
    predictions, targets, where, weights, lambda_coord, lambda_noobj, num_boxes, confidence_target
  )
