"""The GAN trainer's plots over training: G's samples at chosen evaluation steps,
each titled with the sample-quality figures logged at that step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nn_lib import writers
from nn_lib.plots import samples as samples_plot
from nn_lib.trainers import gan_data

_SHOWN = 64  # generated images kept per evaluation for plots


def save_snapshot(
  cfg: Any,
  real: gan_data.RealData,
  fake_NxD: np.ndarray,
  step: int,
  snapshots_dir: Path,
  plots_dir: Path,
) -> None:
  """Keeps G's samples of an evaluation for plot_snapshots (points: all, the density
  plot shows them; images: a plot's worth), and draws gan.grid_samples of them."""
  snapshots_dir.mkdir(parents=True, exist_ok=True)
  np.save(snapshots_dir / f"{step}.npy", fake_NxD[:_SHOWN] if real.is_image else fake_NxD)
  grid = cfg.gan.get("grid_samples", 0)
  if real.is_image and grid:
    samples_plot.image_sample_grid(
      gan_data.to_unit(fake_NxD[:grid]),
      plots_dir / f"samples_{step}.png",
      title=f"{cfg.data.name}: G(z) at step {step} (fixed z)",
    )


def load_snapshots(directory: Path, up_to: int) -> dict[int, np.ndarray]:
  return {
    int(p.stem): np.load(p)
    for p in directory.glob("*.npy")
    if p.stem.isdigit() and int(p.stem) <= up_to
  }


def plot_snapshots(
  cfg: Any,
  real: gan_data.RealData,
  snapshots: dict[int, np.ndarray],
  real_eval: np.ndarray,
  history: writers.History,
  path: Path,
) -> None:
  """plots/samples.png: G's samples at gan.plot_snapshots evaluation steps."""
  steps = sorted(snapshots)
  idx = np.unique(np.linspace(0, len(steps) - 1, cfg.gan.plot_snapshots).round().astype(int))
  shown = {steps[i]: snapshots[steps[i]] for i in idx}
  titles = {s: f"step {s}: {quality_title(history, s)}" for s in shown}
  if real.is_image:
    samples_plot.image_samples_over_steps(
      {s: gan_data.to_unit(x) for s, x in shown.items()},
      gan_data.to_unit(real_eval),
      path,
      titles=titles,
      suptitle=f"{cfg.data.name}: real (top) and G(z), fixed z",
    )
  else:
    samples_plot.samples_over_steps(
      shown,
      real_eval,
      path,
      titles=titles,
      suptitle=f"{cfg.data.name}: generated (red) over real (grey)",
    )


def quality_title(history: writers.History, step: int) -> str:
  """'k/M modes, q% within' (or the digit classifier's confidence and classes) of
  the first eval split at `step`, for a plot title."""
  values = {
    r["name"]: r["value"] for r in history.rows if r["step"] == step and r["split"] != "train"
  }
  if "sample_confidence" in values:
    return (
      f"confidence {values['sample_confidence']:.2f}, "
      f"{values['classes_present']:.0f} classes, "
      f"largest {100 * values['max_class_fraction']:.0f}%"
    )
  if "modes_covered" not in values:
    return ""
  return f"{values['modes_covered']:.0f} modes, {100 * values['high_quality_fraction']:.0f}% within"
