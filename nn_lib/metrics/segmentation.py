"""Semantic segmentation metrics (notes 004 "Segmentation", "Loss and Metrics"):
pixel accuracy, the Dice coefficient and IoU (the Jaccard index), all from one
C x C confusion matrix over every pixel of every image passed in.

  pixel accuracy = correct pixels / pixels      (the notes' (TP + TN) / all for
                                                 one class against the rest)
  Dice_c = 2 TP_c / (2 TP_c + FP_c + FN_c)      (= 2 |A n B| / (|A| + |B|))
  IoU_c  =   TP_c / (TP_c + FP_c + FN_c)        (= |A n B| / |A u B|)

with, for class c, TP_c the pixels labelled c and predicted c, FP_c those
predicted c but labelled otherwise, FN_c those labelled c but predicted
otherwise. The loop's evaluation passes a whole split's outputs at once, so
these are exact over the split's pixels, not averages of per-batch values.

Outputs are logits ``B x H x W x C`` (any number of spatial axes), the
predicted class is their arg-max; targets are integer class maps ``B x H x W``,
or one-hot maps ``B x H x W x C`` (the region losses' targets, e.g. from the
``one_hot`` transform), read as the class of their 1 (an all-zero row
is an ignored pixel).
A negative target means "ignore this pixel" (as the losses' negative labels):
it is in no count, including pixel accuracy's denominator. A target >= C
raises ValueError when the targets are concrete; under ``jax.jit`` it cannot
be inspected and is ignored like a negative one.

A class absent from both the targets and the predictions (TP + FP + FN = 0)
has no defined IoU or Dice (0 / 0): its per-class value is NaN and the means
(``mean_iou``, ``mean_dice``) are over the classes present in the targets or
the predictions only, so that classes an evaluation split happens not to
contain neither count as perfect (1) nor as failures (0).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nn_lib.metrics.registry import register


def _check(fn: str, logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array) -> None:
  """Shapes and dtypes (at trace time), label range (when concrete)."""
  sl, st = tuple(np.shape(logits_BxHxWxC)), tuple(np.shape(labels_BxHxW))
  if len(sl) >= 4 and st == sl:  # one-hot maps: _class_maps reads them
    return
  if len(sl) < 4 or sl[:-1] != st or sl[-1] < 1:
    raise ValueError(
      f"{fn}: needs logits B x H x W x C and integer class maps B x H x W "
      f"(the logits' shape without the class axis); got {sl} and {st}"
    )
  if not jnp.issubdtype(jnp.result_type(labels_BxHxW), jnp.integer):
    raise ValueError(
      f"{fn}: targets must be integer class maps, got dtype "
      f"{jnp.result_type(labels_BxHxW)}; cast them with .astype(int)"
    )
  if not isinstance(labels_BxHxW, jax.core.Tracer) and np.size(labels_BxHxW):
    top = int(np.max(labels_BxHxW))
    if top >= sl[-1]:
      raise ValueError(
        f"{fn}: targets contain class {top} but the logits have only "
        f"{sl[-1]} classes (0..{sl[-1] - 1}; negative targets mean 'ignore')"
      )


def _class_maps(logits_BxHxWxC: jax.Array, targets: jax.Array) -> jax.Array:
  """Integer class maps B x H x W: the targets themselves, or the arg-max of
  one-hot targets B x H x W x C (-1, ignored, where a row has no positive)."""
  targets = jnp.asarray(targets)
  if targets.shape != logits_BxHxWxC.shape:
    return targets
  return jnp.where(jnp.max(targets, axis=-1) > 0, jnp.argmax(targets, axis=-1), -1)


def _confusion(logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array) -> jax.Array:
  c = logits_BxHxWxC.shape[-1]
  true_N = _class_maps(logits_BxHxWxC, labels_BxHxW).reshape(-1).astype(jnp.int32)
  pred_N = jnp.argmax(logits_BxHxWxC, axis=-1).reshape(-1).astype(jnp.int32)
  valid = (true_N >= 0) & (true_N < c)
  # invalid pixels go to one extra bin that is dropped
  index = jnp.where(valid, true_N * c + pred_N, c * c)
  return jnp.bincount(index, length=c * c + 1)[:-1].reshape(c, c)


def iou_and_dice_from_confusion(cm_CxC: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-class (IoU_C, Dice_C) from a C x C confusion matrix (rows true,
  columns predicted): IoU_c = TP / (TP + FP + FN), Dice_c = 2 TP / (2 TP + FP
  + FN), NaN for a class absent from both targets and predictions (0 / 0)."""
  cm = jnp.asarray(cm_CxC).astype(jnp.float32)
  tp = jnp.diagonal(cm)
  union = jnp.sum(cm, axis=0) + jnp.sum(cm, axis=1) - tp  # TP + FP + FN
  present = union > 0
  iou = jnp.where(present, tp / jnp.where(present, union, 1.0), jnp.nan)
  dice = jnp.where(present, 2 * tp / jnp.where(present, union + tp, 1.0), jnp.nan)
  return iou, dice


def _mean_present(values_C: jax.Array) -> jax.Array:
  """Mean over the classes with a defined value (not NaN); 0 if there is none
  (every pixel ignored), like mean_box_iou without objects."""
  defined = ~jnp.isnan(values_C)
  n = jnp.sum(defined)
  total = jnp.sum(jnp.where(defined, values_C, 0.0))
  return jnp.where(n > 0, total / jnp.maximum(n, 1), 0.0)


@jax.jit
def _summary(logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array) -> dict:
  """Everything from one confusion matrix, as one compiled program: called
  eagerly (on the host, over a split) each metric would otherwise compile
  its every operation on its own; inside a caller's jit the unused outputs
  are dropped."""
  cm = _confusion(logits_BxHxWxC, labels_BxHxW)
  iou, dice = iou_and_dice_from_confusion(cm)
  total = jnp.sum(cm)
  accuracy = jnp.where(total > 0, jnp.trace(cm) / jnp.maximum(total, 1), 0.0)
  return {
    "confusion": cm,
    "iou": iou,
    "dice": dice,
    "pixel_accuracy": accuracy,
    "mean_iou": _mean_present(iou),
    "mean_dice": _mean_present(dice),
  }


def _checked_summary(fn: str, logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array) -> dict:
  _check(fn, logits_BxHxWxC, labels_BxHxW)
  return _summary(logits_BxHxWxC, labels_BxHxW)


def segmentation_confusion_matrix(logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array) -> jax.Array:
  """C x C int32 pixel counts over all images: row = true class, column =
  predicted class (arg-max of the logits); ignored pixels (negative targets)
  are in no cell. Counted with bincount rather than a float32 one-hot matmul,
  whose sums stop being exact integers past 2^24 pixels (a split of 256 x 256
  images reaches that at 256 images)."""
  return _checked_summary("segmentation_confusion_matrix", logits_BxHxWxC, labels_BxHxW)[
    "confusion"
  ]


def per_class_iou_and_dice(
  logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """(IoU_C, Dice_C) per class over all pixels of all images (notes 004);
  NaN for a class absent from both the targets and the predictions."""
  out = _checked_summary("per_class_iou_and_dice", logits_BxHxWxC, labels_BxHxW)
  return out["iou"], out["dice"]


@register("pixel_accuracy")
def pixel_accuracy(logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array) -> jax.Array:
  """Fraction of the (not ignored) pixels whose arg-max class is their label:
  trace(CM) / sum(CM); 0 if every pixel is ignored. The notes warn that it
  mostly reports the large classes (background) under class imbalance."""
  return _checked_summary("pixel_accuracy", logits_BxHxWxC, labels_BxHxW)["pixel_accuracy"]


@register("mean_iou")
def mean_iou(logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array) -> jax.Array:
  """Mean over classes of IoU_c = TP_c / (TP_c + FP_c + FN_c), over the classes
  present in the targets or the predictions (module docstring)."""
  return _checked_summary("mean_iou", logits_BxHxWxC, labels_BxHxW)["mean_iou"]


@register("mean_dice")
def mean_dice(logits_BxHxWxC: jax.Array, labels_BxHxW: jax.Array) -> jax.Array:
  """Mean over classes of Dice_c = 2 TP_c / (2 TP_c + FP_c + FN_c), over the
  classes present in the targets or the predictions (module docstring)."""
  return _checked_summary("mean_dice", logits_BxHxWxC, labels_BxHxW)["mean_dice"]


# ---------------------------------------------------------------------------
# Small objects (a host-side measure: objects are connected components)
# ---------------------------------------------------------------------------


def small_object_recall(
  pred_NxHxW: np.ndarray,
  true_NxHxW: np.ndarray,
  *,
  max_area: int = 100,
  min_covered: float = 0.5,
  background: int = 0,
) -> tuple[float, int]:
  """(recall, count): the fraction of the small ground-truth objects that are
  found, and how many small objects there are.

  An object is a connected component (4-connected, ``scipy.ndimage.label``) of
  the pixels of one class c != background in one true class map; it is small
  when its area is below ``max_area`` pixels; it is found when at least
  ``min_covered`` of its pixels are predicted as c:

    recall = #{small objects o : |{p in o : pred_p = c_o}| >= min_covered |o|}
             / #{small objects}

  The pixel metrics above weight each object by its area, so a model can miss
  every small object and lose little IoU; this counts each object once (notes
  004's focal and Tversky losses aim at exactly these hard, rare pixels).
  Touching objects of the same class are one component. NaN (and count 0)
  when there is no small object.
  """
  from scipy import ndimage  # pylint: disable=g-import-not-at-top  (host-side only)

  pred_NxHxW, true_NxHxW = np.asarray(pred_NxHxW), np.asarray(true_NxHxW)
  if pred_NxHxW.shape != true_NxHxW.shape or pred_NxHxW.ndim < 2:
    raise ValueError(
      f"small_object_recall: needs predicted and true class maps of one "
      f"shape N x H x W; got {pred_NxHxW.shape} and {true_NxHxW.shape}"
    )
  found = total = 0
  for pred, true in zip(pred_NxHxW, true_NxHxW):
    for c in np.unique(true):
      if c == background or c < 0:
        continue
      components, n = ndimage.label(true == c)
      if not n:
        continue
      ids = components.ravel()
      area_K = np.bincount(ids, minlength=n + 1)[1:]
      hit_K = np.bincount(ids, weights=(pred == c).ravel(), minlength=n + 1)[1:]
      small = area_K < max_area
      total += int(small.sum())
      found += int((hit_K[small] >= min_covered * area_K[small]).sum())
  return (found / total if total else float("nan")), total
