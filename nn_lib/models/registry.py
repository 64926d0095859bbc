"""The model registry, so experiments pick models from config.

Every model is a Flax Linen module called as `model.apply(variables, x, train=...)`.
Mutable collections (e.g. `batch_stats`) are the model's state; dropout draws from
the `dropout` RNG stream.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Callable

import flax.linen as nn

from nn_lib.models import layers
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
    raise ConfigError(f"model {name!r} has no hyperparameter(s) {unknown}; valid: {valid}")
  for key in sorted(set(kwargs) & set(_SIZE_KEYS)):
    _check_sizes(name, key, kwargs[key])
  for key, value in sorted(kwargs.items()):
    _check_dtype(name, key, value)
    _check_named_part(name, key, value)
    _check_rate(name, key, value)
  return cls(**{k: _hashable(v) for k, v in kwargs.items()})


# Hyperparameters that are layer widths or counts of units: each must be a positive
# integer (a tuple of them for per-layer widths). flax would otherwise build a layer
# of -3 units and fail inside initialization with a traceback.
_SIZE_KEYS = (
  "num_outputs",
  "hidden",
  "widths",
  "width",
  "latent_dim",
  "embed_dim",
  "d_model",
  "d_ff",
  "num_heads",
  "vocab_size",
  "head_width",
  "stage_sizes",
)


def _check_sizes(model: str, key: str, value: Any) -> None:
  if value is None:  # "not set" (e.g. mlp's width, which then comes from hidden)
    return
  items = list(value) if isinstance(value, (list, tuple)) else [value]
  for i, item in enumerate(items):
    if isinstance(item, bool) or not isinstance(item, numbers.Integral) or item <= 0:
      where = f" (entry {i})" if isinstance(value, (list, tuple)) else ""
      raise ConfigError(
        f"config.model.{key}={value!r}: model {model!r} needs positive integer "
        f"sizes, got {item!r}{where}; set --config.model.{key} to "
        f"{'positive integers, e.g. (64, 32)' if where else 'a positive integer'}."
      )


def _check_named_part(model: str, key: str, value: Any) -> None:
  """Activations and initializers are looked up by name only when the model is first
  applied, inside jit; a typo would fail there, mid-trace. Looking them up here
  refuses it before anything compiles, naming the config key."""
  if not isinstance(value, str):  # e.g. recurrent's kernel_init is an initializer
    return
  if key == "activation" or key.endswith("_activation"):
    lookup = layers.activation
  elif key == "kernel_init" or key.endswith("_kernel_init"):
    lookup = layers.initializer
  else:
    return
  try:
    lookup(value)
  except ConfigError as e:
    raise ConfigError(
      f"config.model.{key}={value!r} (model {model!r}): {e}; set "
      f"--config.model.{key} to one of them."
    ) from None


def _check_dtype(model: str, key: str, value: Any) -> None:
  """`dtype` / `param_dtype` are resolved only inside the first apply, under jit;
  a typo ("bfloat61") is refused here instead, naming the config key."""
  if not (key == "dtype" or key.endswith("_dtype")):
    return
  try:
    layers.as_dtype(value)
  except ConfigError as e:
    raise ConfigError(
      f"config.model.{key}={value!r} (model {model!r}): {e}; set "
      f"--config.model.{key} to one of them."
    ) from None


def _check_rate(model: str, key: str, value: Any) -> None:
  """Dropout rates outside [0, 1) are no error to flax: 1.0 divides by zero (NaN)
  and 1.5 keeps units with a negative "probability"; refuse them here."""
  if not (key == "dropout" or key.endswith("_dropout") or key.endswith("dropout_rate")):
    return
  rates = value if isinstance(value, (list, tuple)) and value else (value,)  # per layer
  if any(
    isinstance(r, bool) or not isinstance(r, numbers.Real) or not 0.0 <= float(r) < 1.0
    for r in rates
  ):
    raise ConfigError(
      f"config.model.{key}={value!r} (model {model!r}) must be a number in [0, 1) "
      f"(or, for models that take one per layer, a list of them): the fraction of "
      f"units dropped in training (0 = no dropout); set --config.model.{key} to "
      "e.g. 0.1."
    )


def _hashable(value: Any) -> Any:
  """Lists (from JSON/YAML configs or flags) become tuples, recursively, so the
  module stays hashable (flax needs that under jit/remat and as a static arg)."""
  if isinstance(value, (list, tuple)):
    return tuple(_hashable(v) for v in value)
  return value
