"""Non-maximum suppression (notes 004 "Object detection", "Non-Maximum Suppression").

A detector proposes several overlapping boxes for one object; NMS keeps the most
confident one and removes the boxes that overlap it too much. Greedily, per class:

  1. candidates = the valid boxes with score >= score_threshold;
  2. take the candidate of highest score, keep it;
  3. remove every candidate of the same class with IoU(kept, candidate) > iou_threshold
     (notes: "if IoU is bigger than the pre-defined parameter alpha we simply remove
     the box");
  4. repeat 2-3 until no candidate is left.

Boxes are (x, y, w, h), centre and size (`nn_lib.metrics.detection.box_iou`). The
output has a fixed length `max_boxes` (padding + validity mask) so that the function
jits and vmaps over a batch of images.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from nn_lib.metrics.detection import box_iou


def _check(
  boxes_Nx4: jax.Array,
  scores_N: jax.Array,
  classes_N: jax.Array | None,
  valid_N: jax.Array | None,
  iou_threshold,
  max_boxes: int,
) -> None:
  n = scores_N.shape[0] if scores_N.ndim == 1 else None
  if boxes_Nx4.ndim != 2 or boxes_Nx4.shape[-1] != 4 or n != boxes_Nx4.shape[0]:
    raise ValueError(
      f"nms: needs boxes N x 4 (x, y, w, h) and scores N for one image; got boxes "
      f"{boxes_Nx4.shape} and scores {scores_N.shape} (for a batch of images, "
      f"jax.vmap the function)"
    )
  for name, a in (("classes", classes_N), ("valid", valid_N)):
    if a is not None and a.shape != (n,):
      raise ValueError(f"nms: {name} must have shape ({n},) like the scores; got {a.shape}")
  if not isinstance(max_boxes, numbers.Integral) or isinstance(max_boxes, bool) or max_boxes < 1:
    raise ValueError(
      f"nms: max_boxes must be a positive Python int (it fixes the "
      f"output shape, so it is static under jit); got {max_boxes!r}"
    )
  # A traced threshold (an argument of a jitted function) cannot be checked here.
  if isinstance(iou_threshold, numbers.Real) and not 0.0 <= iou_threshold <= 1.0:
    raise ValueError(f"nms: iou_threshold is an IoU, in [0, 1]; got {iou_threshold}")


def nms(
  boxes_Nx4: jax.Array,
  scores_N: jax.Array,
  classes_N: jax.Array | None = None,
  valid_N: jax.Array | None = None,
  *,
  iou_threshold: float | jax.Array = 0.5,
  score_threshold: float | jax.Array = float("-inf"),
  max_boxes: int,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
  """Greedy per-class non-maximum suppression of one image's boxes.

  Args:
    boxes_Nx4: (x, y, w, h) boxes, centre and size.
    scores_N: their scores (higher = more confident).
    classes_N: integer class of each box; a box only suppresses boxes of its own
      class. None: one class (class-agnostic NMS; the output classes are 0).
    valid_N: boolean mask of the real boxes (False: padding, never kept and never
      suppresses anything). None: all are real.
    iou_threshold: a candidate is removed when its IoU with a kept box of the same
      class is strictly greater than this (so 1.0 removes nothing).
    score_threshold: boxes with score < score_threshold are dropped first
      (default: none is).
    max_boxes: the fixed output length M (static: it is a shape).

  Returns (boxes_Mx4, scores_M, classes_M, valid_M): the kept boxes in decreasing
  score, then padding (boxes 0, scores 0, classes -1, valid False). If more than M
  boxes survive, the M of highest score are returned.

  Equal scores are decided by position: of two boxes with the same score, the one
  with the lower index in the input counts as the more confident (is considered
  first and comes first in the output).

  The pairwise IoU matrix makes this O(N^2) in time and memory; fine for the
  hundreds of boxes of a grid detector.
  """
  boxes_Nx4 = jnp.asarray(boxes_Nx4, jnp.float32)
  scores_N = jnp.asarray(scores_N, jnp.float32)
  classes_N = None if classes_N is None else jnp.asarray(classes_N)
  valid_N = None if valid_N is None else jnp.asarray(valid_N)
  _check(boxes_Nx4, scores_N, classes_N, valid_N, iou_threshold, max_boxes)
  n, m = scores_N.shape[0], max_boxes
  if classes_N is None:
    classes_N = jnp.zeros((n,), jnp.int32)
  classes_N = classes_N.astype(jnp.int32)
  if n == 0:
    return (
      jnp.zeros((m, 4), jnp.float32),
      jnp.zeros((m,), jnp.float32),
      jnp.full((m,), -1, jnp.int32),
      jnp.zeros((m,), bool),
    )

  candidate_N = scores_N >= score_threshold
  if valid_N is not None:
    candidate_N = candidate_N & valid_N.astype(bool)
  # Stable descending sort: ties keep input order, the documented tie rule.
  order_N = jnp.argsort(-scores_N, stable=True)
  boxes_s, scores_s = boxes_Nx4[order_N], scores_N[order_N]
  classes_s, candidate_s = classes_N[order_N], candidate_N[order_N]

  iou_NxN = box_iou(*jnp.broadcast_arrays(boxes_s[:, None, :], boxes_s[None, :, :]))
  # suppresses[i, j]: keeping box i (sorted order) removes box j.
  suppresses_NxN = (iou_NxN > iou_threshold) & (classes_s[:, None] == classes_s[None, :])

  def step(i, state):
    keep, removed = state
    keep_i = candidate_s[i] & ~removed[i]
    # Only boxes after i can still be affected; earlier ones are already decided.
    removed = removed | (keep_i & suppresses_NxN[i])
    return keep.at[i].set(keep_i), removed

  keep_s, _ = jax.lax.fori_loop(0, n, step, (jnp.zeros((n,), bool), jnp.zeros((n,), bool)))

  count = jnp.sum(keep_s)
  idx_M = jnp.nonzero(keep_s, size=m, fill_value=0)[0]
  valid_M = jnp.arange(m) < count
  out_boxes = jnp.where(valid_M[:, None], boxes_s[idx_M], 0.0)
  out_scores = jnp.where(valid_M, scores_s[idx_M], 0.0)
  out_classes = jnp.where(valid_M, classes_s[idx_M], -1)
  return out_boxes, out_scores, out_classes, valid_M
