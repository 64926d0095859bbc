"""What a trainer returns: everything a caller needs in-process, so nobody reads the
workdir's files back to learn a run's results."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from nn_lib.writers import History

# inputs_NxD... -> outputs, on the host; optionally `method=` (another model method,
# such as "encode") and, for gradient trainers, `state=` (other parameters through the
# same compiled function, e.g. the initial ones).
PredictFn = Callable[..., np.ndarray]


@dataclasses.dataclass
class Result:
  """A finished run.

  `final` holds the numbers of summary.json ("test/accuracy", ...). Gradient
  trainers fill `state` and `model`; `predict(inputs)` gives eval-mode outputs for
  any trainer that predicts. A study keeps each of its runs in `runs`.
  A run that stopped before num_steps says where (`stopped_at`) and why
  (`stop_reason`); with early stopping, `best_step` and `best_state` are the
  evaluation it kept (best_checkpoint/) and `final` holds its values as "best/...".
  `initial_state()` recomputes the state the run started from (its seed's
  initialization) with the run's own compiled init: how far training moved.
  """

  cfg: Any
  workdir: Path
  final: dict[str, float]
  splits: dict[str, dict[str, np.ndarray]] = dataclasses.field(default_factory=dict)
  history: History = dataclasses.field(default_factory=History)
  state: dict | None = None
  model: Any = None
  predict: PredictFn | None = None
  wall_time_s: float = 0.0
  steps_per_sec: float | None = None
  start_step: int = 0
  num_params: int | None = None
  runs: dict[str, "Result"] = dataclasses.field(default_factory=dict)
  stopped_at: int | None = None
  stop_reason: str = ""
  best_step: int | None = None
  best_state: dict | None = None
  initial_state: Callable[[], dict] | None = None

  @property
  def end_step(self) -> int | None:
    return self.cfg.get("num_steps") if self.stopped_at is None else self.stopped_at

  @property
  def trained_steps(self) -> int | None:
    """Steps trained by this call (0 when it found the run finished); None for
    trainers and studies without steps of their own."""
    end = self.end_step
    return None if end is None or self.state is None else end - self.start_step

  def summary(self) -> dict:
    """The content of summary.json."""
    return {
      "num_steps": self.cfg.get("num_steps"),
      "resumed_from_step": self.start_step,
      "wall_time_s": self.wall_time_s,
      "steps_per_sec": self.steps_per_sec,
      "num_params": self.num_params,
      "devices": jax.device_count(),
      **(
        {"stopped_at": self.stopped_at, "stop_reason": self.stop_reason}
        if self.stopped_at is not None
        else {}
      ),
      **({"best_step": self.best_step} if self.best_step is not None else {}),
      "backend": jax.default_backend(),
      "final": {k: float(v) for k, v in self.final.items()},
    }
