"""Checks every loaded split before anything trains, so bad user data is one
`DataError` naming the file (or dataset), the split, the array and the fix,
instead of a NaN loss, a silently ignored label or a traceback.

Decisions (`data.ignore_label` is also described in `config_help.KEY_HELP`):
- Inputs must be numeric and finite in float32 (NaN, Inf, or a value too large
  for float32, which becomes Inf when scaled).
- Targets must be numeric and finite in float32. Integer 1-D targets are class
  labels 0..C-1; 1-D float targets can only be class labels too (every model
  emits B x K, and the losses require targets of exactly that shape), so whole
  numbers stored as float (a CSV, pandas) are cast to int32, and fractions refused.
- B x 1 integer targets are kept as stored: they are valid 0/1 targets of the
  sigmoid losses and counts for ranking. Where the loss wants one class label per
  row, `training.sanity.check_loss_fits` refuses them with the fix.
- Negative class labels are refused unless `data.ignore_label` names that one
  negative value; rows with one class label each that carry it are left out at
  load time, so losses and metrics count only the others.
- Labels above the training split's largest one are refused in the other splits
  for sources without a declared class count (npz, inline): a class the model
  never trains on usually means two label encodings (1..10 vs 0..9). TFDS sources
  declare their classes (ClassLabel), so their labels are in range by construction.
- Every split needs at least one row; the training split needs a whole batch
  (`TrainBatches`) and a dev split at least one row of each part (`load`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from absl import logging

from nn_lib.registry import ConfigError

Split = dict[str, np.ndarray]  # "inputs", "targets" (and "labels" after a transform)
_F32_MAX = float(np.finfo(np.float32).max)


class DataError(ValueError):
  """The configured data cannot be found or read; the message says how to fix it."""


def _where(origin: str, split: str) -> str:
  return f"{origin}, split {split!r}"


def require_numeric(array: np.ndarray, what: str) -> None:
  """Refuses strings, objects and other non-numbers before anything casts them."""
  if array.dtype.kind not in "biuf":
    kind = "strings" if array.dtype.kind in "US" else f"dtype {array.dtype}"
    raise DataError(
      f"{what} holds {kind} (e.g. {str(array.flat[0])!r} in row 0), not numbers. Class "
      "labels must be integers 0..C-1 (map names to indices, e.g. "
      "np.unique(y, return_inverse=True)[1]); inputs and regression targets must "
      "be int or float arrays."
    )


def _require_finite(array: np.ndarray, what: str) -> None:
  if array.dtype.kind != "f":
    return
  with np.errstate(over="ignore"):  # float64 beyond float32's range becomes Inf
    bad = ~np.isfinite(array.astype(np.float32, copy=False))
  if bad.any():
    first = tuple(int(i) for i in np.unravel_index(np.argmax(bad), bad.shape))
    rows = int(bad.reshape(len(array), -1).any(axis=1).sum())
    raise DataError(
      f"{what} has {int(bad.sum())} non-finite value(s) (NaN, Inf or beyond float32's "
      f"{_F32_MAX:.3g}) in {rows} row(s); the first is in row {first[0]} (index "
      f"{first}, value {array[first]}). Remove or impute those rows: one NaN makes "
      "the loss NaN."
    )


def _class_labels(targets: np.ndarray, what: str) -> np.ndarray:
  """1-D targets as integer class labels (see the module's decisions)."""
  if targets.dtype.kind == "b":
    return targets.astype(np.int32)
  if targets.dtype.kind == "f":
    fractional = targets != np.round(targets)
    if fractional.any():
      row = int(np.argmax(fractional))
      raise DataError(
        f"{what} is 1-D, so it is read as one class label per row, but it holds "
        f"{targets[row]} at row {row}, not a whole number. Class labels must be "
        "integers 0..C-1; regression targets need shape (N, K) (y[:, None] for one)."
      )
    logging.info("%s: float class labels that are whole numbers, cast to int32", what)
    return targets.astype(np.int32)
  return targets


def _check_labels(labels: np.ndarray, what: str, ignore_label: int | None) -> None:
  negative = labels < 0
  if ignore_label is not None:
    negative &= labels != ignore_label
  if negative.any():
    row = int(np.argmax(negative))
    if ignore_label is None:
      fix = (
        f"If {labels[row]} marks examples to leave out of the loss, set "
        f"--config.data.ignore_label={labels[row]}; otherwise relabel them 0..C-1."
      )
    else:
      fix = f"Only data.ignore_label={ignore_label} may be negative; relabel the others 0..C-1."
    raise DataError(
      f"{what} holds the negative class label {labels[row]} in "
      f"{int(negative.sum())} row(s), the first at row {row}. {fix}"
    )


def _ignore_label(cfg: Any) -> int | None:
  value = cfg.get("ignore_label")
  if value is None:
    return None
  if isinstance(value, bool) or not isinstance(value, int) or value >= 0:
    raise ConfigError(
      f"config.data.ignore_label must be a negative integer (rows "
      f"labelled with it are left out), got {value!r}; relabel the rows "
      "to ignore with -1 and set --config.data.ignore_label=-1."
    )
  return value


def _drop_ignored(split: Split, ignore_label: int, where: str) -> None:
  """With one class label per row, an ignored row has no part in the loss or any
  metric: leaving it out at load time makes every mean and count exact."""
  keep = split["targets"] != ignore_label
  if keep.all():
    return
  if not keep.any():
    raise DataError(
      f"{where}: every row is labelled data.ignore_label={ignore_label}, "
      "so nothing is left to train or evaluate on."
    )
  logging.info(
    "%s: left out %d row(s) labelled data.ignore_label=%d", where, int((~keep).sum()), ignore_label
  )
  split["inputs"], split["targets"] = split["inputs"][keep], split["targets"][keep]


def check_splits(
  splits: dict[str, Split],
  cfg: Any,
  origin: str,
  names: Mapping[str, tuple[str, str]],
  *,
  classes_declared: bool,
) -> None:
  """Validates (and normalizes in place) every split as the module docstring says.

  `origin` names the file or dataset, `names[alias]` the (inputs, targets) arrays
  as the user knows them ("x_test", "y_test"), `classes_declared` whether the
  source guarantees labels in range (TFDS ClassLabel).
  """
  ignore_label = _ignore_label(cfg)
  first = next(iter(splits))
  for alias, split in splits.items():
    x_name, y_name = (f"{_where(origin, alias)}: {n}" for n in names[alias])
    if len(split["inputs"]) != len(split["targets"]):
      raise DataError(
        f"{x_name} has {len(split['inputs'])} rows but "
        f"{names[alias][1]} has {len(split['targets'])}; they must match."
      )
    if len(split["inputs"]) == 0:
      raise DataError(
        f"{_where(origin, alias)} has no rows; every split needs at least one example."
      )
    _require_finite(split["inputs"], x_name)
    targets = split["targets"]
    require_numeric(targets, y_name)
    _require_finite(targets, y_name)
    if targets.ndim == 1:
      split["targets"] = targets = _class_labels(targets, y_name)
      _check_labels(targets, y_name, ignore_label)
      if ignore_label is not None:
        _drop_ignored(split, ignore_label, _where(origin, alias))
    for i, key in enumerate(("inputs", "targets")):  # names[alias][i] is its name
      shape, expected = split[key].shape[1:], splits[first][key].shape[1:]
      if shape != expected:
        raise DataError(
          f"{_where(origin, alias)}: {names[alias][i]} has rows of shape {shape} but "
          f"{names[first][i]} has {expected}; every split needs the same row shape."
        )
  train = splits.get("train")
  if classes_declared or train is None or train["targets"].ndim != 1:
    return
  top = int(train["targets"].max())
  for alias, split in splits.items():
    labels = split["targets"]
    if labels.dtype.kind in "iu" and labels.max() > top:
      row = int(np.argmax(labels > top))
      raise DataError(
        f"{_where(origin, alias)}: {names[alias][1]} holds class label "
        f"{labels[row]} (row {row}) but the training labels ({names['train'][1]}) go "
        f"up to {top}: a class the model never trains on. Use one label encoding "
        f"0..C-1 in every split, with every class present in training."
      )
