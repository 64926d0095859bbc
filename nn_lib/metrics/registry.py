"""The metric registry, so experiments pick metrics from config, and the check that
the configured metrics fit the model's outputs and the targets."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np

from nn_lib.registry import ConfigError, Registry

MetricFn = Callable[[jax.Array, jax.Array], jax.Array]
METRICS: Registry[MetricFn] = Registry("metric")
register = METRICS.register
get = METRICS.get

# What a metric that does not fit raises while tracing (shape, dtype or indexing
# errors from jax.numpy, or the metric's own ValueError naming the shapes it needs).
_MISFIT = (TypeError, ValueError, IndexError)


def _abstract(tree: Any) -> Any:
  """Arrays, ShapeDtypeStructs or anything with .shape/.dtype -> ShapeDtypeStructs."""
  return jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype) if hasattr(x, "dtype") else np.asarray(x),
    tree,
  )


def _describe(tree: Any) -> str:
  leaves = jax.tree.leaves(tree)
  text = [f"{np.dtype(x.dtype).name}{list(np.shape(x))}" for x in leaves]
  return text[0] if len(text) == 1 else f"({', '.join(text)})"


def _misfit(fn: MetricFn, outputs: Any, targets: Any) -> str | None:
  """Why `fn(outputs, targets)` cannot be a metric value (None if it can)."""
  try:
    # Rank promotion raises: (B, C) outputs against (B,) targets (or (B, 1) against
    # (B,)) would otherwise broadcast to B x B when the sizes happen to agree, and
    # the metric would be silently wrong instead of an error.
    with jax.numpy_rank_promotion("raise"):
      value = jax.eval_shape(fn, outputs, targets)
  except _MISFIT as e:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    # Drop JAX's pointer to its config option: the fix is in the config, not JAX's.
    return text.split(" and with the config option jax_numpy_rank_promotion")[0]
  shapes = [np.shape(v) for v in jax.tree.leaves(value)]
  if shapes != [()]:
    return f"it returns shape(s) {shapes}, not one scalar"
  return None


def check_metrics_fit(outputs: Any, targets: Any, metric_names: Sequence[str]) -> None:
  """Evaluates every metric of `metric_names` once on abstract `outputs` (the model's
  outputs for a batch: arrays or jax.ShapeDtypeStructs, e.g. from jax.eval_shape)
  and `targets` (that batch's targets), so that a metric that does not fit this model
  and data is a ConfigError before training rather than a JAX traceback in the first
  step. Nothing is computed: jax.eval_shape only traces."""
  outputs, targets = _abstract(outputs), _abstract(targets)
  for name in metric_names:
    why = _misfit(get(name), outputs, targets)
    if why is None:
      continue
    fitting = [m for m in METRICS.names() if _misfit(METRICS.get(m), outputs, targets) is None]
    advice = (
      f"metrics that fit them: {', '.join(fitting)}; set e.g. "
      f"--config.metrics=\"('{fitting[0]}',)\""
      if fitting
      else "no registered metric fits them; set --config.metrics=\"()\""
    )
    raise ConfigError(
      f"config.metrics: metric {name!r} does not fit this model and data: the model "
      f"outputs {_describe(outputs)} and the targets are {_describe(targets)} "
      f"({name}: {why}); {advice}."
    )
