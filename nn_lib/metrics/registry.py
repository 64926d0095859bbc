"""The metric registry, so experiments pick metrics from config."""
from __future__ import annotations

from typing import Callable

import jax

from nn_lib.registry import Registry

MetricFn = Callable[[jax.Array, jax.Array], jax.Array]
METRICS: Registry[MetricFn] = Registry("metric")
register = METRICS.register
get = METRICS.get
