"""Plots of an embedding network's test split (notes 004, "Face verification"): the
ROC of accepting pairs by distance, and the embeddings projected to 2-D by PCA."""

from __future__ import annotations

from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

from nn_lib import metrics
from nn_lib.plots.figure import save
from nn_lib.plots.named import PLOTS, _labels


def pca_2d(x_NxD: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(projection N x 2, explained variance ratio 2): the centred rows projected on
  the top two principal directions (right singular vectors of the centred data),
  signs fixed so each direction's largest loading is positive (SVD leaves them
  arbitrary, and the plot should not flip between runs)."""
  x_NxD = np.asarray(x_NxD, np.float64)
  centred_NxD = x_NxD - x_NxD.mean(axis=0, keepdims=True)
  _, s_K, vt_KxD = np.linalg.svd(centred_NxD, full_matrices=False)
  vt_2xD = vt_KxD[:2]
  rows = np.arange(len(vt_2xD))
  vt_2xD = vt_2xD * np.sign(vt_2xD[rows, np.argmax(np.abs(vt_2xD), axis=1)])[:, None]
  variance_K = s_K**2
  ratio = variance_K[:2] / max(variance_K.sum(), 1e-300)
  return centred_NxD @ vt_2xD.T, ratio


def roc_curve(far: np.ndarray, tar: np.ndarray, path: Path, *, title: str) -> Path:
  """TAR against FAR, with the chance diagonal and the EER line TAR = 1 - FAR."""
  fig, ax = plt.subplots(figsize=(5, 5))
  ax.plot(far, tar, lw=2, label="embedding distance")
  ax.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
  ax.plot([0, 1], [1, 0], color="grey", ls="--", lw=1, label="FAR = FRR")
  ax.set(
    xlim=(0, 1),
    ylim=(0, 1.01),
    xlabel="false accept rate (impostor pairs)",
    ylabel="true accept rate (genuine pairs)",
    title=title,
  )
  ax.legend(loc="lower right")
  return save(fig, path)


def embedding_scatter(
  points_Nx2: np.ndarray, labels_N: np.ndarray, path: Path, *, title: str, xlabel: str, ylabel: str
) -> Path:
  """2-D points coloured by class, one legend entry per class."""
  fig, ax = plt.subplots(figsize=(6, 5))
  for k, c in enumerate(np.unique(labels_N)):
    rows = labels_N == c
    ax.scatter(
      points_Nx2[rows, 0],
      points_Nx2[rows, 1],
      s=6,
      alpha=0.6,
      color=plt.cm.tab10(k % 10),
      label=str(c),
    )
  ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
  ax.legend(title="class", markerscale=3)
  return save(fig, path)


@PLOTS.register("verification_roc")
def verification_roc(result, out: Path) -> dict[str, float]:
  """plots/roc.png: the test split's ROC over all pairs of its embeddings; returns
  the TAR at FAR = 1e-2 and 1e-3 (the best TAR of a threshold whose FAR stays at or
  below them) for the summary."""
  test = result.splits["test"]
  embeddings_NxD, labels_N = result.predict(test["inputs"]), np.asarray(_labels(test))
  roc = metrics.verification_roc(embeddings_NxD, labels_N)
  eer = float(jax.jit(metrics.verification_eer)(embeddings_NxD, labels_N))
  roc_curve(
    roc["far"],
    roc["tar"],
    out / "roc.png",
    title=f"test verification ROC (held-out classes), EER {eer:.3f}",
  )
  return {
    f"test/tar_at_far_{far:g}": float(roc["tar"][roc["far"] <= far].max()) for far in (1e-2, 1e-3)
  }


@PLOTS.register("embedding_pca")
def embedding_pca(result, out: Path) -> None:
  """plots/embedding_pca.png: the test embeddings' first two principal components,
  coloured by class."""
  test = result.splits["test"]
  points_Nx2, ratio = pca_2d(np.asarray(result.predict(test["inputs"])))
  embedding_scatter(
    points_Nx2,
    np.asarray(_labels(test)),
    out / "embedding_pca.png",
    title="test embeddings, PCA to 2-D, by class",
    xlabel=f"PC 1 ({ratio[0]:.0%} of variance)",
    ylabel=f"PC 2 ({ratio[1]:.0%} of variance)",
  )
