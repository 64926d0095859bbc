"""Train one config several times, changing one key, and compare the runs.

`config.compare`: `key` (a dotted config key such as "loss.name"), `choices` (one
run each, in the sub-workdir named after the value), `panels` ("split/name" curves
to draw, one line per run), `log_y` (panels with a log axis) and `title`.
The summary holds every run's final values as "<run>/<split>/<name>".
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from nn_lib import config as config_lib
from nn_lib import trainers
from nn_lib.plots import classification as plots
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.result import Result


def run_name(key: str, value: Any) -> str:
  """A run's name (and sub-workdir): the value itself for names, "order_3" for numbers."""
  return value if isinstance(value, str) else f"{key.rsplit('.', 1)[-1]}_{value}"


def train_each(cfg: Any, workdir: Path, key: str, values: Sequence[Any]) -> dict[str, Result]:
  """One run of `cfg`'s trainer per value of `key`, each in its own sub-workdir
  (so each resumes on its own); returns the results by run name."""
  if not values:
    raise config_lib.ConfigError(f"a comparison over {key} needs at least one value")
  trainer = trainers.get(cfg.trainer)
  return {run_name(key, v): trainer(config_lib.derive(cfg, **{key: v}),
                                     workdir / run_name(key, v))
          for v in values}


def compare(cfg: Any, workdir: str | Path) -> Result:
  """Trains `cfg` once per `compare.choices`; plots/comparison.png draws the panels."""
  t0 = time.time()
  config_lib.validate_common(cfg)
  spec = cfg.compare
  workdir = workdir_lib.prepare(cfg, workdir)
  runs = train_each(cfg, workdir, spec.key, spec.choices)
  panels = {}
  for panel in spec.panels:
    split, _, name = panel.partition("/")
    panels[panel] = {label: run.history.curve(split, name) for label, run in runs.items()}
  plots.curve_comparison(panels, workdir / "plots" / "comparison.png",
                         log_y=tuple(spec.get("log_y", ())), suptitle=spec.get("title", ""))
  final = {f"{label}/{k}": v for label, run in runs.items() for k, v in run.final.items()}
  result = Result(cfg=cfg, workdir=workdir, final=final, runs=runs)
  return workdir_lib.finish(result, t0)
