"""Data: sources (embedded TFDS builders, TFDS data_dir, npz, inline) -> target
transform -> numpy splits -> host-side batches. `load(config.data)` gives the splits
an experiment trains and evaluates on, every one checked by `validate.check_splits`
(bad user data is one `DataError` naming the file, split and array);
`TrainBatches` and `eval_batches` cut them into batches."""

from __future__ import annotations

from typing import Any

import numpy as np

# (imported to register their builders)
from nn_lib.data import canvases, fields, grid_canvases, regression, shapes  # noqa: F401
from nn_lib.data import dates, digit_strips, text_corpus  # noqa: F401
from nn_lib.data import classes, transforms
from nn_lib.data.batching import TrainBatches, eval_batches
from nn_lib.data.builders import EMBEDDED, prepare
from nn_lib.data.sources import SOURCES, DataError, Split, load_splits
from nn_lib.data.transforms import TARGET_TRANSFORMS

__all__ = [
  "DataError",
  "EMBEDDED",
  "SOURCES",
  "Split",
  "TARGET_TRANSFORMS",
  "TrainBatches",
  "eval_batches",
  "load",
  "prepare",
]


def _carve_dev(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
  n = len(train["targets"])
  n_dev = int(round(n * fraction))
  if not 0 < n_dev < n:
    raise DataError(
      f"data.dev_fraction={fraction} leaves {n_dev} of {n} training "
      "examples for dev; choose a fraction in (0, 1) that keeps both "
      "sets non-empty."
    )
  order = np.random.default_rng(seed).permutation(n)
  dev_rows, train_rows = np.sort(order[:n_dev]), np.sort(order[n_dev:])
  return ({k: v[train_rows] for k, v in train.items()}, {k: v[dev_rows] for k, v in train.items()})


def _standardize(splits: dict[str, Split]) -> None:
  """Input normalization (notes 004) with the training split's statistics."""
  x = splits["train"]["inputs"]
  mean = x.mean(axis=0, keepdims=True)
  std = x.std(axis=0, keepdims=True)
  # A feature constant in training (a border pixel that is always 0) carries no
  # scale: it is centred, not divided by ~0, which would turn any other value it
  # takes in dev or test into ~1e6 (scikit-learn's StandardScaler does the same).
  std = np.where(std > 1e-6, std, 1.0)
  for split in splits.values():
    split["inputs"] = ((split["inputs"] - mean) / std).astype(np.float32)


def load(cfg: Any) -> dict[str, Split]:
  """Returns {"train": ..., "dev": ... (if dev_fraction > 0), "test": ...}."""
  splits = load_splits(cfg, {"train": cfg.train_split, "test": cfg.test_split})
  classes.apply(splits, cfg)  # data.train_classes / test_classes, before re-targeting
  transforms.apply(splits, cfg.get("target_transform"))
  if cfg.get("dev_fraction", 0.0):
    splits["train"], splits["dev"] = _carve_dev(
      splits["train"], cfg.dev_fraction, cfg.get("split_seed", 0)
    )
  if cfg.get("standardize", False):
    _standardize(splits)
  return splits
