"""Keeping only some classes of a split: `data.train_classes` / `data.test_classes`.

Verification and one-shot learning (notes 004, "Face verification", "One-shot
learning") test on identities the network never saw: train on digits 0-6, verify on
7-9. The lists select examples by their integer class label before any target
transform, so the held-out classes are absent from training altogether (also from
a dev split carved out of it).
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from nn_lib.data.sources import Split
from nn_lib.registry import ConfigError

# split alias -> the data config key listing the classes it keeps (None = all)
CLASS_KEYS = {"train": "train_classes", "test": "test_classes"}


def _checked_classes(value: Any, key: str) -> tuple[int, ...]:
  """`value` as a tuple of integer labels, or a ConfigError naming `data.<key>`."""
  fix = (
    f"set --config.data.{key}=\"(0, 1, 2)\" (integer class labels), or leave it "
    "unset (None) to keep every class"
  )
  if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
    raise ConfigError(
      f"config.data.{key} must be a list of integer class labels, got {value!r}; {fix}."
    )
  bad = [
    c for c in value if isinstance(c, bool) or not isinstance(c, (numbers.Integral, np.integer))
  ]
  if bad:
    raise ConfigError(
      f"config.data.{key} must hold integer class labels; {bad[0]!r} is not one; {fix}."
    )
  if not value:
    raise ConfigError(f"config.data.{key} is empty: the split would have no examples; {fix}.")
  return tuple(int(c) for c in value)


def keep_classes(split: Split, classes: Sequence[int], key: str, split_name: str) -> Split:
  """The rows of `split` whose integer label (`targets`, B) is one of `classes`.

  A class that no example of the split has is a ConfigError naming `data.<key>` and
  the classes the split does have: a typo would otherwise leave a class out silently.
  """
  labels_B = np.asarray(split["targets"])
  if labels_B.ndim != 1 or not np.issubdtype(labels_B.dtype, np.integer):
    raise ConfigError(
      f"config.data.{key} selects examples by integer class label, but "
      f"the {split_name} split's targets are {labels_B.dtype.name}"
      f"{list(labels_B.shape)}; leave data.{key} unset for this data."
    )
  present = np.unique(labels_B)
  missing = sorted(set(classes) - set(present.tolist()))
  if missing:
    raise ConfigError(
      f"config.data.{key}: class(es) {missing} are not in the "
      f"{split_name} split, whose classes are "
      f"{', '.join(str(c) for c in present)}; list only those."
    )
  rows = np.isin(labels_B, np.asarray(classes))
  return {name: array[rows] for name, array in split.items()}


def apply(splits: dict[str, Split], cfg: Any) -> None:
  """Filters every split named in CLASS_KEYS in place by `cfg.<train|test>_classes`
  (a split whose key is unset or None keeps every class)."""
  for split_name, key in CLASS_KEYS.items():
    value = cfg.get(key)
    if value is None or split_name not in splits:
      continue
    splits[split_name] = keep_classes(
      splits[split_name], _checked_classes(value, key), key, split_name
    )
