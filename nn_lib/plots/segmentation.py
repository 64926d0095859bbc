"""Semantic segmentation plots (notes 004 "Segmentation"): test images beside their
true and predicted class maps, and the small-object recall they are read with."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors

from nn_lib.metrics import segmentation as seg_metrics
from nn_lib.plots.figure import mosaic, save, tile_titles
from nn_lib.plots.named import PLOTS, _labels
from nn_lib.registry import ConfigError

_ALPHA = 0.55  # class colours over the grey image


def class_colours(num_classes: int) -> np.ndarray:
  """C x 4 RGBA: class 0 (background) fully transparent, the others tab10."""
  rgba = np.array([mcolors.to_rgba(plt.cm.tab10(k % 10)) for k in range(num_classes)])
  rgba[1:, 3] = _ALPHA
  rgba[0] = 0.0
  return rgba


def overlay(image_HxWx3: np.ndarray, mask_HxW: np.ndarray, num_classes: int) -> np.ndarray:
  """The image (in [0, 1]) in grey, each non-background pixel blended with its
  class colour: (1 - a) grey + a colour, a = 0.55. Grey, because the objects'
  own saturated colours would otherwise mix with the class colours."""
  grey_HxWx1 = np.asarray(image_HxWx3, np.float64).mean(axis=-1, keepdims=True)
  rgba_HxWx4 = class_colours(num_classes)[mask_HxW]
  a_HxWx1 = rgba_HxWx4[..., 3:]
  return (1 - a_HxWx1) * grey_HxWx1 + a_HxWx1 * rgba_HxWx4[..., :3]


def masks_grid(
  images_NxHxWx3: np.ndarray,
  true_NxHxW: np.ndarray,
  pred_NxHxW: np.ndarray,
  path: str | Path,
  *,
  class_names: Sequence[str],
  title: str = "",
) -> Path:
  """One row per image: the image, the true class map over it, the predicted one."""
  n, c = len(images_NxHxWx3), len(class_names)
  panels = [
    panel
    for k in range(n)
    for panel in (
      np.clip(images_NxHxWx3[k], 0, 1),
      overlay(images_NxHxWx3[k], true_NxHxW[k], c),
      overlay(images_NxHxWx3[k], pred_NxHxW[k], c),
    )
  ]
  side = np.shape(images_NxHxWx3)[1:3]
  gap = max(2, side[0] // 16)
  fig, ax = plt.subplots(figsize=(6.0, 2.0 * n))
  # One image for all the panels: a third of the time of an axes per panel.
  ax.imshow(np.clip(mosaic(np.stack(panels), 3, gap=gap, fill=1.0), 0, 1), interpolation="nearest")
  ax.axis("off")
  tile_titles(ax, ["image", "true mask", "predicted mask"], 3, side, gap, fontsize=9)
  handles = [plt.Rectangle((0, 0), 1, 1, color=class_colours(c)[j, :3]) for j in range(1, c)]
  ax.legend(
    handles,
    list(class_names[1:]),
    loc="upper center",
    bbox_to_anchor=(0.5, 0.0),
    ncol=c - 1,
    fontsize=8,
  )
  if title:
    ax.set_title(title, fontsize=9, pad=22)  # above the panel names
  return save(fig, path)


@PLOTS.register("segmentation_masks")
def segmentation_masks(result, out: Path) -> dict[str, float]:
  """plots/segmentation.png: the first 6 test images with their true and predicted
  class maps. Returns the test split's small-object recall (objects under
  `data.small_object_area` pixels, default 100; see
  `metrics.segmentation.small_object_recall`) and how many such objects it has."""
  test = result.splits["test"]
  true_NxHxW = np.asarray(_labels(test))
  if true_NxHxW.ndim == test["inputs"].ndim:  # one-hot maps kept as targets
    true_NxHxW = np.argmax(true_NxHxW, axis=-1)
  logits_NxHxWxC = result.predict(test["inputs"])
  pred_NxHxW = np.argmax(logits_NxHxWxC, axis=-1)
  max_area = result.cfg.data.get("small_object_area", 100)
  if isinstance(max_area, bool) or not isinstance(max_area, int) or max_area < 1:
    raise ConfigError(
      f"config.data.small_object_area must be a positive number of "
      f"pixels (objects below it count as small), got {max_area!r}; "
      "set e.g. --config.data.small_object_area=100."
    )
  recall, count = seg_metrics.small_object_recall(pred_NxHxW, true_NxHxW, max_area=max_area)
  num_classes = logits_NxHxWxC.shape[-1]
  names = result.cfg.data.get("class_names") or [f"class {k}" for k in range(num_classes)]
  n = min(6, len(true_NxHxW))
  masks_grid(
    test["inputs"][:n],
    true_NxHxW[:n],
    pred_NxHxW[:n],
    out / "segmentation.png",
    class_names=names,
    title=f"test: small-object recall {recall:.3f} ({count} objects < {max_area} px)",
  )
  return {"test/small_object_recall": float(recall), "test/small_objects": float(count)}
