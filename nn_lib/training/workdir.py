"""The run's directory: config.json before training (and the check that a resumed
run has the same config), summary.json and the curves plot after it.

Every trainer and study goes through `prepare` and `finish`, so each workdir has
the same files in the same shape, written once, atomically, by process 0.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping

import jax

from nn_lib import config as config_lib
from nn_lib import plots
from nn_lib.training.result import Result


def write_json_atomic(path: Path, obj: Any) -> None:
  """Readers see the old file or the new one, never half of one."""
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(obj if isinstance(obj, str) else json.dumps(obj, indent=2))
  os.replace(tmp, path)


def prepare(cfg: Any, workdir: str | Path) -> Path:
  """Creates the workdir, refuses a resume with a changed config, saves config.json."""
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  cfg_json = cfg.to_json_best_effort(indent=2, sort_keys=True)
  saved = workdir / "config.json"
  has_checkpoints = any((workdir / "checkpoints").glob("[0-9]*"))
  if saved.exists() and has_checkpoints:
    config_lib.check_resumable(saved.read_text(), cfg_json, workdir)
  if jax.process_index() == 0:
    write_json_atomic(saved, cfg_json)
  return workdir


def finish(result: Result, t0: float,
           plot_fns: Mapping[str, plots.PlotFn] | None = None) -> Result:
  """Draws the config's plots (adding what they measure to `result.final`), then
  writes summary.json and plots/curves.png. `t0`: when the run started."""
  for plot in (plot_fns or {}).values():
    result.final.update(plot(result, result.workdir / "plots") or {})
  result.wall_time_s = time.time() - t0
  if jax.process_index() == 0:
    write_json_atomic(result.workdir / "summary.json", result.summary())
    if any(r["split"] == "train" for r in result.history.rows):  # it trained
      plots.training_curves(result.history.rows, result.workdir / "plots" / "curves.png")
  return result
