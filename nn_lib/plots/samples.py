"""A GAN's samples at several training steps: 2-D samples over real ones (its
progress on a known density: which modes it covers, how tightly), or rows of
generated images under a row of real ones."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nn_lib.plots.figure import mosaic, plt, save


def samples_over_steps(
  snapshots: Mapping[int, np.ndarray],
  real_NxD: np.ndarray,
  path: str | Path,
  *,
  titles: Mapping[int, str] | None = None,
  suptitle: str = "",
) -> Path:
  """One panel per step (ascending): real samples in grey, generated ones in
  colour, on shared axes so the panels compare."""
  steps = sorted(snapshots)
  if not steps:
    raise ValueError("samples_over_steps needs at least one snapshot")
  lim = 1.25 * float(np.abs(real_NxD).max())
  fig, axes = plt.subplots(1, len(steps), figsize=(3.2 * len(steps), 3.4), squeeze=False)
  for ax, step in zip(axes[0], steps):
    fake_NxD = snapshots[step]
    ax.scatter(real_NxD[:, 0], real_NxD[:, 1], s=2, c="0.6", alpha=0.5, label="real")
    ax.scatter(fake_NxD[:, 0], fake_NxD[:, 1], s=2, c="tab:red", alpha=0.5, label="generated")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title((titles or {}).get(step, f"step {step}"), fontsize=9)
  axes[0][0].legend(loc="upper left", fontsize=7, markerscale=4)
  if suptitle:
    fig.suptitle(suptitle)
  return save(fig, path)


def _grey_mosaic(images_NxHxW: np.ndarray, ncols: int) -> np.ndarray:
  """Greyscale images (RGB ones averaged) in [0, 1], as one `mosaic`."""
  images = np.clip(np.asarray(images_NxHxW, np.float32), 0.0, 1.0)
  if images.ndim == 4 and images.shape[-1] == 3:
    images = images.mean(-1)
  return mosaic(images, ncols)


def _show_mosaic(ax, grid: np.ndarray, title: str) -> None:
  ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0)
  ax.set_title(title, fontsize=8)
  ax.set_xticks([])
  ax.set_yticks([])


def image_sample_grid(
  images_NxHxW: np.ndarray, path: str | Path, *, ncols: int = 8, title: str = ""
) -> Path:
  """N greyscale images in [0, 1] in rows of `ncols`, drawn as one image."""
  if len(images_NxHxW) == 0:
    raise ValueError("image_sample_grid: no images to plot")
  grid = _grey_mosaic(images_NxHxW, ncols)
  fig, ax = plt.subplots(figsize=(0.6 + grid.shape[1] / 40, 0.9 + grid.shape[0] / 40))
  _show_mosaic(ax, grid, title)
  return save(fig, path)


def image_samples_over_steps(
  snapshots: Mapping[int, np.ndarray],
  real_NxHxW: np.ndarray,
  path: str | Path,
  *,
  titles: Mapping[int, str] | None = None,
  per_row: int = 10,
  suptitle: str = "",
) -> Path:
  """A generator's images over training: a row of real images, then one row per
  step (ascending) of the first `per_row` samples, the same z in every row. Images
  are greyscale in [0, 1]."""
  steps = sorted(snapshots)
  if not steps:
    raise ValueError("image_samples_over_steps needs at least one snapshot")
  rows = [("real", real_NxHxW)] + [
    ((titles or {}).get(s, f"step {s}"), snapshots[s]) for s in steps
  ]
  fig, axes = plt.subplots(
    len(rows), 1, figsize=(1.0 * per_row, 0.4 + 1.45 * len(rows)), squeeze=False
  )
  for ax, (title, images) in zip(axes[:, 0], rows):
    _show_mosaic(ax, _grey_mosaic(images[:per_row], per_row), title)
  if suptitle:
    fig.suptitle(suptitle, fontsize=9)
  return save(fig, path)
