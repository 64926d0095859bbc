"""Image plots for the workdir (matplotlib Agg, no display): a titled image grid,
autoencoder reconstructions, a 2-D latent scatter, predicted vs true boxes, and
predicted scores against a hidden relevance.

Images are H x W or H x W x 1 greyscale (or H x W x 3 RGB) arrays in [0, 1]. Boxes are
(x, y, w, h): centre and size as fractions of the image side (notes 000's detector).
Every function returns the path it wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patches

from nn_lib.plots.figure import mosaic, save, tile_origin, tile_titles


def _show(ax, image: np.ndarray) -> None:
  """One image on its own axes (for figures that draw much else on each one)."""
  image = _images(np.asarray(image)[None], "an image")[0]
  ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)
  ax.set_xticks([])
  ax.set_yticks([])


def _images(images_NxHxW: np.ndarray, what: str) -> np.ndarray:
  """N greyscale (H x W, H x W x 1) or RGB (H x W x 3) images, clipped to [0, 1]."""
  images = np.asarray(images_NxHxW, np.float32)
  if images.ndim == 4 and images.shape[-1] == 1:
    images = images[..., 0]
  if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
    raise ValueError(f"{what}: images must be N x H x W (x 1 or x 3); got shape {images.shape}")
  return np.clip(images, 0.0, 1.0)


def _show_grid(ax, images: np.ndarray, ncols: int, gap: int) -> None:
  """`images` as one `mosaic` (white between them) on `ax`, without ticks or frame."""
  ax.imshow(
    mosaic(images, ncols, gap=gap, fill=1.0),
    cmap="gray" if images.ndim == 3 else None,
    vmin=0.0,
    vmax=1.0,
    interpolation="nearest",
  )
  ax.axis("off")


def _title_gap(side: int) -> int:
  """Pixels between rows of tiles: room for a 7-point title above each image."""
  return max(3, side // 5)


def image_grid(
  images_NxHxW: np.ndarray,
  path: str | Path,
  *,
  titles: Sequence[str] | None = None,
  ncols: int = 8,
  suptitle: str | None = None,
) -> Path:
  """N images in rows of `ncols`, each with an optional title."""
  n = len(images_NxHxW)
  if n == 0:
    raise ValueError("image_grid: no images to plot")
  if titles is not None and len(titles) != n:
    raise ValueError(f"image_grid: {n} images but {len(titles)} titles")
  images = _images(images_NxHxW, "image_grid")
  ncols = min(ncols, n)
  nrows = -(-n // ncols)
  side = images.shape[1:3]
  gap = _title_gap(side[0]) if titles is not None else 2
  fig, ax = plt.subplots(figsize=(1.6 * ncols, 1.8 * nrows))
  _show_grid(ax, images, ncols, gap)
  if titles is not None:
    tile_titles(ax, list(titles), ncols, side, gap)
  if suptitle:
    fig.suptitle(suptitle)
  return save(fig, path)


def reconstruction_grid(
  originals_NxHxW: np.ndarray,
  reconstructions_NxHxW: np.ndarray,
  path: str | Path,
  *,
  ncols: int = 10,
  title: str | None = None,
) -> Path:
  """Originals (upper row of each pair) above their reconstructions (lower row)."""
  if np.shape(originals_NxHxW) != np.shape(reconstructions_NxHxW):
    raise ValueError(
      f"reconstruction_grid: originals {np.shape(originals_NxHxW)} and "
      f"reconstructions {np.shape(reconstructions_NxHxW)} differ in shape"
    )
  originals = _images(originals_NxHxW, "reconstruction_grid")
  recon = _images(reconstructions_NxHxW, "reconstruction_grid")
  n = len(originals)
  ncols = min(ncols, n)
  pairs = -(-n // ncols)
  # Rows of originals and of their reconstructions, alternating; blank tiles pad
  # the last pair of rows.
  blank = np.ones((pairs * ncols - n, *originals.shape[1:]), np.float32)
  rows_in, rows_out = (
    np.concatenate([x, blank]).reshape(pairs, ncols, *x.shape[1:]) for x in (originals, recon)
  )
  tiles = np.stack([rows_in, rows_out], axis=1).reshape(-1, *originals.shape[1:])
  fig, ax = plt.subplots(figsize=(1.3 * ncols, 2.7 * pairs))
  gap = 2
  _show_grid(ax, tiles, ncols, gap)
  side = originals.shape[1:3]
  for row, label in enumerate(["input", "output"] * pairs):
    top, _ = tile_origin(row * ncols, ncols, side, gap)
    ax.text(-2, top + side[0] / 2, label, ha="right", va="center", rotation=90, fontsize=8)
  if title:
    fig.suptitle(title)
  return save(fig, path)


def latent_scatter(
  z_Nx2: np.ndarray, labels_N: np.ndarray, path: str | Path, *, title: str | None = None
) -> Path:
  """2-D latent codes, one colour per class label."""
  z_Nx2, labels_N = np.asarray(z_Nx2), np.asarray(labels_N)
  if z_Nx2.ndim != 2 or z_Nx2.shape[1] != 2 or len(labels_N) != len(z_Nx2):
    raise ValueError(
      f"latent_scatter: needs z N x 2 and N labels; got {z_Nx2.shape} and {labels_N.shape}"
    )
  fig, ax = plt.subplots(figsize=(6.5, 5.5))
  cmap = plt.get_cmap("tab10")
  for k, label in enumerate(np.unique(labels_N)):
    pick = labels_N == label
    ax.scatter(z_Nx2[pick, 0], z_Nx2[pick, 1], s=4, alpha=0.6, color=cmap(k % 10), label=str(label))
  ax.set_xlabel("z1")
  ax.set_ylabel("z2")
  ax.legend(markerscale=3, fontsize=8, title="class", loc="best")
  ax.set_title(title or "latent codes")
  ax.grid(alpha=0.3)
  return save(fig, path)


def _draw_box(
  ax,
  box_xywh: np.ndarray,
  side_hw: tuple[int, int],
  color: str,
  style: str = "-",
  origin: tuple[int, int] = (0, 0),
) -> None:
  """The box on an image whose top-left pixel is at `origin` (top, left) of `ax`."""
  x, y, w, h = (float(v) for v in box_xywh)
  height, width = side_hw
  # imshow puts pixel centres at integers: the image spans [-0.5, side - 0.5].
  ax.add_patch(
    patches.Rectangle(
      (origin[1] + (x - w / 2) * width - 0.5, origin[0] + (y - h / 2) * height - 0.5),
      w * width,
      h * height,
      fill=False,
      edgecolor=color,
      linewidth=1.5,
      linestyle=style,
    )
  )


def boxes_grid(
  images_NxHxW: np.ndarray,
  true_boxes_Nx4: np.ndarray,
  pred_boxes_Nx4: np.ndarray,
  path: str | Path,
  *,
  true_present_N: np.ndarray | None = None,
  pred_present_N: np.ndarray | None = None,
  titles: Sequence[str] | None = None,
  ncols: int = 6,
) -> Path:
  """Each image with its true box (green, solid) and predicted box (red, dashed);
  a box is drawn only where its `*_present_N` flag is true (default: always)."""
  n = len(images_NxHxW)
  if np.shape(true_boxes_Nx4) != (n, 4) or np.shape(pred_boxes_Nx4) != (n, 4):
    raise ValueError(
      f"boxes_grid: {n} images need N x 4 boxes; got "
      f"{np.shape(true_boxes_Nx4)} and {np.shape(pred_boxes_Nx4)}"
    )
  true_present_N = np.ones(n, bool) if true_present_N is None else np.asarray(true_present_N)
  pred_present_N = np.ones(n, bool) if pred_present_N is None else np.asarray(pred_present_N)
  images = _images(images_NxHxW, "boxes_grid")
  ncols = min(ncols, n)
  nrows = -(-n // ncols)
  side = images.shape[1:3]
  gap = _title_gap(side[0])
  fig, ax = plt.subplots(figsize=(2.0 * ncols, 2.2 * nrows))
  _show_grid(ax, images, ncols, gap)
  for k in range(n):
    origin = tile_origin(k, ncols, side, gap)
    if true_present_N[k]:
      _draw_box(ax, true_boxes_Nx4[k], side, "lime", origin=origin)
    if pred_present_N[k]:
      _draw_box(ax, pred_boxes_Nx4[k], side, "red", "--", origin=origin)
  if titles is not None:
    tile_titles(ax, list(titles), ncols, side, gap)
  fig.suptitle("true box (green) vs predicted box (red, dashed)", fontsize=9)
  return save(fig, path)


def score_scatter(
  scores_N: np.ndarray,
  relevance_N: np.ndarray,
  path: str | Path,
  *,
  xlabel: str = "hidden relevance",
  ylabel: str = "predicted score",
  title: str | None = None,
) -> Path:
  """Predicted score against the true relevance: a perfect ranker is monotone."""
  scores_N, relevance_N = np.ravel(scores_N), np.ravel(relevance_N)
  if scores_N.shape != relevance_N.shape:
    raise ValueError(
      f"score_scatter: {scores_N.shape} scores for {relevance_N.shape} relevance values"
    )
  fig, ax = plt.subplots(figsize=(6, 4.5))
  ax.scatter(relevance_N, scores_N, s=4, alpha=0.5)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title or "scores vs relevance")
  ax.grid(alpha=0.3)
  return save(fig, path)
