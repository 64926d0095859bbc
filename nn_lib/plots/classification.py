"""Plots for the classic experiments (notes 001-003): decision boundaries, weight
templates, confusion matrices, curve comparisons and polynomial fits.

Every function takes plain arrays and a path, writes one PNG (matplotlib Agg, no
display needed) and returns the path; the experiments compute what to draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from nn_lib.plots import smoothing
from nn_lib.plots.figure import mosaic, row_of_panels, save, tile_titles

# (x values, y values) of one line.
Series = tuple[Sequence[float], Sequence[float]]


def _check_ndim(name: str, array: np.ndarray, ndim: int, what: str) -> np.ndarray:
  array = np.asarray(array)
  if array.ndim != ndim:
    raise ValueError(f"{name} must be {what} ({ndim}-D), got shape {array.shape}")
  return array


def grid_2d(
  points_Nx2: np.ndarray, resolution: int = 200, margin: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """A resolution x resolution grid covering the points plus `margin`.

  Returns (xx_GxG, yy_GxG, grid_points_G2x2): evaluate the model on the last and
  pass its per-point classes to `decision_boundary` with the first two.
  """
  points_Nx2 = _check_ndim("points_Nx2", points_Nx2, 2, "N x 2 points")
  if points_Nx2.shape[1] != 2 or not len(points_Nx2):
    raise ValueError(f"points_Nx2 must be a non-empty N x 2 array, got {points_Nx2.shape}")
  lo, hi = points_Nx2.min(axis=0) - margin, points_Nx2.max(axis=0) + margin
  xx_GxG, yy_GxG = np.meshgrid(
    np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
  )
  grid_G2x2 = np.stack([xx_GxG.ravel(), yy_GxG.ravel()], axis=1).astype(np.float32)
  return xx_GxG, yy_GxG, grid_G2x2


def decision_boundary(
  xx_GxG: np.ndarray,
  yy_GxG: np.ndarray,
  classes_GxG: np.ndarray,
  points_Nx2: np.ndarray,
  labels_N: np.ndarray,
  path: str | Path,
  title: str = "",
) -> Path:
  """Predicted class regions of a 2-D classifier with the labelled points on top
  (notes 002's geometric viewpoint: the classifier's regions in input space)."""
  classes_GxG = _check_ndim("classes_GxG", classes_GxG, 2, "a grid of class ids")
  if classes_GxG.shape != np.shape(xx_GxG) or classes_GxG.shape != np.shape(yy_GxG):
    raise ValueError(
      f"grid shapes differ: xx {np.shape(xx_GxG)}, yy {np.shape(yy_GxG)}, "
      f"classes {classes_GxG.shape}"
    )
  points_Nx2 = _check_ndim("points_Nx2", points_Nx2, 2, "N x 2 points")
  labels_N = _check_ndim("labels_N", labels_N, 1, "N integer labels")
  if len(points_Nx2) != len(labels_N):
    raise ValueError(f"{len(points_Nx2)} points but {len(labels_N)} labels")
  num_classes = int(max(classes_GxG.max(), labels_N.max())) + 1
  # The first K colours of tab10 (resampling tab10 to K would skip colours).
  tab10 = plt.get_cmap("tab10")
  assert isinstance(tab10, matplotlib.colors.ListedColormap)  # a list of 10 colours
  cmap = matplotlib.colors.ListedColormap(np.asarray(tab10.colors)[: max(num_classes, 2)])
  fig, ax = plt.subplots(figsize=(5, 4.5))
  ax.contourf(
    xx_GxG,
    yy_GxG,
    classes_GxG,
    levels=np.arange(num_classes + 1) - 0.5,
    cmap=cmap,
    alpha=0.3,
    vmin=-0.5,
    vmax=cmap.N - 0.5,
  )
  ax.scatter(
    points_Nx2[:, 0],
    points_Nx2[:, 1],
    c=labels_N,
    cmap=cmap,
    s=12,
    edgecolors="k",
    linewidths=0.3,
    vmin=-0.5,
    vmax=cmap.N - 0.5,
  )
  ax.set_title(title)
  ax.set_xlabel("x1")
  ax.set_ylabel("x2")
  return save(fig, path)


def weight_templates(
  templates_KxHxW: np.ndarray,
  path: str | Path,
  titles: Sequence[str] | None = None,
  suptitle: str = "",
) -> Path:
  """One image per class of a linear classifier's weights (notes 002, "one
  template per class"): red pixels raise the class score, blue lower it."""
  templates_KxHxW = _check_ndim("templates_KxHxW", templates_KxHxW, 3, "K templates of H x W")
  k = len(templates_KxHxW)
  if titles is not None and len(titles) != k:
    raise ValueError(f"{k} templates but {len(titles)} titles")
  titles = list(titles) if titles is not None else [str(i) for i in range(k)]
  cols = min(k, 5)
  rows = -(-k // cols)
  # Each template over its own symmetric range, so 0 is always white: scaled to
  # [-1, 1] and drawn as one mosaic (white between them).
  bounds_K = np.abs(templates_KxHxW).reshape(k, -1).max(axis=1)
  scaled = templates_KxHxW / np.where(bounds_K > 0, bounds_K, 1.0)[:, None, None]
  side = templates_KxHxW.shape[1:]
  gap = max(3, side[0] // 4)
  fig, ax = plt.subplots(figsize=(1.8 * cols, 1.9 * rows + 0.4))
  ax.imshow(mosaic(scaled, cols, gap=gap, fill=0.0), cmap="bwr", vmin=-1.0, vmax=1.0)
  ax.axis("off")
  tile_titles(ax, titles, cols, side, gap, fontsize=9)
  if suptitle:
    fig.suptitle(suptitle)
  return save(fig, path)


def confusion_matrix(
  counts_CxC: np.ndarray,
  path: str | Path,
  class_names: Sequence[str] | None = None,
  title: str = "",
) -> Path:
  """Counts with rows = true class, columns = predicted class (as
  `nn_lib.metrics.confusion_matrix` returns them), annotated."""
  counts_CxC = _check_ndim("counts_CxC", counts_CxC, 2, "a C x C matrix")
  c = counts_CxC.shape[0]
  if counts_CxC.shape != (c, c):
    raise ValueError(f"counts_CxC must be square, got {counts_CxC.shape}")
  names = list(class_names) if class_names is not None else [str(i) for i in range(c)]
  if len(names) != c:
    raise ValueError(f"{c} classes but {len(names)} class names")
  fig, ax = plt.subplots(figsize=(0.5 * c + 2.5, 0.5 * c + 2))
  ax.imshow(counts_CxC, cmap="Blues")
  for i in range(c):
    for j in range(c):
      if counts_CxC[i, j]:
        ax.text(
          j,
          i,
          f"{counts_CxC[i, j]:g}",
          ha="center",
          va="center",
          fontsize=8,
          color="white" if counts_CxC[i, j] > counts_CxC.max() / 2 else "black",
        )
  ax.set_xticks(range(c), names)
  ax.set_yticks(range(c), names)
  ax.set_xlabel("predicted")
  ax.set_ylabel("true")
  ax.set_title(title)
  return save(fig, path)


def curve_comparison(
  panels: Mapping[str, Mapping[str, Series]],
  path: str | Path,
  xlabel: str = "step",
  log_y: Sequence[str] = (),
  suptitle: str = "",
  smooth: Mapping[str, float] | None = None,
) -> Path:
  """One panel per title, one line per label: e.g. {"train loss": {"BCE": (steps,
  values), "MSE": (steps, values)}, "test accuracy": {...}}. Panels named in
  `log_y` use a log y axis (their values must be positive). Panels in `smooth`
  draw each line as its bias-corrected EWMA with that beta (notes 004), over the
  raw values drawn faint."""
  if not panels:
    raise ValueError("curve_comparison needs at least one panel")
  fig, axes = row_of_panels(len(panels), (4.8, 3.8), suptitle=suptitle)
  for ax, (title, lines) in zip(axes, panels.items()):
    for label, (xs, ys) in lines.items():
      if len(xs) != len(ys):
        raise ValueError(
          f"panel {title!r}, line {label!r}: {len(xs)} x values but {len(ys)} y values"
        )
      beta = (smooth or {}).get(title, 0.0)
      if beta and len(ys) > 1:
        raw = ax.plot(xs, ys, alpha=0.25, linewidth=0.8)[0]
        ax.plot(xs, smoothing.ewma(ys, beta), label=label, color=raw.get_color())
      else:
        ax.plot(xs, ys, label=label, marker="o" if len(xs) < 20 else None)
    if title in log_y:
      ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.legend()
  return save(fig, path, tight=False)


def polyfit(
  x_train_N: np.ndarray,
  y_train_N: np.ndarray,
  x_curve_M: np.ndarray,
  true_curve_M: np.ndarray | None,
  fits: Mapping[int, np.ndarray],
  errors: Mapping[int, tuple[float, float]],
  path: str | Path,
) -> Path:
  """Notes 001's under-/over-fitting figure: left, each order's fitted curve over
  the training points; right, train and test error by order (log scale).

  `fits[order]` is the fit evaluated at `x_curve_M`; `errors[order]` is
  (train error, test error).
  """
  x_train_N = _check_ndim("x_train_N", x_train_N, 1, "N inputs")
  y_train_N = _check_ndim("y_train_N", y_train_N, 1, "N targets")
  x_curve_M = _check_ndim("x_curve_M", x_curve_M, 1, "M inputs")
  for order, fit_M in fits.items():
    if np.shape(fit_M) != x_curve_M.shape:
      raise ValueError(
        f"fit of order {order} has shape {np.shape(fit_M)}, expected {x_curve_M.shape}"
      )
  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
  left.scatter(x_train_N, y_train_N, color="k", s=18, zorder=3, label="train")
  if true_curve_M is not None:
    left.plot(x_curve_M, true_curve_M, "k--", lw=1, label="true curve")
  for order, fit_M in sorted(fits.items()):
    left.plot(x_curve_M, fit_M, lw=1.3, label=f"order {order}")
  spread = float(np.ptp(y_train_N)) or 1.0
  # Clip the view: an over-fitted order-12 curve can leave the data range entirely.
  left.set_ylim(y_train_N.min() - 0.5 * spread, y_train_N.max() + 0.5 * spread)
  left.set_title("fits")
  left.legend(fontsize=8)
  orders = sorted(errors)
  right.plot(orders, [errors[o][0] for o in orders], "o-", label="train")
  right.plot(orders, [errors[o][1] for o in orders], "s-", label="test")
  right.set_yscale("log")
  right.set_xticks(orders)
  right.set_xlabel("polynomial order")
  right.set_ylabel("mean squared error")
  right.set_title("error by order")
  right.grid(alpha=0.3)
  right.legend()
  return save(fig, path)
