"""Where logged values go: metrics.jsonl, TensorBoard event files, the console.

TensorBoard files are written by tensorboardX, which needs no TensorFlow.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from absl import logging


# path fragment -> lowest level still shown (TFDS warns about folders it is creating).
_CHATTY_LIBRARIES = {"/orbax/": 30, "/tensorflow_datasets/": 40, "/etils/": 30}


def _not_library_info(record) -> bool:
  return all(record.levelno >= level or part not in record.pathname
             for part, level in _CHATTY_LIBRARIES.items())


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


class MetricWriter:
  """Appends one JSON object per value to `<workdir>/metrics.jsonl`, mirrors it to
  TensorBoard, and keeps a progress bar (terminal) or log lines (otherwise)."""

  def __init__(self, workdir: str | Path, *, num_steps: int, start_step: int,
               enabled: bool = True):
    self.enabled = enabled
    self.path = Path(workdir) / "metrics.jsonl"
    self._tb = None
    self._bar = None
    if not enabled:
      return
    self._drop_after(start_step)
    SummaryWriter = _summary_writer_class()  # pylint: disable=invalid-name
    # purge_step hides events a killed run wrote past the step we resume from.
    self._tb = SummaryWriter(str(Path(workdir) / "tensorboard"),
                             purge_step=start_step or None)
    if sys.stderr.isatty():
      from tqdm import tqdm  # pylint: disable=g-import-not-at-top
      self._bar = tqdm(total=num_steps, initial=start_step, unit="step",
                       dynamic_ncols=True)

  def _drop_after(self, step: int) -> None:
    """A resumed run recomputes steps after its checkpoint; drop their old rows."""
    rows = read_metrics(self.path)
    kept = [r for r in rows if r["step"] <= step]
    if len(kept) != len(rows):
      tmp = self.path.with_suffix(".jsonl.tmp")
      with open(tmp, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in kept)
      os.replace(tmp, self.path)

  def write(self, step: int, split: str, values: dict[str, float],
            steps_per_sec: float | None = None) -> None:
    if not self.enabled:
      return
    now = time.time()
    with open(self.path, "a") as f:
      for name, value in values.items():
        f.write(json.dumps({"step": step, "split": split, "name": name,
                            "value": float(value), "wall_time": now,
                            "steps_per_sec": steps_per_sec}) + "\n")
        self._tb.add_scalar(f"{split}/{name}", float(value), step, walltime=now)
    self._tb.flush()
    text = " ".join(f"{k}={float(v):.4g}" for k, v in values.items())
    rate = f" ({steps_per_sec:.1f} steps/s)" if steps_per_sec else ""
    if self._bar is not None:
      if split == "train":
        self._bar.set_postfix_str(f"loss={float(values.get('loss', float('nan'))):.4g}"
                                  + rate)
      else:
        self._bar.write(f"step {step} {split}: {text}")
    else:
      logging.info("step %d %s: %s%s", step, split, text, rate)

  def advance(self, step: int) -> None:
    if self._bar is not None:
      self._bar.n = step
      self._bar.refresh()

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
    if self._tb is not None:
      self._tb.close()
