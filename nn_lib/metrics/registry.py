"""Name -> metric registry, so experiments pick metrics from config."""
from __future__ import annotations

from typing import Callable

import jax

MetricFn = Callable[[jax.Array, jax.Array], jax.Array]
METRICS: dict[str, MetricFn] = {}


def register(name: str):
  """Function decorator adding `metric(outputs, targets) -> scalar` as `name`."""

  def wrap(fn: MetricFn) -> MetricFn:
    if name in METRICS:
      raise ValueError(f"metric name {name!r} is registered twice")
    METRICS[name] = fn
    return fn

  return wrap


def get(name: str) -> MetricFn:
  if name not in METRICS:
    raise ValueError(f"unknown metric {name!r}; valid: {', '.join(sorted(METRICS))}")
  return METRICS[name]
