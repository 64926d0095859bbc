"""PNG plots for the workdir (matplotlib with the Agg backend: no display needed)."""
from nn_lib.plots.curves import training_curves

__all__ = ["training_curves"]
