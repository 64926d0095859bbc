"""PNG plots for the workdir (matplotlib with the Agg backend: no display needed).

`PLOTS` holds the plots a config can name in `config.plots`; each draws from a
finished run's `Result`. The modules below draw from plain arrays.
"""

from nn_lib.plots import figure  # noqa: F401  (selects the Agg backend first)
from nn_lib.plots import classification, images  # noqa: F401

# (imported to register their named plots)
from nn_lib.plots import detection_grid, segmentation, verification  # noqa: F401
from nn_lib.plots.curves import training_curves
from nn_lib.plots.named import PLOTS, PlotFn

__all__ = ["PLOTS", "PlotFn", "classification", "images", "training_curves", "verification"]
