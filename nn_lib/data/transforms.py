"""Target transforms, chosen by `data.target_transform` as a small dict:
{"name": "is_class", "label": 3}, {"name": "one_hot"}, {"name": "inputs"}, ...

Each re-targets every split in place and keeps the original targets as `labels`,
so plots can still colour or title examples by class.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from nn_lib.data.sources import DataError, Split
from nn_lib.registry import ConfigError, Registry

# (targets of one split, inputs of that split, **config) -> new targets
TargetTransform = Callable[..., np.ndarray]
TARGET_TRANSFORMS: Registry[TargetTransform] = Registry("target transform")


@TARGET_TRANSFORMS.register("is_class")
def is_class(targets, inputs, *, label: int, negative: float = 0.0) -> np.ndarray:
  """A binary task from one class ("is it a 3?"): B x 1 float targets, 1 for the
  class and `negative` otherwise (0 for BCE, -1 for the binary hinge)."""
  del inputs
  return np.where(targets == label, 1.0, negative).astype(np.float32)[:, None]


@TARGET_TRANSFORMS.register("one_hot")
def one_hot(targets, inputs, *, num_classes: int) -> np.ndarray:
  """C-wide 0/1 rows from integer class labels 0..C-1, of any shape: labels B give
  B x C, per-pixel class maps B x H x W give B x H x W x C (the region losses of
  segmentation: dice, tversky, focal)."""
  del inputs
  if (
    isinstance(num_classes, bool)
    or not isinstance(num_classes, numbers.Integral)
    or num_classes <= 0
  ):
    raise ConfigError(
      f"data.target_transform.num_classes must be a positive integer, "
      f"got {num_classes!r}; set --config.data.target_transform."
      f"num_classes to the number of classes."
    )
  labels = np.asarray(targets)
  if labels.ndim < 1 or not np.issubdtype(labels.dtype, np.integer):
    raise DataError(
      f"target_transform 'one_hot' needs integer class labels, got "
      f"dtype {labels.dtype} with shape {labels.shape}."
    )
  if not labels.size:
    return np.zeros(labels.shape + (num_classes,), np.float32)
  # np.eye(C)[labels] would raise IndexError for a label >= C and, worse, give a
  # negative label (data.ignore_label) the one-hot row of class C - 1.
  top, low = int(labels.max()), int(labels.min())
  if top >= num_classes:
    raise DataError(
      f"target_transform 'one_hot' has num_classes={num_classes} but the "
      f"labels go up to {top}; num_classes must be at least {top + 1}: set "
      f"--config.data.target_transform.num_classes={top + 1}."
    )
  if low < 0:
    raise DataError(
      f"target_transform 'one_hot' cannot encode the negative label "
      f"{low} (one-hot rows have no 'ignore'); relabel those rows or drop "
      f"them, or train on the labels themselves without one_hot."
    )
  return np.eye(num_classes, dtype=np.float32)[labels]


@TARGET_TRANSFORMS.register("inputs")
def the_inputs(targets, inputs) -> np.ndarray:
  """The inputs themselves (autoencoders)."""
  del targets
  return inputs.copy()


@TARGET_TRANSFORMS.register("normalize")
def normalize(targets, inputs) -> np.ndarray:
  """A 0/1 presence vector made a distribution, t / sum t (softmax CE on several
  labels, notes 000's counter-example to independent sigmoids)."""
  del inputs
  totals = targets.sum(axis=-1, keepdims=True)
  if np.any(totals <= 0):
    raise DataError("target_transform 'normalize' needs at least one positive target per example")
  return (targets / totals).astype(np.float32)


def apply(splits: dict[str, Split], cfg_transform: Any) -> None:
  """Applies `data.target_transform` (None or {"name": "none"} leave targets as they are)."""
  if not cfg_transform or cfg_transform.get("name") in (None, "none"):
    return
  kw = dict(cfg_transform)
  transform = TARGET_TRANSFORMS.get(kw.pop("name"))
  for name, split in splits.items():
    try:
      new = transform(split["targets"], split["inputs"], **kw)
    except TypeError as e:
      raise ConfigError(f"data.target_transform {dict(cfg_transform)}: {e}") from e
    except DataError as e:  # the transform sees one split's targets: say which
      raise DataError(f"split {name!r}: {e}") from None
    split["labels"], split["targets"] = split["targets"], new
