"""A GAN's samples at several training steps: 2-D samples over real ones (its
progress on a known density: which modes it covers, how tightly), or rows of
generated images under a row of real ones."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nn_lib.plots.figure import plt, save


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


def _mosaic(images_NxHxW: np.ndarray, ncols: int, gap: int = 2) -> np.ndarray:
  """Images in rows of `ncols`, `gap` pixels of mid-grey between them, as one
  image: one imshow draws in a fraction of the time of one axes per image."""
  images = np.clip(np.asarray(images_NxHxW, np.float32), 0.0, 1.0)
  if images.ndim == 4:
    images = images[..., 0] if images.shape[-1] == 1 else images.mean(-1)
  n, h, w = images.shape
  ncols = min(ncols, n)
  nrows = -(-n // ncols)
  out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), 0.5, np.float32)
  for i, image in enumerate(images):
    r, c = divmod(i, ncols)
    out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
  return out


def _show_mosaic(ax, mosaic: np.ndarray, title: str) -> None:
  ax.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0)
  ax.set_title(title, fontsize=8)
  ax.set_xticks([])
  ax.set_yticks([])


def image_sample_grid(
  images_NxHxW: np.ndarray, path: str | Path, *, ncols: int = 8, title: str = ""
) -> Path:
  """N greyscale images in [0, 1] in rows of `ncols`, drawn as one image."""
  if len(images_NxHxW) == 0:
    raise ValueError("image_sample_grid: no images to plot")
  mosaic = _mosaic(images_NxHxW, ncols)
  fig, ax = plt.subplots(figsize=(0.6 + mosaic.shape[1] / 40, 0.9 + mosaic.shape[0] / 40))
  _show_mosaic(ax, mosaic, title)
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
    _show_mosaic(ax, _mosaic(images[:per_row], per_row), title)
  if suptitle:
    fig.suptitle(suptitle, fontsize=9)
  return save(fig, path)
