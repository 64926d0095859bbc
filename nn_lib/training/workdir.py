"""The run's directory: an OS lock while a run uses it, config.json before
training (and the check that a resumed run has the same config), summary.json and
the curves plot after it.

Every trainer and study holds `exclusive` and goes through `prepare` and
`finish`, so each workdir has the same files in the same shape, written once,
atomically, by process 0.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import jax
from absl import logging

from nn_lib import config_resume
from nn_lib import plots
from nn_lib.training.result import Result


def write_json_atomic(path: Path, obj: Any) -> None:
  """Readers see the old file or the new one, never half of one."""
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(obj if isinstance(obj, str) else json.dumps(obj, indent=2))
  os.replace(tmp, path)


class WorkdirError(OSError):
  """The workdir cannot be used: it is a file, not writable, or in use."""


def make_workdir(workdir: str | Path) -> Path:
  """Creates the workdir, or says clearly why it cannot be one."""
  workdir = Path(workdir)
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except FileExistsError as e:
    raise WorkdirError(
      f"workdir {workdir} exists and is a file, not a directory; choose another --workdir."
    ) from e
  except NotADirectoryError as e:
    raise WorkdirError(
      f"workdir {workdir} cannot be created: a part of its path is a "
      "file, not a directory; choose another --workdir."
    ) from e
  except OSError as e:
    raise WorkdirError(
      f"workdir {workdir} cannot be created ({e.strerror}); choose another --workdir."
    ) from e
  if not os.access(workdir, os.W_OK | os.X_OK):
    raise WorkdirError(
      f"workdir {workdir} is not writable; fix its permissions or choose another --workdir."
    )
  return workdir


# path -> (open lock file, nesting depth) for the locks this process holds, so that
# a study and the trainer it calls may both hold the same workdir
_HELD: dict[Path, list] = {}


@contextlib.contextmanager
def exclusive(workdir: str | Path) -> Iterator[Path]:
  """Holds an OS lock (flock) on `<workdir>/.lock` while the run uses the workdir:
  a second run on it is refused with the holder's pid, host and command; a killed
  process releases it. Process 0 alone locks (all processes share the workdir)."""
  workdir = make_workdir(workdir)
  key = workdir.resolve()
  if jax.process_index() != 0 or key in _HELD:
    if key in _HELD:
      _HELD[key][1] += 1
    try:
      yield workdir
    finally:
      if key in _HELD:
        _HELD[key][1] -= 1
    return
  lock_file = open(workdir / ".lock", "a+", encoding="utf-8")  # pylint: disable=consider-using-with
  try:
    fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    lock_file.seek(0)
    holder = lock_file.read().strip() or "another process"
    lock_file.close()
    raise WorkdirError(
      f"workdir {workdir} is in use by {holder}. Wait for that run to "
      "end (or stop it), or choose another --workdir."
    ) from None
  lock_file.seek(0)
  lock_file.truncate()
  lock_file.write(
    f"pid {os.getpid()} on {socket.gethostname()} (since "
    f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(sys.argv)[:200]})\n"
  )
  lock_file.flush()
  _HELD[key] = [lock_file, 1]
  try:
    yield workdir
  finally:
    _HELD[key][1] -= 1
    if _HELD[key][1] == 0:
      del _HELD[key]
      lock_file.close()  # closing releases the flock


def exclusive_workdir(trainer: Callable[..., Result]) -> Callable[..., Result]:
  """Decorates `trainer(cfg, workdir, ...)` to run holding `exclusive(workdir)`."""

  @functools.wraps(trainer)
  def run(cfg: Any, workdir: str | Path, *args, **kwargs) -> Result:
    with exclusive(workdir) as path:
      return trainer(cfg, path, *args, **kwargs)

  return run


def prepare(cfg: Any, workdir: str | Path) -> Path:
  """Creates the workdir, refuses a resume with a changed config, saves config.json."""
  workdir = make_workdir(workdir)
  cfg_json = cfg.to_json_best_effort(indent=2, sort_keys=True)
  saved = workdir / "config.json"
  has_checkpoints = any((workdir / "checkpoints").glob("[0-9]*"))
  if saved.exists() and has_checkpoints:
    config_resume.check_resumable(saved.read_text(), cfg_json, workdir)
  if jax.process_index() == 0:
    write_json_atomic(saved, cfg_json)
  return workdir


def finish(result: Result, t0: float, plot_fns: Mapping[str, plots.PlotFn] | None = None) -> Result:
  """Draws the config's plots (adding what they measure to `result.final`), then
  writes summary.json and plots/curves.png. `t0`: when the run started."""
  for plot in (plot_fns or {}).values():
    result.final.update(plot(result, result.workdir / "plots") or {})
  result.wall_time_s = time.time() - t0
  summary = result.workdir / "summary.json"
  if result.trained_steps == 0 and summary.exists():
    # re-running a finished run: its summary (time, steps/s) stays the real one
    logging.info("the run had already finished; kept its %s", summary)
  elif jax.process_index() == 0:
    write_json_atomic(summary, result.summary())
    if any(r["split"] == "train" for r in result.history.rows):  # it trained
      plots.training_curves(result.history.rows, result.workdir / "plots" / "curves.png")
  return result
