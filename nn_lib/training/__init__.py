"""Training machinery: mesh, state and jitted steps, checkpoints, evaluation, and
the supervised loop as a library call that returns its `Result`."""

from nn_lib.training.checkpoint import CheckpointWriteError
from nn_lib.training.loop import NonFiniteLossError, train_and_evaluate
from nn_lib.training.predict import Predictor, evaluate
from nn_lib.training.preemption import Interrupted
from nn_lib.training.result import Result
from nn_lib.training.workdir import WorkdirError

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
