"""What the real-data configurations share: they read a TFDS dataset prepared as
array_record (`data.name="mnist"`/"cifar10", `data.data_dir` or $TFDS_DATA_DIR; see
the README's "Prepared TFDS datasets"), which this project never downloads.

Their `smoke` variant sets `data.mock_examples`: the run then reads
`tfds.testing.mock_data` (that many random examples per split, generated from the
dataset's real feature spec) through the same `tfds.data_source` path, so the test
suite exercises the real-data code without the data. The full variants leave it at
0 and need the prepared dataset.
"""
from __future__ import annotations

from pathlib import Path

import ml_collections

from experiments import _base
from nn_lib import training

MOCK_EXAMPLES = 64


def finish(c: ml_collections.ConfigDict, variant: str | None) -> ml_collections.ConfigDict:
  """Adds `data.mock_examples` (0 = the real data) and applies the variant."""
  c.data.mock_examples = 0
  c = _base.apply_variant(c, variant)
  if variant == "smoke":
    c.data.mock_examples = MOCK_EXAMPLES
  return c


def run(cfg, workdir: str | Path, hooks=None):
  """The module-level `run` hook of the real-data experiments: trains on mock data
  when `data.mock_examples` > 0, else on the prepared dataset."""
  n = cfg.data.get("mock_examples", 0)
  if not n:
    return training.run(cfg, workdir, hooks=hooks)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  with tfds.testing.mock_data(num_examples=n, policy=tfds.testing.MockPolicy.USE_CODE):
    return training.run(cfg, workdir, hooks=hooks)
