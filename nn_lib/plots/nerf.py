"""A NeRF's views (notes 000 "Neural Radiance Fields"): held-out camera views beside
the network's renders of them, and true depth beside the expected depth
sum_i w_i t_i of the volume-rendering weights. Plain functions of arrays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nn_lib.plots.figure import plt, save


def _off(ax) -> None:
  ax.set_xticks([])
  ax.set_yticks([])


def _check(
  name: str, a_VxHxW: np.ndarray, b_VxHxW: np.ndarray, titles: Sequence[str] | None
) -> int:
  if np.shape(a_VxHxW) != np.shape(b_VxHxW) or np.ndim(a_VxHxW) < 3 or not len(a_VxHxW):
    raise ValueError(
      f"{name}: needs two equal stacks of V >= 1 images; got "
      f"{np.shape(a_VxHxW)} and {np.shape(b_VxHxW)}"
    )
  if titles is not None and len(titles) != len(a_VxHxW):
    raise ValueError(f"{name}: {len(a_VxHxW)} views but {len(titles)} titles")
  return len(a_VxHxW)


def views_and_renders(
  targets_VxHxWx3: np.ndarray,
  renders_VxHxWx3: np.ndarray,
  path: str | Path,
  *,
  titles: Sequence[str] | None = None,
  suptitle: str = "",
) -> Path:
  """Each view (upper row) above the network's render of it (lower row), RGB in [0, 1]."""
  v = _check("views_and_renders", targets_VxHxWx3, renders_VxHxWx3, titles)
  fig, axes = plt.subplots(2, v, figsize=(1.5 * v, 3.3), squeeze=False)
  for k in range(v):
    for row, images in enumerate((targets_VxHxWx3, renders_VxHxWx3)):
      axes[row, k].imshow(np.clip(np.asarray(images[k], np.float32), 0.0, 1.0))
      _off(axes[row, k])
    if titles is not None:
      axes[0, k].set_title(titles[k], fontsize=7)
  axes[0, 0].set_ylabel("view", fontsize=8)
  axes[1, 0].set_ylabel("render", fontsize=8)
  if suptitle:
    fig.suptitle(suptitle, fontsize=9)
  return save(fig, path)


def depth_maps(
  true_VxHxW: np.ndarray,
  expected_VxHxW: np.ndarray,
  path: str | Path,
  *,
  near: float,
  far: float,
  titles: Sequence[str] | None = None,
  suptitle: str = "",
) -> Path:
  """True depth (upper row; +inf, a ray that meets nothing, drawn as `far`) above
  the expected depth of the render (lower row; e.g. sum_i w_i t_i + (1 - sum_i w_i)
  far), on one colour scale [near, far]."""
  v = _check("depth_maps", true_VxHxW, expected_VxHxW, titles)
  # a narrow last column holds the colour bar, so that every panel keeps its size
  fig, axes = plt.subplots(
    2,
    v + 1,
    figsize=(1.5 * v + 0.8, 3.3),
    squeeze=False,
    gridspec_kw={"width_ratios": [1.0] * v + [0.08]},
  )
  for ax in axes[:, -1]:
    ax.remove()
  image = None
  for k in range(v):
    for row, depths in enumerate((true_VxHxW, expected_VxHxW)):
      d = np.nan_to_num(np.asarray(depths[k], np.float32), nan=far, posinf=far)
      image = axes[row, k].imshow(d, cmap="viridis_r", vmin=near, vmax=far)
      _off(axes[row, k])
    if titles is not None:
      axes[0, k].set_title(titles[k], fontsize=7)
  axes[0, 0].set_ylabel("true depth", fontsize=8)
  axes[1, 0].set_ylabel("expected depth", fontsize=8)
  assert image is not None  # v >= 1 panels (_check)
  fig.colorbar(image, cax=fig.add_subplot(axes[0, 0].get_gridspec()[:, -1]), label="distance")
  if suptitle:
    fig.suptitle(suptitle, fontsize=9)
  return save(fig, path)
