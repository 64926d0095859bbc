"""Shared fixtures for the model-zoo tests.

XLA's CPU compile of random-number generation is slow (tens of seconds for a
U-Net's worth of initializers on a loaded 2-core machine), so most tests build
variables with `catalog.random_variables`: `jax.eval_shape(model.init)` (tracing
only) filled with host-side numpy values. `test_init_*` exercises `model.init`.
"""
from __future__ import annotations

import pytest

from nn_lib.models.catalog import random_variables


@pytest.fixture
def make_variables():
  return random_variables
