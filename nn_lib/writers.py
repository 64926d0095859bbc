"""Where logged values go: metrics.jsonl, TensorBoard event files, the console.

TensorBoard files are written by tensorboardX, which needs no TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Mapping

import numpy as np
from absl import logging


# path fragment -> lowest level still shown (TFDS warns about folders it is creating).
_MAX_REDRAWS = 50  # of the progress bar in one run (plus its start and end)
_CHATTY_LIBRARIES = {"/orbax/": 30, "/tensorflow_datasets/": 40, "/etils/": 30}


def _not_library_info(record) -> bool:
  return all(
    record.levelno >= level or part not in record.pathname
    for part, level in _CHATTY_LIBRARIES.items()
  )


def quiet_library_logs() -> None:
  """Keeps orbax's and TFDS's INFO chatter (dozens of lines per checkpoint) out of
  the run's log, and their warnings in it."""
  import logging as py_logging  # pylint: disable=g-import-not-at-top

  for handler in [logging.get_absl_handler(), *py_logging.getLogger().handlers]:
    if _not_library_info not in getattr(handler, "filters", []):
      handler.addFilter(_not_library_info)
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    tfds.disable_progress_bar()
  except ImportError:
    pass


def _summary_writer_class():
  """tensorboardX.SummaryWriter, imported without torch: tensorboardX imports torch
  (about 2 s) only to accept torch tensors, which a JAX run never passes."""
  import sys  # pylint: disable=g-import-not-at-top

  if "torch" in sys.modules:
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top

    return SummaryWriter
  sys.modules["torch"] = None  # makes `import torch` raise ImportError
  try:
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
  finally:
    del sys.modules["torch"]
  return SummaryWriter


def read_metrics(path: str | Path) -> list[dict]:
  path = Path(path)
  if not path.exists():
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


class History:
  """Every logged value as (step, split, name, value, steps_per_sec) rows, in order.

  A resumed run starts from the rows its earlier attempt logged up to the restored
  step, so the history is that of one uninterrupted run.
  """

  def __init__(self, rows: list[dict] | None = None):
    self.rows: list[dict] = list(rows or [])

  def add(
    self,
    step: int,
    split: str,
    values: Mapping[str, float],
    steps_per_sec: float | None = None,
    wall_time: float | None = None,
  ) -> list[dict]:
    new = [
      {
        "step": int(step),
        "split": split,
        "name": name,
        "value": float(value),
        "wall_time": wall_time,
        "steps_per_sec": steps_per_sec,
      }
      for name, value in values.items()
    ]
    self.rows.extend(new)
    return new

  def curve(self, split: str, name: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one logged quantity; a later row for a step wins."""
    points = {r["step"]: r["value"] for r in self.rows if r["split"] == split and r["name"] == name}
    steps = sorted(points)
    return steps, [points[s] for s in steps]

  def final(self) -> dict[str, float]:
    """The last value of every quantity, keyed "split/name"."""
    return {f"{r['split']}/{r['name']}": r["value"] for r in self.rows}

  def median_steps_per_sec(self, after_step: int = 0) -> float | None:
    """Training speed: the median logging window after the first one past
    `after_step` (that one includes compilation); evaluation and checkpoint pauses
    fall between windows, so they do not count."""
    rates = [
      r["steps_per_sec"]
      for r in self.rows
      if r["split"] == "train"
      and r["name"] == "loss"
      and r["step"] > after_step
      and r["steps_per_sec"] is not None
    ]
    return float(np.median(rates[1:])) if len(rates) > 1 else None


class MetricWriter:
  """Keeps every logged value in `history` (on every process) and, on process 0,
  appends it to `<workdir>/metrics.jsonl`, mirrors it to TensorBoard and shows a
  progress bar (terminal) or log lines (otherwise)."""

  def __init__(self, workdir: str | Path, *, num_steps: int, start_step: int, enabled: bool = True):
    self.enabled = enabled
    self.path = Path(workdir) / "metrics.jsonl"
    # A resumed run recomputes the steps after its checkpoint: the rows an earlier
    # attempt logged past it are dropped; a fresh run starts an empty file.
    kept = [r for r in read_metrics(self.path) if r["step"] <= start_step] if start_step else []
    self.history = History(kept)
    self._tb = None
    self._bar = None
    if not enabled:
      return
    self._rewrite(kept)
    SummaryWriter = _summary_writer_class()  # pylint: disable=invalid-name
    # purge_step hides events a killed run wrote past the step we resume from.
    self._tb = SummaryWriter(str(Path(workdir) / "tensorboard"), purge_step=start_step or None)
    if sys.stderr.isatty():
      from tqdm import tqdm  # pylint: disable=g-import-not-at-top

      # Redraw at most ~50 times a run and twice a second: a redraw per step
      # (600 in a 600-step run) floods logs and terminals over ssh.
      self._bar = tqdm(
        total=num_steps,
        initial=start_step,
        unit="step",
        dynamic_ncols=True,
        mininterval=0.5,
        miniters=max(1, num_steps // _MAX_REDRAWS),
      )

  def _rewrite(self, rows: list[dict]) -> None:
    if not self.path.exists() and not rows:
      return
    tmp = self.path.with_suffix(".jsonl.tmp")
    with open(tmp, "w") as f:
      f.writelines(json.dumps(r) + "\n" for r in rows)
    os.replace(tmp, self.path)

  def write(
    self, step: int, split: str, values: Mapping[str, float], steps_per_sec: float | None = None
  ) -> None:
    rows = self.history.add(step, split, values, steps_per_sec, wall_time=time.time())
    if not self.enabled:
      return
    tb = self._tb
    assert tb is not None  # opened whenever the writer is enabled
    with open(self.path, "a") as f:
      for row in rows:
        f.write(json.dumps(row) + "\n")
        tb.add_scalar(f"{split}/{row['name']}", row["value"], step, walltime=row["wall_time"])
    tb.flush()
    text = " ".join(f"{k}={float(v):.4g}" for k, v in values.items())
    rate = f" ({steps_per_sec:.1f} steps/s)" if steps_per_sec else ""
    if self._bar is not None:
      if split == "train":
        self._bar.set_postfix_str(
          f"loss={float(values.get('loss', float('nan'))):.4g}" + rate, refresh=False
        )  # shown at the next redraw
      else:
        self._bar.write(f"step {step} {split}: {text}")
    else:
      logging.info("step %d %s: %s%s", step, split, text, rate)

  def advance(self, step: int) -> None:
    if self._bar is not None and step > self._bar.n:
      self._bar.update(step - self._bar.n)  # redraws only as miniters/mininterval allow

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
    if self._tb is not None:
      self._tb.close()
