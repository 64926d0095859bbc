"""Early stopping on a dev metric (notes 004, "other regularization methods"):
stop when the metric has not improved for `patience` evaluations, and keep the
parameters of its best evaluation.

The decision is a pure function of the evaluations logged so far (the run's
`History`), so a resumed run, whose history is restored up to its checkpoint,
decides exactly as the uninterrupted run did.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from nn_lib.registry import ConfigError
from nn_lib.writers import History

MODES = ("max", "min")


@dataclasses.dataclass(frozen=True)
class Decision:
  """Where the watched metric stands after the latest evaluation."""

  best_step: int | None
  best_value: float | None
  stop: bool
  reason: str = ""


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
  """Watches `metric` ("split/name", e.g. "dev/accuracy"): an evaluation improves
  on the best so far when it is better by more than `min_delta` in direction
  `mode`; `patience` evaluations in a row without improvement stop the run."""

  metric: str
  mode: str = "max"
  patience: int = 5
  min_delta: float = 0.0

  @property
  def split(self) -> str:
    return self.metric.partition("/")[0]

  @property
  def name(self) -> str:
    return self.metric.partition("/")[2]

  def improves(self, value: float, best: float) -> bool:
    gain = value - best if self.mode == "max" else best - value
    return gain > self.min_delta

  def decide(self, history: History) -> Decision:
    steps, values = history.curve(self.split, self.name)
    best_step = best_value = None
    waited = 0
    for step, value in zip(steps, values):
      if best_value is None or (math.isfinite(value) and self.improves(value, best_value)):
        best_step, best_value, waited = step, value, 0
      else:
        waited += 1
    if best_step is None or waited < self.patience:
      return Decision(best_step, best_value, stop=False)
    return Decision(
      best_step,
      best_value,
      stop=True,
      reason=(
        f"early stopping: {self.metric} did not improve on its best ({best_value:.4g} "
        f"at step {best_step}) for {waited} evaluations (patience {self.patience})"
      ),
    )


def from_config(cfg: Any) -> EarlyStopping | None:
  """config.early_stopping as an `EarlyStopping`, or None when its metric is unset.
  Checked here, before anything is compiled: the metric must be evaluated."""
  spec = cfg.get("early_stopping") or {}
  metric = spec.get("metric") or ""
  if not metric:
    return None
  known = {"patience", "mode", "min_delta", "metric"}
  unknown = sorted(set(spec) - known)
  if unknown:
    raise ConfigError(f"config.early_stopping has unknown keys {unknown}; it takes {sorted(known)}")
  split, _, name = metric.partition("/")
  evaluated = tuple(cfg.get("eval_splits", ()))
  names = ("loss", *cfg.get("metrics", ()))
  if split not in evaluated or name not in names:
    raise ConfigError(
      f"config.early_stopping.metric={metric!r} is not evaluated: it must be "
      f"'<split>/<name>' with split in config.eval_splits {list(evaluated)} and name "
      f"in {list(names)}. Hold out a dev split (config.data.dev_fraction > 0 and "
      "'dev' in config.eval_splits) to stop on it without touching the test set."
    )
  mode = spec.get("mode", "max")
  if mode not in MODES:
    raise ConfigError(
      f"config.early_stopping.mode={mode!r}: use 'max' (accuracy-like) or 'min' (loss-like)"
    )
  patience = spec.get("patience", 5)
  if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
    raise ConfigError(
      f"config.early_stopping.patience={patience!r} must be an integer "
      ">= 1 (evaluations without improvement before stopping)"
    )
  min_delta = spec.get("min_delta", 0.0)
  if not isinstance(min_delta, (int, float)) or not min_delta >= 0:
    raise ConfigError(f"config.early_stopping.min_delta={min_delta!r} must be a number >= 0")
  return EarlyStopping(metric, mode, patience, float(min_delta))


def best_values(history: History, best_step: int) -> dict[str, float]:
  """Every evaluated quantity at the best step, keyed "best/<split>/<name>"."""
  return {
    f"best/{r['split']}/{r['name']}": r["value"]
    for r in history.rows
    if r["step"] == best_step and r["split"] not in ("train", "initial")
  }
