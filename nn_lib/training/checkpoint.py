"""Orbax checkpoints: auto-resume, verified restores, fallback past damage.

Every checkpoint carries a checksum of the state it holds (in orbax's step
metadata, committed atomically with the data). `restore_latest` tries the newest
checkpoint first and accepts it only if it restores, matches its checksum and
is finite; otherwise it moves it aside (nothing is ever deleted) and tries the
previous one. orbax itself neither verifies contents nor falls back.
"""

from __future__ import annotations

import logging as py_logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from absl import logging

from nn_lib.training.checksum import verify

_CHECKSUM_KEY = "nn_lib_state_checksum"


class CheckpointWriteError(OSError):
  """A checkpoint could not be written (disk full, permissions, ...)."""


def _drop_closed_loop_callbacks(previous: Any) -> Any:
  """After one of orbax's writes fails, its event loop closes while tensorstore
  still completes the other writes; each completion then reaches Python as an
  unraisable "Event loop is closed" error, printed as a traceback from another
  thread, which can land in the middle of the run's own error message. Those
  (and only those) are dropped; the failure itself is raised by `wait`."""

  def hook(unraisable: Any) -> None:
    if not (
      isinstance(unraisable.exc_value, RuntimeError)
      and str(unraisable.exc_value) == "Event loop is closed"
    ):
      previous(unraisable)

  hook.nn_lib_filter = True  # type: ignore[attr-defined]
  return hook


class _OrbaxErrorsWithoutTracebacks(py_logging.Filter):
  """A failed background write makes orbax log four errors, each with a full
  traceback (about 330 lines for one full disk), before `wait` re-raises the
  failure and train.py reports it in one line that names the cause. They keep
  their one-line messages; their tracebacks are shown at --verbosity=1 (debug)."""

  def filter(self, record: py_logging.LogRecord) -> bool:
    if (
      record.levelno >= py_logging.ERROR
      and "orbax" in record.pathname
      and logging.get_verbosity() < logging.DEBUG
    ):
      record.exc_info, record.exc_text = None, None
    return True


def _install_error_filters() -> None:
  """Once per process, however many Checkpointers there are."""
  if not getattr(sys.unraisablehook, "nn_lib_filter", False):
    sys.unraisablehook = _drop_closed_loop_callbacks(sys.unraisablehook)
  absl_logger = logging.get_absl_logger()
  if not any(isinstance(f, _OrbaxErrorsWithoutTracebacks) for f in absl_logger.filters):
    absl_logger.addFilter(_OrbaxErrorsWithoutTracebacks())


class DamagedCheckpointError(ValueError):
  """A checkpoint restored but failed verification."""


class Checkpointer:
  """Saves the state pytree under `<workdir>/<name>/<step>`, keeping the last K.

  With `best_mode` ("max" or "min"), keeps instead the K checkpoints whose metric
  (`save(..., metric=v)`) is best: orbax's best-checkpoint selection, used for
  early stopping's `best_checkpoint/` beside the resumable `checkpoints/`.
  """

  def __init__(
    self, workdir: str | Path, keep: int, *, name: str = "checkpoints", best_mode: str | None = None
  ):
    self.directory = Path(workdir).absolute() / name
    self.quarantine = Path(workdir).absolute() / f"{name}_damaged"
    self.keep = keep
    self.best_mode = best_mode
    _install_error_filters()
    self._manager = self._new_manager()
    self.last_saved: int | None = None

  def _new_manager(self) -> ocp.CheckpointManager:
    best = (
      {}
      if self.best_mode is None
      else dict(
        best_fn=lambda metrics: metrics["value"],
        best_mode=self.best_mode,
        keep_checkpoints_without_metrics=False,
      )
    )
    return ocp.CheckpointManager(
      self.directory,
      options=ocp.CheckpointManagerOptions(max_to_keep=self.keep, create=True, **best),
      # named, so that reading a step's metadata needs no guessing (and no warning)
      item_handlers=ocp.StandardCheckpointHandler(),
    )

  def best_step(self) -> int | None:
    return self._manager.best_step()

  def steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def _write_error(self, step: int, e: Exception) -> CheckpointWriteError:
    # orbax's other write tasks fail the same way and would each log a traceback
    # ("exception was never retrieved"): the one error below says it all
    py_logging.getLogger("asyncio").setLevel(py_logging.CRITICAL)
    cause = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return CheckpointWriteError(
      f"could not write the checkpoint of step {step} to {self.directory} "
      f"({type(e).__name__}: {cause}). The earlier checkpoints {self.steps()} are "
      "intact. Free disk space (or fix the permissions) and re-run the same "
      "command to resume from the newest of them."
    )

  def _check_free_space(self, step: int, state: Any) -> None:
    """A full disk is refused before orbax starts writing (which would fail in
    background threads, each logging its own traceback)."""
    needed = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)) + 2**20
    free = shutil.disk_usage(self.directory).free
    if free < needed:
      raise self._write_error(
        step,
        OSError(
          28, f"No space left on device: {free} bytes free, the checkpoint needs about {needed}"
        ),
      )

  def save(self, step: int, state: Any, metric: float | None = None) -> None:
    """Saves asynchronously; the state must be finite (a non-finite state is a
    bug upstream: the loop stops before it would save one). A step saved before
    (by a killed attempt that got past the resumed checkpoint) holds this very
    state, since runs are deterministic, and is kept as it is."""
    if step in self._manager.all_steps():
      return
    finite, checksums = verify(state)
    if not finite:
      raise FloatingPointError(f"refusing to checkpoint a non-finite state at step {step}")
    self._check_free_space(step, state)
    metadata = {_CHECKSUM_KEY: checksums}
    try:
      self._manager.save(
        step,
        args=ocp.args.StandardSave(state),
        custom_metadata=metadata,
        metrics=None if metric is None else {"value": float(metric)},
      )
    except Exception as e:  # pylint: disable=broad-except
      # orbax reports write failures as OSError, tensorstore or its own errors
      raise self._write_error(step, e) from e
    self.last_saved = step

  def reached_preemption(self, step: int) -> bool:
    """Whether the processes agreed to stop at `step` for a preemption (JAX's
    preemption service; always False in a single process)."""
    return self._manager.reached_preemption(step)

  def wait(self) -> None:
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      raise self._write_error(self.last_saved or -1, e) from e

  def close(self) -> None:
    try:
      self.wait()
    finally:
      self._manager.close()

  def _set_aside(self, step: int) -> Path:
    self.quarantine.mkdir(parents=True, exist_ok=True)
    target = self.quarantine / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}"
    if jax.process_index() == 0:
      shutil.move(str(self.directory / str(step)), str(target))
    return target

  def _restore_verified(self, step: int, abstract: Any) -> Any:
    saved = (self._manager.metadata(step).custom_metadata or {}).get(_CHECKSUM_KEY)
    if saved is None:
      raise DamagedCheckpointError(
        "it has no checksum (written by an older version, or its metadata is damaged)"
      )
    state = self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
    finite, restored = verify(state)
    if restored != list(saved):
      bad = sum(a != b for a, b in zip(restored, saved)) + abs(len(restored) - len(saved))
      raise DamagedCheckpointError(
        f"its contents do not match the checksum written with it ({bad} of "
        f"{len(saved)} arrays differ)"
      )
    if not finite:
      raise DamagedCheckpointError("it holds NaN or Inf values")
    return state

  def restore(self, step: int, like: Any) -> Any:
    """The verified checkpoint of `step`, shaped and sharded like `like`."""
    return self._restore_verified(step, jax.tree.map(ocp.utils.to_shape_dtype_struct, like))

  def restore_latest(self, like: Any) -> Any | None:
    """The newest verified checkpoint shaped and sharded like `like`, or None."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    for step in reversed(self.steps()):
      try:
        state = self._restore_verified(step, abstract)
      except Exception as e:  # pylint: disable=broad-except
        # orbax surfaces damage as many exception types (ValueError, OSError,
        # tensorstore errors, JSON errors); any failure here means "unusable".
        moved = self._set_aside(step)
        logging.warning(
          "checkpoint at step %d cannot be used (%s: %s); kept it at %s "
          "and trying the previous one.",
          step,
          type(e).__name__,
          str(e).splitlines()[0] if str(e) else "",
          moved,
        )
        self._manager.close()
        self._manager = self._new_manager()
        continue
      logging.info("resumed from checkpoint at step %d (checksum verified)", step)
      return state
    return None


def read_latest(workdir: str | Path) -> tuple[int, Any]:
  """(step, state) of the newest checkpoint in a workdir, on this process's first
  device whatever mesh saved it. For inspection and tests; training restores
  through `Checkpointer`."""
  directory = Path(workdir).absolute() / "checkpoints"
  with ocp.CheckpointManager(directory) as manager:
    step = manager.latest_step()
  if step is None:
    raise FileNotFoundError(f"no checkpoint in {directory}")
  item = directory / str(step) / "default"
  checkpointer = ocp.StandardCheckpointer()
  metadata = checkpointer.metadata(item)
  tree = getattr(metadata, "item_metadata", metadata)
  tree = getattr(tree, "tree", tree)
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree)
  return step, checkpointer.restore(item, target)
