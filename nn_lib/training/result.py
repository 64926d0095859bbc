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

  @property
  def trained_steps(self) -> int | None:
    """Steps trained by this call (0 when it found the run finished); None for
    trainers and studies without steps of their own."""
    num_steps = self.cfg.get("num_steps")
    return None if num_steps is None or self.state is None else num_steps - self.start_step

  def summary(self) -> dict:
    """The content of summary.json."""
    return {"num_steps": self.cfg.get("num_steps"), "resumed_from_step": self.start_step,
            "wall_time_s": self.wall_time_s, "steps_per_sec": self.steps_per_sec,
            "num_params": self.num_params, "devices": jax.device_count(),
            "backend": jax.default_backend(),
            "final": {k: float(v) for k, v in self.final.items()}}
