"""Single-object detection metrics (notes 000 "Detection: One Object"; IoU from notes
004 "Object detection": IoU = area of overlap / area of union).

The detector emits, per canvas, `[p, x, y, log w, log h, ...]` (the
`single_object_detector` head): p, x, y are logits and the sizes are logs, so the
predicted box is (sigma(x), sigma(y), exp(log w), exp(log h)). Targets are
`(I, x, y, w, h)` with I in {0, 1}. Boxes are (x, y, w, h): centre and size in
canvas-fraction units (x to the right, y down).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nn_lib.metrics.registry import register


def _check_detection(outputs_BxK: jax.Array, targets_Bx5: jax.Array, fn: str) -> None:
  if (
    outputs_BxK.ndim != 2
    or outputs_BxK.shape[-1] < 5
    or targets_Bx5.ndim != 2
    or targets_Bx5.shape[-1] != 5
    or outputs_BxK.shape[0] != targets_Bx5.shape[0]
  ):
    raise ValueError(
      f"{fn}: needs outputs B x (>= 5) = [p, x, y, log w, log h, ...] and "
      f"targets B x 5 = (I, x, y, w, h); got {outputs_BxK.shape} and "
      f"{targets_Bx5.shape}"
    )


def decode_boxes(outputs_BxK: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Detector outputs -> (presence probability p_B, boxes_Bx4 = (x, y, w, h)):
  p = sigma(z_p), x = sigma(z_x), y = sigma(z_y), w = exp(log w), h = exp(log h)."""
  o = jnp.asarray(outputs_BxK, jnp.float32)
  xy = jax.nn.sigmoid(o[..., 1:3])
  wh = jnp.exp(o[..., 3:5])
  return jax.nn.sigmoid(o[..., 0]), jnp.concatenate([xy, wh], axis=-1)


def box_iou(boxes_a_Bx4: jax.Array, boxes_b_Bx4: jax.Array) -> jax.Array:
  """IoU of corresponding (x, y, w, h) boxes (centre and size), elementwise over the
  leading axes:

      IoU = |A n B| / |A u B| = I / (w_a h_a + w_b h_b - I),
      I = max(0, min(r_a, r_b) - max(l_a, l_b)) * max(0, min(b_a, b_b) - max(t_a, t_b))

  with l = x - w/2, r = x + w/2, t = y - h/2, b = y + h/2. Two empty boxes (zero
  union) have IoU 0. Returns shape boxes_a_Bx4.shape[:-1].
  """
  a, b = jnp.asarray(boxes_a_Bx4, jnp.float32), jnp.asarray(boxes_b_Bx4, jnp.float32)
  if a.shape != b.shape or a.shape[-1:] != (4,):
    raise ValueError(
      f"box_iou: needs two ... x 4 arrays of (x, y, w, h) boxes of the "
      f"same shape; got {a.shape} and {b.shape}"
    )
  lo_a, hi_a = a[..., :2] - a[..., 2:] / 2, a[..., :2] + a[..., 2:] / 2
  lo_b, hi_b = b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2
  side = jnp.clip(jnp.minimum(hi_a, hi_b) - jnp.maximum(lo_a, lo_b), 0.0)
  inter = side[..., 0] * side[..., 1]
  union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
  return jnp.where(union > 0, inter / jnp.where(union > 0, union, 1.0), 0.0)


@register("presence_accuracy")
def presence_accuracy(outputs_BxK: jax.Array, targets_Bx5: jax.Array) -> jax.Array:
  """Fraction of canvases whose presence decision p > 0.5 (logit > 0) equals I."""
  _check_detection(outputs_BxK, targets_Bx5, "presence_accuracy")
  return jnp.mean((outputs_BxK[:, 0] > 0) == (targets_Bx5[:, 0] > 0.5))


@register("mean_box_iou")
def mean_box_iou(outputs_BxK: jax.Array, targets_Bx5: jax.Array) -> jax.Array:
  """Mean IoU between the predicted and the true box over the canvases that hold an
  object (I = 1), whatever the predicted presence: sum_i I_i IoU_i / sum_i I_i
  (0 if no canvas holds an object)."""
  _check_detection(outputs_BxK, targets_Bx5, "mean_box_iou")
  _, pred_Bx4 = decode_boxes(outputs_BxK)
  present_B = (targets_Bx5[:, 0] > 0.5).astype(jnp.float32)
  iou_B = box_iou(pred_Bx4, jnp.asarray(targets_Bx5[:, 1:], jnp.float32))
  n = jnp.sum(present_B)
  return jnp.where(n > 0, jnp.sum(present_B * iou_B) / jnp.maximum(n, 1.0), 0.0)
