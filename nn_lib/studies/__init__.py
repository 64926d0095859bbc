"""Studies: comparisons that train several configs and set the runs side by side.

A study is a function `(cfg, workdir) -> Result` that calls a trainer once per
variation of the config (each run in its own sub-workdir, resumable on its own),
then plots and tabulates from the returned results. A config names its study in
`config.study`; `run` is what train.py calls for any config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from nn_lib import trainers
from nn_lib.registry import Registry
from nn_lib.training import Result
from nn_lib.training import workdir as workdir_lib
from nn_lib.studies import compare, neural_field, polyfit

STUDIES: Registry[Callable[[Any, "str | Path"], Result]] = Registry(
  "study",
  {
    "compare": compare.compare,  # one key, several values
    "polyfit_orders": polyfit.polyfit_orders,  # notes 001's under/over-fitting
    "neural_field": neural_field.neural_field,  # notes 000: positional encoding or not
  },
)


def run(cfg: Any, workdir: str | Path) -> Result:
  """Runs `cfg`: its study if it names one (`config.study`), else its trainer,
  holding the workdir's lock throughout."""
  with workdir_lib.exclusive(workdir) as path:
    if cfg.get("study"):
      return STUDIES.get(cfg.study)(cfg, path)
    return trainers.get(cfg.trainer)(cfg, path)
