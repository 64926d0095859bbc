"""Notes 000 "Neural Radiance Fields", in 2-D: one image fit by a coordinate
network f(x, y) -> RGB, the same network with and without positional encoding.

Without the encoding an MLP on raw coordinates is biased to low frequencies and
blurs the fine detail; gamma(p) = (p, sin(2^k pi p), cos(2^k pi p)) lets it fit
it (Mildenhall et al. 2020, sec. 5.1). The PSNR gap measures the difference.

`config.compare.runs` names the runs, as for the `compare` study (each a sequence
of (dotted key, value) pairs, e.g. (("model.num_freqs", 0),)); the first run is
the baseline. `compare.panels` ("split/name") are drawn as curves, one line per
run. Every run's test split must be the points of a rectangular grid (one image).

Writes plots/comparison.png (the target image beside each run's reconstruction of
the test grid, with its PSNR), plots/comparison_curves.png (the panels) and
neural_field_table.md/.json. The summary holds each run's final values as
"<run>/<split>/<name>", and the gap: "psnr_gap_db" = PSNR(last run) - PSNR(first
run), also as "gap/test/psnr" (a row of the study's table).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from nn_lib import config as config_lib
from nn_lib import metrics
from nn_lib.data import fields
from nn_lib.plots import classification as curve_plots
from nn_lib.plots import images as image_plots
from nn_lib.studies import compare
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.result import Result


def _table(rows: list[dict], gap_db: float) -> str:
  lines = ["| run | test PSNR (dB) | test MSE |", "|---|---:|---:|"]
  lines += [f"| {r['run']} | {r['psnr']:.2f} | {r['mse']:.5f} |" for r in rows]
  lines.append(f"| gap ({rows[-1]['run']} - {rows[0]['run']}) | {gap_db:+.2f} | |")
  return "\n".join(lines) + "\n"


def neural_field(cfg: Any, workdir: str | Path) -> Result:
  """Trains one coordinate network per `compare.runs` and compares their images."""
  t0 = time.time()
  config_lib.validate_common(cfg)
  if "psnr" not in cfg.get("metrics", ()):
    raise config_lib.ConfigError(
      f"config.metrics={tuple(cfg.get('metrics', ()))!r} lacks 'psnr', which the "
      "neural_field study reports and plots; add it, e.g. "
      "--config.metrics=\"('mse', 'psnr')\"."
    )
  spec = cfg.compare
  # The same run spec as the `compare` study (and its smoke variants' only_runs).
  variations = compare.variations(spec)
  workdir = workdir_lib.prepare(cfg, workdir)
  runs = compare.train_variations(cfg, workdir, variations)
  test = next(iter(runs.values())).splits["test"]  # every run reads the same data
  xy_Nx2, target_Nx3 = test["inputs"], test["targets"]

  rows: list[dict[str, Any]] = []
  recons = []
  for name, run in runs.items():
    assert run.predict is not None  # the supervised trainer's runs predict
    pred_Nx3 = run.predict(xy_Nx2)
    rows.append(
      dict(
        run=name,
        psnr=float(metrics.psnr(jnp.asarray(pred_Nx3), jnp.asarray(target_Nx3))),
        mse=float(np.mean(np.square(pred_Nx3 - target_Nx3))),
      )
    )
    recons.append(fields.grid_image(xy_Nx2, pred_Nx3))
  gap_db = rows[-1]["psnr"] - rows[0]["psnr"]

  (workdir / "neural_field_table.md").write_text(_table(rows, gap_db))
  workdir_lib.write_json_atomic(
    workdir / "neural_field_table.json", {"runs": rows, "psnr_gap_db": gap_db}
  )
  image_plots.image_grid(
    np.stack([fields.grid_image(xy_Nx2, target_Nx3), *recons]),
    workdir / "plots" / "comparison.png",
    ncols=len(rows) + 1,
    titles=["target"] + [f"{r['run']}: {r['psnr']:.1f} dB" for r in rows],
    suptitle=spec.get("title", ""),
  )
  if spec.get("panels"):
    panels = {}
    for panel in spec.panels:
      split, _, metric = panel.partition("/")
      panels[panel] = {label: run.history.curve(split, metric) for label, run in runs.items()}
    curve_plots.curve_comparison(
      panels, workdir / "plots" / "comparison_curves.png", log_y=tuple(spec.get("log_y", ()))
    )

  final = {f"{label}/{k}": v for label, run in runs.items() for k, v in run.final.items()}
  final.update({"psnr_gap_db": gap_db, "gap/test/psnr": gap_db})
  return workdir_lib.finish(Result(cfg=cfg, workdir=workdir, final=final, runs=runs), t0)
