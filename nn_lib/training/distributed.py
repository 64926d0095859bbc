"""Several processes as one run: JAX's own distributed runtime, started once per
process before any device is touched.

Each process drives its local devices; `jax.devices()` then spans every process,
the `data` mesh covers them all, each process loads only its rows of every batch
(`TrainBatches`), orbax saves and restores checkpoints collectively, and process 0
alone writes logs, plots and summaries.
"""

from __future__ import annotations

import dataclasses

import jax


@dataclasses.dataclass(frozen=True)
class Cluster:
  """How to join the run. `auto`: let JAX detect the cluster (Slurm, Cloud TPU
  VMs, Kubernetes/JobSet, Open MPI); explicit fields override what it detects."""

  coordinator_address: str | None = None
  num_processes: int | None = None
  process_id: int | None = None
  auto: bool = False
  # Seconds without a heartbeat before a dead process is declared dead (and the
  # others exit with an error instead of waiting in a collective forever).
  heartbeat_timeout_s: int = 100
  initialization_timeout_s: int = 300

  @property
  def requested(self) -> bool:
    return self.auto or any(
      v is not None for v in (self.coordinator_address, self.num_processes, self.process_id)
    )

  def check(self) -> None:
    """Explicit settings must be complete and consistent; raises ValueError."""
    if self.auto or not self.requested:
      return
    missing = [
      name
      for name in ("coordinator_address", "num_processes", "process_id")
      if getattr(self, name) is None
    ]
    if missing:
      raise ValueError(
        f"a multi-process run needs --coordinator_address, --num_processes and "
        f"--process_id together (missing: {', '.join('--' + m for m in missing)}); "
        "or pass --distributed to let JAX detect the cluster (Slurm, TPU VM)."
      )
    address, count, index = self.coordinator_address, self.num_processes, self.process_id
    assert address is not None and count is not None and index is not None  # none missing
    if count < 1 or not 0 <= index < count:
      raise ValueError(
        f"--process_id={self.process_id} must be in [0, --num_processes={self.num_processes})."
      )
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
      raise ValueError(
        f"--coordinator_address={self.coordinator_address!r} must be "
        "HOST:PORT, the address of process 0, e.g. 10.0.0.1:1234."
      )


def initialize(cluster: Cluster) -> None:
  """Joins the run described by `cluster` (a no-op when none is requested)."""
  cluster.check()
  if not cluster.requested:
    return
  if jax.distributed.is_initialized():
    return
  # CPU devices of different processes talk through gloo; without it XLA:CPU has
  # no cross-process collectives at all. Accelerators use their own (NCCL, ICI).
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(
    coordinator_address=cluster.coordinator_address,
    num_processes=cluster.num_processes,
    process_id=cluster.process_id,
    heartbeat_timeout_seconds=cluster.heartbeat_timeout_s,
    initialization_timeout=cluster.initialization_timeout_s,
  )
