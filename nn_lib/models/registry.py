"""The model registry, so experiments pick models from config.

Every model is a Flax Linen module called as `model.apply(variables, x, train=...)`.
Mutable collections (e.g. `batch_stats`) are the model's state; dropout draws from
the `dropout` RNG stream.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import flax.linen as nn

from nn_lib.registry import ConfigError, Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
register = MODELS.register
names = MODELS.names


def get(name: str, **kwargs: Any) -> nn.Module:
  """Builds the model registered as `name` with keyword hyperparameters."""
  cls = MODELS.get(name)
  params = inspect.signature(cls).parameters
  unknown = sorted(set(kwargs) - set(params) - {"parent", "name"})
  if unknown:
    valid = [p for p in params if p not in ("parent", "name")]
    raise ConfigError(
        f"model {name!r} has no hyperparameter(s) {unknown}; valid: {valid}")
  return cls(**{k: _hashable(v) for k, v in kwargs.items()})


def _hashable(value: Any) -> Any:
  """Lists (from JSON/YAML configs or flags) become tuples, recursively, so the
  module stays hashable (flax needs that under jit/remat and as a static arg)."""
  if isinstance(value, (list, tuple)):
    return tuple(_hashable(v) for v in value)
  return value
