"""PNG plots for the workdir (matplotlib, no display needed)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from nn_lib.plots.figure import row_of_panels, save


def training_curves(
  rows: list[dict], path: str | Path, skip=("learning_rate", "grad_norm")
) -> Path | None:
  """One panel per metric name, one line per split, from metrics.jsonl rows."""
  series: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
  for r in rows:
    if r["name"] not in skip:
      series[r["name"]][r["split"]][r["step"]] = r["value"]  # last write wins
  if not series:
    return None
  names = sorted(series, key=lambda n: (n != "loss", n))
  fig, axes = row_of_panels(len(names))
  for ax, name in zip(axes, names):
    for split, points in sorted(series[name].items()):
      steps = sorted(points)
      ax.plot(
        steps, [points[s] for s in steps], label=split, marker="o" if len(steps) < 20 else None
      )
    ax.set_title(name)
    ax.set_xlabel("step")
    if name == "loss" and all(v > 0 for p in series[name].values() for v in p.values()):
      ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
  return save(fig, path, tight=False)
