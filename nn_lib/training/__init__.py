"""Training machinery: mesh, state and jitted steps, checkpoints, evaluation, and
the supervised loop as a library call that returns its `Result`.

The names below are imported on first use (PEP 562): importing one submodule, such
as `nn_lib.training.optim` to check a `--config.optimizer.*` flag or `distributed`
to join a cluster, then loads that submodule only, not the loop with its
checkpointing (orbax), plots (matplotlib) and data (TFDS), about 2 s of imports that
a command-line error should not wait for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
  from nn_lib.training.checkpoint import CheckpointWriteError
  from nn_lib.training.loop import NonFiniteLossError, train_and_evaluate
  from nn_lib.training.predict import Predictor, evaluate
  from nn_lib.training.preemption import Interrupted
  from nn_lib.training.result import Result
  from nn_lib.training.workdir import WorkdirError

_HOME = {
  "CheckpointWriteError": "checkpoint",
  "NonFiniteLossError": "loop",
  "train_and_evaluate": "loop",
  "Predictor": "predict",
  "evaluate": "predict",
  "Interrupted": "preemption",
  "Result": "result",
  "WorkdirError": "workdir",
}

__all__ = [
  "CheckpointWriteError",
  "Interrupted",
  "NonFiniteLossError",
  "Predictor",
  "Result",
  "WorkdirError",
  "evaluate",
  "train_and_evaluate",
]


def __getattr__(name: str) -> Any:
  if name not in _HOME:
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
  value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
  globals()[name] = value  # later lookups skip this function
  return value
