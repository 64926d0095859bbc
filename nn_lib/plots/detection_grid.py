"""A YOLO grid detector's test split (notes 004 "Object detection": "YOLO",
"Non-Maximum Suppression", "Mean Average Precision"): every cell's boxes before and
after per-class NMS on a few canvases, and mAP@0.5 and mAP@[.5:.95] over the split.

The pipeline per canvas: predictions S x S x (5B + C) -> `decode` -> S S B boxes
with score = conf * max_c p_c and class argmax_c p_c -> per-class `nms` (IoU > 0.5
removes the weaker box) -> `metrics.map_50` / `map_50_95` against the objects of
the target grid (`grid_canvases.ground_truth`). NMS keeps every box it does not
suppress (no score threshold): low-score boxes come last in the ranking, where they
can only add recall, so AP does not depend on a threshold.
"""

from __future__ import annotations

from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patches

from nn_lib import decoding, metrics
from nn_lib.data import grid_canvases
from nn_lib.plots.figure import save
from nn_lib.plots.images import _show
from nn_lib.plots.named import PLOTS
from nn_lib.registry import ConfigError

NMS_IOU = 0.5  # notes 004's alpha: a box with IoU > alpha with a kept one goes
SHOW_SCORE = 0.2  # boxes drawn (not scored) only from this score up
NUM_SHOWN = 8
COLORS = ("tab:red", "tab:blue", "tab:orange", "tab:purple", "tab:cyan")


def detect(
  predictions_NxSxSxP: np.ndarray,
  *,
  num_boxes: int,
  num_classes: int,
  iou_threshold: float = NMS_IOU,
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
  """Activated grid predictions -> (all boxes, kept boxes), each (boxes N x M x 4,
  scores N x M, classes N x M, valid N x M): every decoded box (M = S S B), and
  the survivors of per-class NMS, in decreasing score, padded to S S B."""

  def one(p_SxSxP):
    boxes, scores, classes = decoding.decode(p_SxSxP, num_boxes=num_boxes, num_classes=num_classes)
    kept = decoding.nms(
      boxes, scores, classes, iou_threshold=iou_threshold, max_boxes=scores.shape[0]
    )
    return (boxes, scores, classes, scores >= 0), kept

  every, kept = jax.jit(jax.vmap(one))(predictions_NxSxSxP)
  return tuple(map(np.asarray, every)), tuple(map(np.asarray, kept))


def _draw(
  ax,
  boxes_Mx4,
  scores_M,
  classes_M,
  valid_M,
  side: int,
  names,
  style: str,
  labels: bool,
  color: str | None = None,
) -> None:
  """The valid boxes of score >= SHOW_SCORE, coloured by class (or `color`)."""
  for (x, y, w, h), s, c, v in zip(boxes_Mx4, scores_M, classes_M, valid_M):
    if not v or s < SHOW_SCORE:
      continue
    box_color = color or COLORS[int(c) % len(COLORS)]
    # imshow puts pixel centres at integers: the image spans [-0.5, side - 0.5].
    ax.add_patch(
      patches.Rectangle(
        ((x - w / 2) * side - 0.5, (y - h / 2) * side - 0.5),
        w * side,
        h * side,
        fill=False,
        edgecolor=box_color,
        linewidth=1.2,
        linestyle=style,
      )
    )
    if labels:
      ax.text(
        (x - w / 2) * side,
        (y - h / 2) * side - 1,
        f"{names[int(c)]} {s:.2f}",
        color=box_color,
        fontsize=6,
      )


def boxes_before_after_nms(
  images_NxHxW: np.ndarray,
  every: tuple,
  kept: tuple,
  truth: tuple,
  path: Path,
  *,
  names,
  title: str,
) -> Path:
  """Two rows per canvas column: top, every decoded box with score >= SHOW_SCORE
  (dashed); bottom, the boxes NMS keeps, labelled "class score", beside the true
  boxes (green)."""
  n = len(images_NxHxW)
  fig, axes = plt.subplots(2, n, figsize=(2.0 * n, 4.8), squeeze=False)
  side = np.shape(images_NxHxW)[1]
  for k in range(n):
    for row, (dets, style, labels) in enumerate(((every, "--", False), (kept, "-", True))):
      ax = axes[row, k]
      _show(ax, images_NxHxW[k])
      if row:
        t_boxes, t_classes, t_valid = (a[k] for a in truth)
        _draw(
          ax,
          t_boxes,
          np.ones(len(t_valid)),
          t_classes,
          t_valid,
          side,
          names,
          "-",
          False,
          color="lime",
        )
      boxes, scores, classes, valid = (a[k] for a in dets)
      _draw(ax, boxes, scores, classes, valid, side, names, style, labels)
    before = int(np.sum(every[3][k] & (every[1][k] >= SHOW_SCORE)))
    after = int(np.sum(kept[3][k] & (kept[1][k] >= SHOW_SCORE)))
    axes[0, k].set_title(f"{before} boxes, {after} after NMS", fontsize=7)
  fig.suptitle(
    f"{title}\ntop: every box with score >= {SHOW_SCORE} (before NMS); "
    f"bottom: after per-class NMS (IoU > {NMS_IOU}), true boxes green",
    fontsize=8,
  )
  return save(fig, path)


@PLOTS.register("detection_grid")
def detection_grid(result, out: Path) -> dict[str, float]:
  """plots/detections.png: boxes before and after NMS on the first test canvases;
  returns the test split's mAP@0.5 and mAP@[.5:.95] (all of its canvases)."""
  test, model = result.splits["test"], result.model
  b, c = getattr(model, "boxes_per_cell", None), getattr(model, "num_classes", None)
  if (
    b is None
    or c is None
    or np.ndim(test["targets"]) != 4
    or (np.shape(test["targets"])[-1] != 5 + c)
  ):
    raise ConfigError(
      f"config.plots: 'detection_grid' needs a grid detector (model.name="
      f"'grid_detector', with boxes_per_cell and num_classes) and YOLO target grids "
      f"N x S x S x (5 + num_classes) such as mnist_grid_detect's; got model "
      f"{type(model).__name__} and targets {np.shape(test['targets'])}: remove the "
      f"plot or change config.model / config.data.name"
    )
  predictions = np.asarray(result.predict(test["inputs"]))
  if not getattr(model, "activate_outputs", True):  # raw logits and log sizes
    predictions = np.asarray(
      decoding.activate_grid_outputs(predictions, num_boxes=b, num_classes=c)
    )
  every, kept = detect(predictions, num_boxes=b, num_classes=c)
  truth = grid_canvases.ground_truth(test["targets"])
  detections, gt = metrics.Detections(*kept), metrics.GroundTruth(*truth)
  map_50 = metrics.map_50(detections, gt, num_classes=c)
  map_50_95 = metrics.map_50_95(detections, gt, num_classes=c)
  names = result.cfg.data.get("class_names") or [str(k) for k in range(c)]
  n = min(NUM_SHOWN, len(predictions))
  boxes_before_after_nms(
    test["inputs"][:n],
    tuple(a[:n] for a in every),
    tuple(a[:n] for a in kept),
    tuple(a[:n] for a in truth),
    out / "detections.png",
    names=names,
    title=f"test mAP@0.5 {map_50:.3f}, mAP@[.5:.95] {map_50_95:.3f}",
  )
  return {"test/map_50": map_50, "test/map_50_95": map_50_95}
