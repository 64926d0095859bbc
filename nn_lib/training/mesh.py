"""The 2-D `(data, model)` mesh: batches sharded over `data` (and replicated over
`model`); the state replicated, or sharded by `nn_lib.training.sharding`.

`make_mesh()` (model_axis=1) is the data-parallel mesh of shape (devices, 1); one
device is the same code path with a mesh of size one.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

from nn_lib.registry import ConfigError

AXES = ("data", "model")


def make_mesh(model_axis: int = 1) -> jax.sharding.Mesh:
  """Devices as a (device_count // model_axis, model_axis) grid named (data, model)."""
  devices = jax.device_count()
  try:
    size = operator.index(model_axis)  # ints of any kind; not 2.0 or "2"
  except TypeError:
    size = 0
  if size < 1 or devices % size:
    raise ConfigError(
      f"config.sharding.model_axis={model_axis!r} must be a positive integer that "
      f"divides the {devices} device(s); valid values: "
      f"{[k for k in range(1, devices + 1) if devices % k == 0]}"
    )
  # Auto axis types: shardings are hints the compiler propagates (the familiar
  # jit behaviour). jax.make_mesh's default, Explicit, would make sharding part
  # of every array's type and require annotating the model code.
  return jax.make_mesh((devices // size, size), AXES, axis_types=(AxisType.Auto,) * len(AXES))


def data_axis_size(mesh) -> int:
  """How many ways a batch is split (the batch size must be a multiple of it)."""
  return int(dict(mesh.shape)["data"])


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def stacked_batch_sharded(mesh) -> NamedSharding:
  """Several steps' batches stacked on a leading step axis (config.steps_per_call)."""
  return NamedSharding(mesh, P(None, "data"))


def host_dtype(x: np.ndarray) -> np.ndarray:
  # Without jax_enable_x64 JAX would narrow 64-bit arrays itself, with a warning.
  if x.dtype == np.float64 and not jax.config.read("jax_enable_x64"):
    return x.astype(np.float32)
  if x.dtype == np.int64 and not jax.config.read("jax_enable_x64"):
    return x.astype(np.int32)
  return x


@functools.cache  # once per mesh, not per batch
def _check_rows_within_processes(mesh) -> None:
  """Each process feeds its own rows (TrainBatches splits by process): that is
  only right if every `data` row of the mesh (its `model` devices, which all see
  the same rows) lies within one process. Otherwise two processes would feed
  different rows to one data shard, and JAX would not notice."""
  devices = np.moveaxis(np.asarray(mesh.devices), mesh.axis_names.index("data"), 0)
  for i, row in enumerate(devices.reshape(devices.shape[0], -1)):
    owners = sorted({d.process_index for d in row})
    if len(owners) > 1:
      raise ConfigError(
        f"data row {i} of the mesh {dict(mesh.shape)} spans processes {owners}: "
        "every process must hold whole rows of the model axis. Choose a model_axis "
        f"that divides the {jax.local_device_count()} devices of each process."
      )


def put_batch(
  batch: dict[str, np.ndarray], mesh, sharding: NamedSharding | None = None
) -> dict[str, Any]:
  """Assembles this process's rows into global arrays sharded on `data` (or on
  `sharding`, e.g. P(None, "data") for a stack of several steps' batches)."""
  sharding = sharding or batch_sharded(mesh)
  batch = {k: host_dtype(np.asarray(v)) for k, v in batch.items()}
  if jax.process_count() == 1:  # the local rows are the global batch; 30% faster
    return jax.device_put(batch, sharding)
  _check_rows_within_processes(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


def must_block_each_step() -> bool:
  """XLA:CPU collectives across host devices can deadlock when steps queue up
  (about 1 run in 16 of 1,000 steps with 8 forced devices; none in 20,000 when
  every step is awaited). Accelerators don't need it, and blocking there would
  stall dispatch."""
  return jax.default_backend() == "cpu" and jax.device_count() > 1
