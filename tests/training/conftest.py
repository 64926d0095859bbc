"""The training tests run dozens of short runs in this process; none of them looks
at plots/curves.png, which each run draws at its end (about 0.4 s of CPU with
matplotlib). tests/test_train_cli.py checks that train.py draws it."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _no_training_curves():
  from nn_lib import plots  # pylint: disable=g-import-not-at-top
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(plots, "training_curves", lambda rows, path: None)
    yield
