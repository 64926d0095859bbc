"""Training machinery: mesh, state and jitted steps, checkpoints, the run loop."""
from nn_lib.training.loop import NonFiniteLossError, evaluate, predict, run

__all__ = ["NonFiniteLossError", "evaluate", "predict", "run"]
