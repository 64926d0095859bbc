"""Decoded TFDS splits kept for the life of the process.

Reading a split through `tfds.data_source` parses every example on its own (a
protobuf per row, in Python): mnist10k's 8,000 training rows take 0.6 s of a core,
mnist_multilabel's 24,000 take 2.6 s. A study trains many variations of one config,
each reading the same splits, and a test session reads them hundreds of times; TFDS
keeps no decoded copy, so this module does.

Entries are keyed by everything that determines the arrays, including the size and
modification time of every file under the dataset's folder, so a dataset prepared
again is read again. Callers get their own copies (they may write into them), and
the cache holds at most `max_bytes`, least recently used first out, so that a large
TFDS dataset is not held twice.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Hashable

import numpy as np

from nn_lib.data.validate import Split

DEFAULT_MAX_BYTES = 512 * 2**20


def prepared_files(data_dir: str | Path, name: str) -> tuple[tuple[str, int, int], ...]:
  """(path, size, mtime in ns) of every file of TFDS dataset `name` ("name",
  "name/config" or "name:version") under `data_dir`; () if it has none there."""
  root = Path(data_dir) / name.split(":")[0]
  if not root.is_dir():
    return ()
  stats = ((p, p.stat()) for p in root.rglob("*") if p.is_file())
  return tuple(sorted((str(p), s.st_size, s.st_mtime_ns) for p, s in stats))


def _copy(split: Split) -> Split:
  return {k: np.array(v, copy=True) for k, v in split.items()}


def _nbytes(split: Split) -> int:
  return sum(np.asarray(v).nbytes for v in split.values())


class SplitCache:
  """A bounded, least-recently-used map from a key to a decoded split; `get` and
  `put` copy, so no caller sees another's writes."""

  def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
    self.max_bytes = max_bytes
    self._splits: collections.OrderedDict[Hashable, Split] = collections.OrderedDict()
    self._lock = threading.Lock()

  @property
  def nbytes(self) -> int:
    return sum(_nbytes(s) for s in self._splits.values())

  def __len__(self) -> int:
    return len(self._splits)

  def get(self, key: Hashable) -> Split | None:
    with self._lock:
      split = self._splits.get(key)
      if split is None:
        return None
      self._splits.move_to_end(key)
    return _copy(split)

  def put(self, key: Hashable, split: Split) -> None:
    """Keeps a copy of `split` unless it alone exceeds the budget; drops the least
    recently used entries until the rest fits."""
    size = _nbytes(split)
    if size > self.max_bytes:
      return
    kept = _copy(split)
    with self._lock:
      self._splits.pop(key, None)
      while self._splits and self.nbytes + size > self.max_bytes:
        self._splits.popitem(last=False)
      self._splits[key] = kept

  def clear(self) -> None:
    with self._lock:
      self._splits.clear()
