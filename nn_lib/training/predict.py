"""Eval-mode outputs of a model for any number of rows, and split evaluation.

One `Predictor` per run: its jitted apply functions are built once (per model
method) and reused for every evaluation and plot, so nothing compiles twice.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import chex
import flax.linen as nn
import jax
import numpy as np
from jax.experimental import multihost_utils

import losses
from nn_lib import data as data_lib
from nn_lib import metrics as metrics_lib
from nn_lib.training import mesh as mesh_lib


def padded_batch_size(batch_size: int, devices: int) -> int:
  """`batch_size` rounded up to a multiple of the mesh's devices, so that every
  evaluation batch shards evenly (config.eval_batch_size=500 on 8 devices: 504);
  `eval_batches` pads the last batch to it and masks the padding."""
  return -(-batch_size // devices) * devices


class Predictor:
  """`predictor(state, inputs, method=None)` -> outputs for every row, on the host.

  Rows are cut into batches of `batch_size` rounded up to a multiple of the
  devices (`padded_batch_size`; the last batch padded), sharded over the data
  mesh; with several processes each feeds its share and every process gets all
  outputs back. `method` names another method of the model (e.g. "encode"), which
  is called without the `train` argument. `variables_sharding`: where the
  variables {params, **model_state} live (default replicated); sharded parameters
  stay sharded while evaluating.
  """

  def __init__(
    self, model: nn.Module, mesh: jax.sharding.Mesh, batch_size: int, variables_sharding: Any = None
  ):
    self.model, self.mesh = model, mesh
    self.variables_sharding = variables_sharding
    self.batch_size = padded_batch_size(batch_size, mesh_lib.data_axis_size(mesh))
    self._jitted: dict[str | None, Callable] = {}

  def _apply(self, method: str | None) -> Callable:
    if method not in self._jitted:
      model = self.model

      def apply(variables, inputs):
        if method is None:
          return model.apply(variables, inputs, train=False)
        return model.apply(variables, inputs, method=method)

      self._jitted[method] = jax.jit(
        apply,
        in_shardings=(
          self.variables_sharding or mesh_lib.replicated(self.mesh),
          mesh_lib.batch_sharded(self.mesh),
        ),
        out_shardings=mesh_lib.replicated(self.mesh),
      )
    return self._jitted[method]

  def __call__(self, state: dict, inputs: np.ndarray, method: str | None = None) -> np.ndarray:
    apply = self._apply(method)
    # Only what the model reads: any state with these shapes (the initial one, a
    # checkpoint's) runs through the same compiled function.
    variables = {"params": state["params"], **state["model_state"]}
    outputs = []
    for batch in data_lib.eval_batches(
      {"inputs": inputs}, self.batch_size, jax.process_index(), jax.process_count()
    ):
      out = apply(variables, mesh_lib.put_batch({"inputs": batch["inputs"]}, self.mesh)["inputs"])
      if jax.process_count() > 1:
        out = multihost_utils.process_allgather(out, tiled=True)
      outputs.append(np.asarray(out))
    return np.concatenate(outputs)[: len(inputs)]  # drops the last batch's padding


def evaluate(
  outputs: np.ndarray, targets: np.ndarray, loss_fn: Callable[..., Any], metric_names=()
) -> dict[str, float]:
  """Mean loss and every metric over a whole split's outputs.

  The loss sees the whole split at once, so losses over a list (all pairs of the
  split, for ranking) are exact rather than averaged per batch.
  """
  chex.assert_equal_shape_prefix((outputs, targets), 1)  # one output row per example
  values = {"loss": float(losses.reduce(loss_fn(outputs, targets)))}
  for name in metric_names:
    values[name] = float(jitted_metric(name)(outputs, targets))
  return values


@functools.cache
def jitted_metric(name: str) -> Callable[[Any, Any], jax.Array]:
  """The metric as one compiled program: called eagerly, each of its jnp ops
  would compile on its own (two dozen for a detection metric)."""
  return jax.jit(metrics_lib.get(name))
