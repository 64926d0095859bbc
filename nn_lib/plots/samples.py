"""Generated 2-D samples over real ones at several training steps (a GAN's
progress on a known density: which modes it covers, how tightly)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from nn_lib.plots.figure import plt, save


def samples_over_steps(snapshots: Mapping[int, np.ndarray], real_NxD: np.ndarray,
                       path: str | Path, *, titles: Mapping[int, str] | None = None,
                       suptitle: str = "") -> Path:
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
    ax.scatter(fake_NxD[:, 0], fake_NxD[:, 1], s=2, c="tab:red", alpha=0.5,
               label="generated")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title((titles or {}).get(step, f"step {step}"), fontsize=9)
  axes[0][0].legend(loc="upper left", fontsize=7, markerscale=4)
  if suptitle:
    fig.suptitle(suptitle)
  return save(fig, path)
