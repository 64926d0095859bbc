"""Training machinery: mesh, state and jitted steps, checkpoints, the run loop."""
from nn_lib.training.loop import NonFiniteLossError, evaluate, run

__all__ = ["NonFiniteLossError", "evaluate", "run"]
