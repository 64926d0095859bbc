"""Word vectors in two dimensions (notes 004 "Word representation": the embedding
plotted in 2-D, where man - woman is parallel to king - queen): the chosen words'
unit-length vectors projected on their first two principal components, each pair
(a, b) joined by a line from a to b. A plain function of arrays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nn_lib.plots.figure import plt, save


def pca_2d(vectors_NxD: np.ndarray) -> tuple[np.ndarray, float]:
  """(points_Nx2, explained): the rows centred and projected on their first two
  principal components (SVD), and the fraction of the variance those two hold."""
  x = np.asarray(vectors_NxD, np.float64)
  x = x - x.mean(axis=0)
  _, s, vt = np.linalg.svd(x, full_matrices=False)
  total = float(np.sum(s**2))
  return x @ vt[:2].T, float(np.sum(s[:2] ** 2) / total) if total > 0 else 0.0


def pca_pairs(
  vectors_VxD: np.ndarray,
  index: dict[str, int],
  pairs: Sequence[tuple[str, str]],
  path: str | Path,
  *,
  title: str = "",
) -> float:
  """Draws the pairs whose two words are in `index` (the others are skipped) and
  returns the variance fraction of the two components (nan when under 2 pairs)."""
  pairs = [(a, b) for a, b in pairs if a in index and b in index]
  fig, ax = plt.subplots(figsize=(6, 5))
  explained = float("nan")
  if len(pairs) >= 2:
    vecs = np.asarray(vectors_VxD, np.float64)
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    ids = [index[w] for pair in pairs for w in pair]
    xy, explained = pca_2d(vecs[ids])
    for k, (a, b) in enumerate(pairs):
      (xa, ya), (xb, yb) = xy[2 * k], xy[2 * k + 1]
      ax.annotate("", (xb, yb), (xa, ya), arrowprops=dict(arrowstyle="->", color="0.6", lw=0.8))
      ax.scatter([xa, xb], [ya, yb], s=12, c=["C0", "C3"])
      ax.annotate(a, (xa, ya), fontsize=8, color="C0")
      ax.annotate(b, (xb, yb), fontsize=8, color="C3")
  else:
    ax.text(0.5, 0.5, "fewer than 2 pairs in the vocabulary", ha="center", transform=ax.transAxes)
  ax.set_xlabel("principal component 1")
  ax.set_ylabel("principal component 2")
  ax.set_title(
    f"{title} (2 components: {explained:.0%} of the variance)"
    if title
    else f"PCA ({explained:.0%} of the variance)",
    fontsize=9,
  )
  save(fig, path)
  return explained
