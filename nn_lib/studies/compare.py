"""Train one config several times, changing one key, and compare the runs.

`config.compare`: `key` (a dotted config key such as "loss.name") and `choices` (one
run each, in the sub-workdir named after the value), or `runs`: named variations,
each a sequence of (dotted key, value) pairs for that run (a whole section such as
"optimizer" may be replaced: optimizers differ in their arguments). `panels`
("split/name" curves to draw, one line per run), `log_y` (panels with a log axis),
`smooth` (a beta: train curves drawn as notes 004's moving average) and `title`.
The summary holds every run's final values as "<run>/<split>/<name>".
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

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
  return train_variations(cfg, workdir, {run_name(key, v): {key: v} for v in values})


def train_variations(
  cfg: Any, workdir: Path, variations: Mapping[str, Mapping[str, Any]]
) -> dict[str, Result]:
  """One run per named variation ({dotted key: value}), in sub-workdir <name>."""
  trainer = trainers.get(cfg.trainer)
  return {
    name: trainer(config_lib.derive(cfg, **dict(updates)), workdir / name)
    for name, updates in variations.items()
  }


def variations(spec: Any) -> dict[str, dict[str, Any]]:
  if spec.get("runs"):
    # ConfigDict refuses dots in its keys: a run's updates are (key, value) pairs
    return {name: dict(updates) for name, updates in spec.runs}
  if not spec.get("key"):
    raise config_lib.ConfigError("config.compare needs `key` and `choices`, or `runs`")
  if not spec.get("choices"):
    raise config_lib.ConfigError(
      f"a comparison over {spec.key} needs at least one value in compare.choices"
    )
  return {run_name(spec.key, v): {spec.key: v} for v in spec.choices}


def compare(cfg: Any, workdir: str | Path) -> Result:
  """Trains `cfg` once per `compare.choices`; plots/comparison.png draws the panels."""
  t0 = time.time()
  config_lib.validate_common(cfg)
  spec = cfg.compare
  workdir = workdir_lib.prepare(cfg, workdir)
  runs = train_variations(cfg, workdir, variations(spec))
  panels = {}
  for panel in spec.panels:
    split, _, name = panel.partition("/")
    panels[panel] = {label: run.history.curve(split, name) for label, run in runs.items()}
  plots.curve_comparison(
    panels,
    workdir / "plots" / "comparison.png",
    log_y=tuple(spec.get("log_y", ())),
    suptitle=spec.get("title", ""),
    smooth={p: spec.smooth for p in panels if p.startswith("train/") and spec.get("smooth")},
  )
  final = {f"{label}/{k}": v for label, run in runs.items() for k, v in run.final.items()}
  result = Result(cfg=cfg, workdir=workdir, final=final, runs=runs)
  return workdir_lib.finish(result, t0)
