"""Orbax checkpoints with auto-resume and fallback past damaged checkpoints.

orbax raises on a truncated or corrupt checkpoint and does not fall back by itself;
`restore_latest` tries the newest first, moves a damaged one aside (it is never
deleted) and resumes from the newest one that restores.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from absl import logging


class Checkpointer:
  """Saves the state pytree under `<workdir>/checkpoints/<step>`, keeping the last K."""

  def __init__(self, workdir: str | Path, keep: int):
    self.directory = Path(workdir).absolute() / "checkpoints"
    self.quarantine = Path(workdir).absolute() / "checkpoints_damaged"
    self.keep = keep
    self._manager = self._new_manager()

  def _new_manager(self) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=self.keep, create=True))

  def steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: Any) -> None:
    self._manager.save(step, args=ocp.args.StandardSave(state))

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()

  def _set_aside(self, step: int) -> Path:
    self.quarantine.mkdir(parents=True, exist_ok=True)
    target = self.quarantine / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}"
    if jax.process_index() == 0:
      shutil.move(str(self.directory / str(step)), str(target))
    return target

  def restore_latest(self, like: Any) -> Any | None:
    """The newest restorable checkpoint shaped and sharded like `like`, or None."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    for step in reversed(self.steps()):
      try:
        state = self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
      except Exception as e:  # pylint: disable=broad-except
        # orbax surfaces damage as many exception types (ValueError, OSError,
        # tensorstore errors, JSON errors); any failure here means "unusable".
        moved = self._set_aside(step)
        logging.warning("checkpoint at step %d cannot be restored (%s: %s); kept it "
                        "at %s and trying the previous one.", step, type(e).__name__,
                        str(e).splitlines()[0] if str(e) else "", moved)
        self._manager.close()
        self._manager = self._new_manager()
        continue
      logging.info("resumed from checkpoint at step %d", step)
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
  target = jax.tree.map(
      lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree)
  return step, checkpointer.restore(item, target)
