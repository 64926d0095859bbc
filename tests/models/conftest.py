"""Shared fixtures for the model-zoo tests.

XLA's CPU compile of random-number generation is slow (tens of seconds for a
U-Net's worth of initializers on a loaded 2-core machine), so most tests build
variables with `catalog.random_variables`: `jax.eval_shape(model.init)` (tracing
only) filled with host-side numpy values. `test_init_*` exercises `model.init`.

Tracing `model.init` still costs up to half a second for the larger models, and
several tests (test_models_zoo, test_models_precision) build the same model's
variables at the same input: `make_variables` keeps each result for the session
(it is a pure function of the model's configuration, the input's shape and
dtype, the seed and the bias scale) and hands every test its own copy.
"""
from __future__ import annotations

import jax
import numpy as np
import pytest

from nn_lib.models.catalog import random_variables

_VARIABLES: dict = {}


def _cached_random_variables(model, x, seed: int = 0, bias_scale: float = 0.0):
  try:
    key = (model, tuple(x.shape), np.dtype(x.dtype).str, seed, bias_scale,
           bool(jax.config.jax_enable_x64))
    hash(key)
  except TypeError:  # a module with an unhashable field: build it every time
    return random_variables(model, x, seed=seed, bias_scale=bias_scale)
  if key not in _VARIABLES:
    _VARIABLES[key] = random_variables(model, x, seed=seed, bias_scale=bias_scale)
  # A fresh copy (dicts and arrays): tests may replace or edit entries.
  return jax.tree_util.tree_map(np.array, _VARIABLES[key])


@pytest.fixture
def make_variables():
  return _cached_random_variables
