"""Bad inputs: workdirs and checkpoints (rows of docs/bad-inputs.md)."""
from __future__ import annotations

import logging
import re
import shutil
import types
import unittest.mock
from pathlib import Path
from typing import Callable

import jax.numpy as jnp
import orbax.checkpoint as ocp

from nn_lib.training import CheckpointWriteError, WorkdirError
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer, read_latest, verify
from tests.bad_inputs._case import Case, tmp

# --- workdir and checkpoints ---------------------------------------------------------

def _file_workdir(under: bool) -> None:
  file = tmp() / "file"
  file.write_text("x")
  workdir_lib.make_workdir(file / "w" if under else file)


def _saved(steps: int) -> Path:
  """A workdir with checkpoints 1..steps, step s holding {"w": [s, s, s]}."""
  workdir = tmp()
  checkpointer = Checkpointer(workdir, keep=steps)
  try:
    for step in range(1, steps + 1):
      checkpointer.save(step, {"w": jnp.full(3, float(step))})
  finally:
    checkpointer.close()
  return workdir


def _save_non_finite() -> None:
  checkpointer = Checkpointer(tmp(), keep=2)
  try:
    checkpointer.save(1, {"w": jnp.array([1.0, jnp.nan])})
  finally:
    checkpointer.close()


def _disk_full() -> None:
  workdir = _saved(1)
  checkpointer = Checkpointer(workdir, keep=2)
  try:
    # the free-space check reads only .free: 10 bytes is a disk that is full
    with unittest.mock.patch.object(shutil, "disk_usage",
                                    return_value=types.SimpleNamespace(free=10)):
      checkpointer.save(2, {"w": jnp.ones(3)})
  finally:
    checkpointer.close()


class _Warnings(logging.Handler):
  def __init__(self):
    super().__init__(logging.WARNING)
    self.messages: list[str] = []

  def emit(self, record: logging.LogRecord) -> None:
    self.messages.append(record.getMessage())


def _restore_after(damage: Callable[[Path], None], steps: int = 2) -> tuple[str, str]:
  """Damages the newest of `steps` checkpoints, restores; (outcome, what was logged)."""
  workdir = _saved(steps)
  damage(workdir / "checkpoints" / str(steps))
  warnings, absl_logger = _Warnings(), logging.getLogger("absl")
  absl_logger.addHandler(warnings)
  checkpointer = Checkpointer(workdir, keep=steps)
  try:
    state = checkpointer.restore_latest({"w": jnp.zeros(3)})
  finally:
    checkpointer.close()
    absl_logger.removeHandler(warnings)
  moved = (workdir / "checkpoints_damaged").exists()
  used = "fresh start" if state is None else f"step {int(state['w'][0])} used"
  logged = " ".join(m for m in warnings.messages if m.startswith("checkpoint at step"))
  logged = re.sub(r"(checkpoints_damaged/\d+)-\d{8}-\d{6}", r"\1-<time>",
                  logged.replace(str(workdir), "<workdir>"))
  return f"{'moved aside' if moved else 'kept'}, {used}", logged


def _truncate_data(step_dir: Path) -> None:
  for file in step_dir.rglob("*"):
    if file.is_file() and file.parent.name == "d":  # tensorstore's data files
      file.write_bytes(b"")


def _resave(step_dir: Path, state: dict, checksum_of: dict) -> None:
  """Rewrites the step as a valid orbax checkpoint of `state` carrying the checksum
  of `checksum_of` (what a disk that changed bits, or a NaN written, looks like)."""
  step = int(step_dir.name)
  shutil.rmtree(step_dir)
  checksum = verify(checksum_of)[1]
  with ocp.CheckpointManager(step_dir.parent) as manager:
    manager.save(step, args=ocp.args.StandardSave(state),
                 custom_metadata={"nn_lib_state_checksum": checksum})


def _bits_changed(step_dir: Path) -> None:
  _resave(step_dir, {"w": jnp.full(3, 2.5)}, {"w": jnp.full(3, 2.0)})


def _nan_written(step_dir: Path) -> None:
  nan = {"w": jnp.full(3, jnp.nan)}
  _resave(step_dir, nan, nan)


CKPT = "workdir / checkpoints"
_MOVED = ("; kept it at <workdir>/checkpoints_damaged/2-<time> and trying the previous "
          "one.")
CASES: list[Case] = [
    Case(CKPT, "`--workdir` that is a file", lambda: _file_workdir(under=False),
         WorkdirError, "exists and is a file, not a directory; choose another --workdir."),
    Case(CKPT, "`--workdir` under a file", lambda: _file_workdir(under=True),
         WorkdirError, "cannot be created: a part of its path is a file, not a "
         "directory; choose another --workdir."),
    Case(CKPT, "saving a state holding NaN", _save_non_finite, FloatingPointError,
         "refusing to checkpoint a non-finite state at step 1"),
    Case(CKPT, "saving a checkpoint on a full disk", _disk_full, CheckpointWriteError,
         "(OSError: [Errno 28] No space left on device: 10 bytes free, the checkpoint "
         "needs about 1048588). The earlier checkpoints [1] are intact. Free disk space "
         "(or fix the permissions) and re-run the same command to resume from the newest "
         "of them."),
    Case(CKPT, "`read_latest` on a workdir without checkpoints",
         lambda: read_latest(tmp()), FileNotFoundError, "no checkpoint in "),
    Case(CKPT, "newest checkpoint's data files truncated",
         lambda: _restore_after(_truncate_data), "moved aside, step 1 used",
         "checkpoint at step 2 cannot be used (ValueError: OUT_OF_RANGE: Error opening "
         "\"zarr\" driver"),
    Case(CKPT, "newest checkpoint's `_CHECKPOINT_METADATA` deleted",
         lambda: _restore_after(lambda step: (step / "_CHECKPOINT_METADATA").unlink()),
         "moved aside, step 1 used",
         "checkpoint at step 2 cannot be used (DamagedCheckpointError: it has no checksum "
         "(written by an older version, or its metadata is damaged))" + _MOVED),
    Case(CKPT, "newest checkpoint's values changed after writing",
         lambda: _restore_after(_bits_changed), "moved aside, step 1 used",
         "checkpoint at step 2 cannot be used (DamagedCheckpointError: its contents do "
         "not match the checksum written with it (1 of 1 arrays differ))" + _MOVED),
    Case(CKPT, "newest checkpoint holds NaN (with a matching checksum)",
         lambda: _restore_after(_nan_written), "moved aside, step 1 used",
         "checkpoint at step 2 cannot be used (DamagedCheckpointError: it holds NaN or "
         "Inf values)" + _MOVED),
    Case(CKPT, "the only checkpoint damaged (`_CHECKPOINT_METADATA` deleted)",
         lambda: _restore_after(lambda step: (step / "_CHECKPOINT_METADATA").unlink(),
                                steps=1), "moved aside, fresh start",
         "checkpoint at step 1 cannot be used (DamagedCheckpointError: it has no checksum"),
]
