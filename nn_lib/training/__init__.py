"""Training machinery: mesh, state and jitted steps, checkpoints, evaluation, and
the supervised loop as a library call that returns its `Result`."""
from nn_lib.training.loop import NonFiniteLossError, train_and_evaluate
from nn_lib.training.predict import Predictor, evaluate
from nn_lib.training.result import Result

__all__ = ["NonFiniteLossError", "Predictor", "Result", "evaluate", "train_and_evaluate"]
