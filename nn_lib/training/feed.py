"""Feeding the device: training batches cut into calls of up to K steps, built and
placed ahead of time by a background thread, or gathered on the device from a
training split placed there once (`config.data_placement`).

Batches stay a pure function of (seed, step) (`TrainBatches`), so prefetching,
the call size K and on-device gathering change nothing a run computes, and resume
is unchanged.
"""

from __future__ import annotations

import collections
import concurrent.futures
from typing import Any, Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nn_lib.data import TrainBatches
from nn_lib.training import mesh as mesh_lib

# config.data_placement "auto" keeps the split on the devices if it fits in this
# much of each one's memory. The split is replicated (every device holds all of
# it); an eighth leaves the rest to the model, its optimizer state and activations.
AUTO_MEMORY_FRACTION = 1 / 8


def split_on_device(
  placement: str, split_bytes: int, transfers: bool, device_bytes: int | None
) -> bool:
  """Whether the training split lives on the devices. "auto" chooses it only where
  batches would cross to the device (an accelerator, or several processes) and the
  device's memory is known: there it saves each step's host-side cut and copy
  (ResNet-20 at batch 128 on an H200: 1.12 of the bare step against 0.91 fed from
  the host, docs/benchmarks_gpu.md); a single-process CPU has nothing to save."""
  if placement != "auto":
    return placement == "device"
  return (
    transfers and device_bytes is not None and split_bytes <= device_bytes * AUTO_MEMORY_FRACTION
  )


def device_memory_bytes() -> int | None:
  """The smallest memory limit of this process's devices (None if one reports none,
  as CPU devices do)."""
  limits = [(d.memory_stats() or {}).get("bytes_limit") for d in jax.local_devices()]
  known = [int(limit) for limit in limits if limit is not None]
  return min(known) if len(known) == len(limits) else None


def plan(
  start: int, stop: int, steps_per_call: int, cadences: Sequence[int]
) -> list[tuple[int, int]]:
  """(first step, number of steps) of each call for steps [start, stop): up to
  `steps_per_call` steps, never crossing a multiple of any cadence (log, eval,
  checkpoint), so those happen after exactly the step they name."""
  calls, step = [], start
  while step < stop:
    boundary = min([stop] + [(step // c + 1) * c for c in cadences])
    n = min(steps_per_call, boundary - step)
    calls.append((step, n))
    step += n
  return calls


class Feed:
  """`for first, n, batch in feed(start, stop)`: the input of each call, placed on
  the mesh. With steps_per_call K = 1 a batch is {inputs, targets} of B rows; with
  K > 1 every array has a leading axis of n steps. Where `placement` puts the
  training split on the devices (`on_device`: replicated, placed once), a batch is
  only the rows' indices, {"rows": n x B int32}, and the step gathers them there.

  `prefetch` calls are prepared ahead in a background thread (host slicing,
  stacking and the transfer overlap the running step) where batches are
  transferred: not on a CPU in one process, whose devices are this host's memory.
  There the step takes the numpy batch directly, and the thread's handoffs cost
  more than the slicing they hide (digits_mlp, a 1.4 ms step: 0.94 of the bare
  step with the thread, 0.985 without; medians of 5 rounds, bench/train_loop.py).
  """

  def __init__(
    self,
    batches: TrainBatches,
    mesh: jax.sharding.Mesh,
    cadences: Sequence[int],
    steps_per_call: int = 1,
    prefetch: int = 2,
    placement: str = "auto",
  ):
    self.batches, self.mesh, self.cadences = batches, mesh, tuple(cadences)
    self.steps_per_call, self.prefetch = steps_per_call, prefetch
    self.dataset: dict[str, jax.Array] | None = None
    self.metric_names: list[str] = []  # the order of `packed`'s vector, set when traced
    self.transfers = not (jax.default_backend() == "cpu" and jax.process_count() == 1)
    split = {k: batches.split[k] for k in ("inputs", "targets")}
    # as placed: 64-bit arrays narrow to 32 bits (host_dtype) without x64
    split_bytes = sum(v.size * mesh_lib.host_dtype(v[:0]).itemsize for v in split.values())
    self.on_device = split_on_device(
      placement, split_bytes, self.transfers, device_memory_bytes() if placement == "auto" else None
    )
    if self.on_device:
      replicated = mesh_lib.replicated(mesh)
      self.dataset = {
        k: jax.device_put(mesh_lib.host_dtype(v), replicated) for k, v in split.items()
      }

  @property
  def stacked(self) -> bool:
    return self.steps_per_call > 1

  def jit(self, train_step: Callable, state_sharding: Any) -> Callable:
    """`call(state, batch) -> (state, metrics)` for the batches this feed yields:
    the step, gathering on the device and scanning over K steps as configured,
    jitted with the state donated (XLA updates it in place). `metrics` is one
    float32 vector per call (`unpack` names its entries)."""
    fn = train_step
    if self.on_device:
      fn = gathering(fn)
    if self.stacked:
      fn = multi_step(fn)
    fn = packed(fn, self.metric_names)
    batch_sharding = (
      mesh_lib.stacked_batch_sharded(self.mesh)
      if self.stacked
      else mesh_lib.batch_sharded(self.mesh)
    )
    replicated = mesh_lib.replicated(self.mesh)
    extra = (self.dataset,) if self.on_device else ()
    jitted = jax.jit(
      fn,
      donate_argnums=0,
      in_shardings=(state_sharding, batch_sharding) + (replicated,) * len(extra),
      out_shardings=(state_sharding, replicated),
    )
    return lambda state, batch: jitted(state, batch, *extra)

  def unpack(self, metrics: np.ndarray) -> dict[str, np.ndarray]:
    """The fetched vector of a call as {name: value} (a value per step if stacked)."""
    return {name: metrics[..., i] for i, name in enumerate(self.metric_names)}

  def _host(self, first: int, n: int) -> dict[str, np.ndarray]:
    if self.on_device:
      per_step = [{"rows": self.batches.rows(s).astype(np.int32)} for s in range(first, first + n)]
    else:
      per_step = [self.batches(s) for s in range(first, first + n)]
    if not self.stacked:
      return per_step[0]
    return {k: np.stack([b[k] for b in per_step]) for k in per_step[0]}

  def _place(self, first: int, n: int) -> dict[str, Any]:
    host = self._host(first, n)
    if not self.transfers:
      # The devices are this host: jit copies numpy arguments to them in C++ at
      # about 20 us a batch, where device_put's Python path takes 450 us.
      return {k: mesh_lib.host_dtype(v) for k, v in host.items()}
    if not self.stacked:
      return mesh_lib.put_batch(host, self.mesh)
    return mesh_lib.put_batch(host, self.mesh, mesh_lib.stacked_batch_sharded(self.mesh))

  def __call__(self, start: int, stop: int) -> Iterator[tuple[int, int, dict[str, Any]]]:
    calls = plan(start, stop, self.steps_per_call, self.cadences)
    if self.prefetch <= 0 or not self.transfers:
      for first, n in calls:
        yield first, n, self._place(first, n)
      return
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="feed") as pool:
      ahead: collections.deque = collections.deque()
      todo = iter(calls)
      try:
        for first, n in todo:
          ahead.append((first, n, pool.submit(self._place, first, n)))
          if len(ahead) > self.prefetch:
            first_ready, n_ready, future = ahead.popleft()
            yield first_ready, n_ready, future.result()
        while ahead:
          first_ready, n_ready, future = ahead.popleft()
          yield first_ready, n_ready, future.result()
      finally:  # a stop request or an error: drop what was prepared ahead
        for _, _, future in ahead:
          future.cancel()


def gathering(train_step):
  """The step for on-device data: train_step(state, {"rows"}, dataset) gathers
  its batch from the device-resident split."""

  def step(state, batch, dataset):
    rows = batch["rows"]
    return train_step(state, {k: v[rows] for k, v in dataset.items()})

  return step


def packed(train_step, names_out: list[str]):
  """The step with its scalar metrics stacked into one float32 vector (sorted by
  name; the names are written to `names_out` when it is traced). The loop fetches
  every step's metrics; one array a step instead of one per metric costs a sixth
  of the transfers (on a CPU, fetching six scalars took 13% of an MLP's loop)."""

  def step(*args):
    state, metrics = train_step(*args)
    names_out[:] = sorted(metrics)
    return state, jnp.stack([jnp.asarray(metrics[k], jnp.float32) for k in names_out], -1)

  return step


def multi_step(train_step):
  """K steps in one call: `lax.scan` of the step over batches with a leading step
  axis; metrics come back with that axis. One dispatch instead of K."""

  def steps(state, batches, *rest):
    return jax.lax.scan(lambda s, b: train_step(s, b, *rest), state, batches)

  return steps
