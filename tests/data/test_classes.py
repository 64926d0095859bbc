"""data.train_classes / data.test_classes: whole classes kept out of a split."""
from __future__ import annotations

import numpy as np
import pytest

from nn_lib import data
from nn_lib.data import classes
from nn_lib.registry import ConfigError
from tests.data.test_data import data_config


def _split(labels) -> dict:
  labels = np.asarray(labels)
  return {"inputs": np.arange(len(labels), dtype=np.float32)[:, None], "targets": labels}


def test_held_out_classes_are_absent_from_train_and_the_only_ones_in_test():
  full = data.load(data_config("digits"))
  cfg = data_config("digits", train_classes=(0, 1, 2, 3, 4, 5, 6), test_classes=(7, 8, 9),
                    dev_fraction=0.2)
  splits = data.load(cfg)
  assert set(splits["train"]["targets"].tolist()) == set(range(7))
  assert set(splits["dev"]["targets"].tolist()) <= set(range(7))  # dev comes from train
  assert set(splits["test"]["targets"].tolist()) == {7, 8, 9}
  # every example of the kept classes, in the original order, inputs with their labels
  test_rows = np.isin(full["test"]["targets"], [7, 8, 9])
  np.testing.assert_array_equal(splits["test"]["inputs"], full["test"]["inputs"][test_rows])
  n_train = np.isin(full["train"]["targets"], range(7)).sum()
  assert len(splits["train"]["targets"]) + len(splits["dev"]["targets"]) == n_train


def test_unset_keeps_every_class_and_filtering_precedes_target_transforms():
  split = _split([0, 1, 2, 1])
  splits = {"train": dict(split)}
  classes.apply(splits, {"train_classes": None})
  assert splits["train"]["targets"].tolist() == [0, 1, 2, 1]
  cfg = data_config("digits", test_classes=[3, 5],
                    target_transform={"name": "is_class", "label": 3})
  test = data.load(cfg)["test"]
  assert set(test["labels"].tolist()) == {3, 5}  # labels kept, targets re-targeted
  np.testing.assert_array_equal(test["targets"][:, 0], (test["labels"] == 3) * 1.0)


def test_a_class_not_in_the_split_names_the_key_and_the_classes_there():
  with pytest.raises(ConfigError, match=r"config\.data\.test_classes: class\(es\) \[11\] "
                     r"are not in the test split, whose classes are 0, 1, 2"):
    classes.apply({"test": _split([0, 1, 2])}, {"test_classes": (1, 11)})


@pytest.mark.parametrize("value, why", [
    ((), "is empty"),
    ("0,1", "must be a list of integer class labels"),
    ((1, 2.5), "2.5 is not one"),
    ((True,), "True is not one"),
])
def test_bad_class_lists_are_config_errors(value, why):
  with pytest.raises(ConfigError, match=rf"config\.data\.train_classes .*{why}"):
    classes.apply({"train": _split([0, 1, 2])}, {"train_classes": value})


def test_non_integer_targets_cannot_be_selected_by_class():
  split = {"inputs": np.zeros((3, 1), np.float32), "targets": np.zeros((3, 1), np.float32)}
  with pytest.raises(ConfigError, match="leave data.train_classes unset"):
    classes.apply({"train": split}, {"train_classes": (0,)})
