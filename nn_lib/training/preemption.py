"""Stopping cleanly on SIGTERM (preemption) and Ctrl-C: the loop saves a
checkpoint at the current step and the run ends with a message saying how to
resume.

One process: SIGTERM and SIGINT set a flag that the loop reads after each step
(a second Ctrl-C aborts at once, without saving). Several processes: they must
all stop at the same step, so SIGTERM is left to JAX's preemption service
(started by `jax.distributed.initialize`), which orbax's `reached_preemption`
turns into one agreed step; Ctrl-C keeps its default there.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any, Callable, Union

import jax

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# what signal.signal takes and returns: a handler, SIG_DFL/SIG_IGN, or None (a
# handler not installed from Python)
_Handler = Union[Callable[[int, Union[FrameType, None]], Any], int, signal.Handlers, None]


class Interrupted(Exception):
  """The run stopped early on a signal, after saving a checkpoint at `step`."""

  def __init__(self, signum: int, step: int, workdir: str):
    self.signum, self.step = signum, step
    name = signal.Signals(signum).name
    super().__init__(
      f"stopped by {name} after step {step}; its checkpoint is saved in "
      f"{workdir}/checkpoints/{step}. Re-run the same command to resume."
    )

  @property
  def exit_code(self) -> int:
    return 128 + self.signum  # the shell's convention for "killed by signal"


class StopRequests:
  """A context in which SIGTERM/SIGINT request a stop instead of killing.

  `requested(step, reached_preemption)` is True once a stop was asked for (on
  one process) or the processes agreed on a preemption step (several).
  """

  def __init__(self) -> None:
    self.signum: int | None = None
    self._previous: dict[int, _Handler] = {}

  def __enter__(self) -> "StopRequests":
    # signal handlers can only be set from the main thread, and with several
    # processes SIGTERM belongs to JAX's preemption service
    if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
      for signum in _SIGNALS:
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc) -> None:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous.clear()

  def _handle(self, signum: int, frame) -> None:
    del frame
    if self.signum is None:
      self.signum = signum
      # a second Ctrl-C or SIGTERM now kills at once, as the user expects
      signal.signal(
        signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
      )
      # os.write: logging from a signal handler can deadlock on its lock
      os.write(
        2,
        (
          f"\nreceived {signal.Signals(signum).name}: saving a checkpoint "
          "after the current step, then stopping (send it again to abort "
          "without saving).\n"
        ).encode(),
      )

  def requested(self, step: int, reached_preemption: Callable[[int], bool]) -> bool:
    if self.signum is not None:
      return True
    if jax.process_count() > 1 and reached_preemption(step):
      self.signum = signal.SIGTERM
      return True
    return False
