"""Host-side batching with numpy.

Every training batch is a pure function of (seed, step): epoch e is shuffled by
`default_rng([seed, e])`. A run resumed at step s therefore sees exactly the batches
the uninterrupted run saw, with no iterator state to checkpoint.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from nn_lib.data.sources import Split
from nn_lib.registry import ConfigError


def _split_len(split: Split) -> int:
  return len(next(iter(split.values())))


class TrainBatches:
  """`batches(step)` -> this process's slice of global batch number `step`: the
  split's `inputs` and `targets` (other arrays, such as `labels`, stay on the host)."""

  def __init__(
    self, split: Split, batch_size: int, seed: int, process_index: int = 0, process_count: int = 1
  ):
    self.split = split
    self.num_examples = _split_len(split)
    if batch_size > self.num_examples:
      raise ConfigError(
        f"batch_size {batch_size} is larger than the training split "
        f"({self.num_examples} examples), so not one batch fits; lower "
        f"--config.batch_size to at most {self.num_examples} or give "
        "more training data."
      )
    self.batch_size = batch_size
    self.steps_per_epoch = self.num_examples // batch_size  # drops the remainder
    self.seed = seed
    self.local_size = batch_size // process_count
    self.local_offset = process_index * self.local_size
    self._cached_epoch = -1
    self._cached_order: np.ndarray | None = None

  def order(self, epoch: int) -> np.ndarray:
    if epoch != self._cached_epoch or self._cached_order is None:
      self._cached_order = np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)
      self._cached_epoch = epoch
    return self._cached_order

  def rows(self, step: int) -> np.ndarray:
    """The split's row numbers in this process's slice of batch `step`."""
    epoch, index = divmod(step, self.steps_per_epoch)
    start = index * self.batch_size + self.local_offset
    return self.order(epoch)[start : start + self.local_size]

  def __call__(self, step: int) -> Split:
    rows = self.rows(step)
    return {k: self.split[k][rows] for k in ("inputs", "targets") if k in self.split}


def eval_batches(
  split: Split, batch_size: int, process_index: int = 0, process_count: int = 1
) -> Iterator[Split]:
  """The whole split in order, the last batch padded; `mask` marks real rows."""
  n = _split_len(split)
  local = batch_size // process_count
  for start in range(0, n, batch_size):
    rows = np.arange(start + process_index * local, start + (process_index + 1) * local)
    mask = rows < n
    rows = np.where(mask, rows, 0)
    batch = {k: v[rows] for k, v in split.items()}
    batch["mask"] = mask
    yield batch
