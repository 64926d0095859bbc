"""User data is checked at load time, in every split: each bad input is one
DataError (or ConfigError) naming the file, split and array and saying what to do,
never a NaN loss, a silently ignored label or a traceback (issue 9, part A)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

import experiments
from nn_lib import data, models
from nn_lib.registry import ConfigError
from nn_lib.training import objective, sanity

RNG = np.random.default_rng(0)


def good_arrays() -> dict[str, np.ndarray]:
  """A valid 10-class npz content, the same at every call."""
  rng = np.random.default_rng(0)
  return dict(x_train=rng.random((40, 4, 4, 1)).astype(np.float32),
              y_train=np.arange(40) % 10,
              x_test=rng.random((12, 4, 4, 1)).astype(np.float32),
              y_test=np.arange(12) % 10)


def npz_config(path: Path, **overrides):
  cfg = experiments.get_config("digits_mlp").data
  cfg.update(dict(source="npz", path=str(path), standardize=False, **overrides))
  return cfg


def write_npz(tmp_path: Path, **changes) -> Path:
  path = tmp_path / "mine.npz"
  np.savez(path, **{**good_arrays(), **changes})
  return path


def nan_rows(n: int) -> np.ndarray:
  x = RNG.random((n, 4, 4, 1)).astype(np.float32)
  x[3, 1, 2, 0] = np.nan
  x[5, 0, 0, 0] = np.inf
  return x


# (arrays changed from good_arrays(), the message after "<file>, ") for the docs'
# table of bad inputs.
BAD_NPZ = {
    "nan_in_x_test": (
        dict(x_test=nan_rows(12)),
        "split 'test': x_test has 2 non-finite value(s) (NaN, Inf or beyond float32's "
        "3.4e+38) in 2 row(s); the first is in row 3 (index (3, 1, 2, 0), value nan). "
        "Remove or impute those rows: one NaN makes the loss NaN."),
    "float64_overflowing_float32_in_y": (
        dict(x_train=RNG.random((40, 3)), y_train=np.full((40, 1), 1e300),
             x_test=RNG.random((12, 3)), y_test=np.ones((12, 1))),
        "split 'train': y_train has 40 non-finite value(s) (NaN, Inf or beyond "
        "float32's 3.4e+38) in 40 row(s); the first is in row 0 (index (0, 0), value "
        "1e+300)."),
    "test_label_99": (
        dict(y_test=np.array([0, 1, 99] + [2] * 9)),
        "split 'test': y_test holds class label 99 (row 2) but the training labels "
        "(y_train) go up to 9: a class the model never trains on. Use one label "
        "encoding 0..C-1 in every split, with every class present in training."),
    "negative_labels": (
        dict(y_train=np.arange(40) % 10 - 1),
        "split 'train': y_train holds the negative class label -1 in 4 row(s), the "
        "first at row 0. If -1 marks examples to leave out of the loss, set "
        "--config.data.ignore_label=-1; otherwise relabel them 0..C-1."),
    "negative_test_labels": (
        dict(y_test=np.array([3, -5] + [0] * 10)),
        "split 'test': y_test holds the negative class label -5 in 1 row(s), the first "
        "at row 1."),
    "string_labels": (
        dict(y_train=np.array([f"class{i % 10}" for i in range(40)])),
        "split 'train': y_train holds strings (e.g. 'class0' in row 0), not numbers. "
        "Class labels must be integers 0..C-1 (map names to indices, e.g. "
        "np.unique(y, return_inverse=True)[1]); inputs and regression targets must be "
        "int or float arrays."),
    "string_inputs": (
        dict(x_test=np.array([["a", "b"]] * 12)),
        "split 'test': x_test holds strings (e.g. 'a' in row 0), not numbers."),
    "fractional_1d_labels": (
        dict(y_train=(np.arange(40) % 10) + 0.5),
        "split 'train': y_train is 1-D, so it is read as one class label per row, but "
        "it holds 0.5 at row 0, not a whole number. Class labels must be integers "
        "0..C-1; regression targets need shape (N, K) (y[:, None] for one)."),
    "rows_mismatch": (
        dict(y_test=np.arange(11) % 10),
        "split 'test': x_test has 12 rows but y_test has 11; they must match."),
    "empty_test_split": (
        dict(x_test=np.zeros((0, 4, 4, 1), np.float32), y_test=np.zeros(0, np.int64)),
        "split 'test' has no rows; every split needs at least one example."),
    "row_shapes_differ": (
        dict(x_test=RNG.random((12, 16)).astype(np.float32)),
        "split 'test': x_test has rows of shape (16,) but x_train has (4, 4, 1); every "
        "split needs the same row shape."),
    "labels_n_by_1_in_one_split": (
        dict(y_test=(np.arange(12) % 10)[:, None]),
        "split 'test': y_test has rows of shape (1,) but y_train has (); every split "
        "needs the same row shape."),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_bad_npz_arrays_are_one_clear_data_error(case, tmp_path):
  changes, message = BAD_NPZ[case]
  path = write_npz(tmp_path, **changes)
  with pytest.raises(data.DataError, match=re.escape(f"{path}, {message}")):
    data.load(npz_config(path))


def test_files_that_are_not_npz_archives_are_data_errors(tmp_path):
  text = tmp_path / "notes.npz"
  text.write_text("x,y\n1,2\n")
  with pytest.raises(data.DataError, match=re.escape(
      f"{text} is not an .npz archive of named arrays (not a zip archive; it starts "
      "with b'x,y\\n1,2\\n'). Save the arrays with np.savez(path, x_train=..., "
      "y_train=..., x_test=..., y_test=...) (numeric arrays only).")):
    data.load(npz_config(text))
  single = tmp_path / "one.npz"
  with open(single, "wb") as f:
    np.save(f, np.zeros(3))
  with pytest.raises(data.DataError, match=re.escape(
      f"{single} is not an .npz archive of named arrays (a single .npy array).")):
    data.load(npz_config(single))
  objects = tmp_path / "objects.npz"
  np.savez(objects, **{**good_arrays(), "y_test": np.array([{"a": 1}] * 12, object)})
  with pytest.raises(data.DataError, match=re.escape(
      f"{objects} has an array numpy cannot read without pickle or at all (numpy: "
      "Object arrays cannot be loaded when allow_pickle=False)")):
    data.load(npz_config(objects))


def test_whole_number_float_labels_are_cast_to_integers(tmp_path):
  path = write_npz(tmp_path, y_train=(np.arange(40) % 10).astype(np.float64))
  splits = data.load(npz_config(path))
  assert splits["train"]["targets"].dtype == np.int32
  assert splits["train"]["targets"][:12].tolist() == list(range(10)) + [0, 1]


def test_regression_targets_and_binary_columns_are_left_alone(tmp_path):
  # N x 1 integer targets are valid 0/1 targets of the sigmoid losses; N x K float
  # targets are regression targets: neither is read as class labels.
  path = write_npz(tmp_path, y_train=(np.arange(40) % 2)[:, None],
                   y_test=(np.arange(12) % 2)[:, None])
  assert data.load(npz_config(path))["train"]["targets"].shape == (40, 1)
  path = write_npz(tmp_path, y_train=RNG.normal(size=(40, 2)) - 5,
                   y_test=RNG.normal(size=(12, 2)))
  assert data.load(npz_config(path))["train"]["targets"].min() < 0


def test_ignore_label_allows_exactly_that_negative_label(tmp_path):
  labels = np.arange(40) % 10
  labels[:3] = -1
  path = write_npz(tmp_path, y_train=labels)
  splits = data.load(npz_config(path, ignore_label=-1))
  # one label per row: the ignored rows are left out, so every mean is exact
  np.testing.assert_array_equal(splits["train"]["targets"], labels[3:])
  assert len(splits["train"]["inputs"]) == 37
  labels[0] = -2
  path = write_npz(tmp_path, y_train=labels)
  with pytest.raises(data.DataError, match=re.escape(
      "y_train holds the negative class label -2 in 1 row(s), the first at row 0. "
      "Only data.ignore_label=-1 may be negative; relabel the others 0..C-1.")):
    data.load(npz_config(path, ignore_label=-1))
  with pytest.raises(ConfigError, match=re.escape(
      "config.data.ignore_label must be a negative integer (rows labelled with it are "
      "left out), got 255; relabel the rows to ignore with -1 and set "
      "--config.data.ignore_label=-1.")):
    data.load(npz_config(path, ignore_label=255))


def test_inline_data_is_checked_like_files():
  cfg = experiments.get_config("linreg_seed").data
  cfg.inline.test.inputs = [[2.0], [float("nan")], [6.0], [8.0]]
  with pytest.raises(data.DataError, match=re.escape(
      "config.data.inline, split 'test': test.inputs has 1 non-finite value(s)")):
    data.load(cfg)


def test_too_few_rows_for_one_batch_says_how_many_fit(tmp_path):
  path = write_npz(tmp_path, x_train=RNG.random((5, 4, 4, 1)), y_train=np.arange(5),
                   y_test=np.arange(12) % 5)
  splits = data.load(npz_config(path))
  with pytest.raises(ConfigError, match=re.escape(
      "batch_size 16 is larger than the training split (5 examples), so not one batch "
      "fits; lower --config.batch_size to at most 5 or give more training data.")):
    data.TrainBatches(splits["train"], 16, seed=0)
  with pytest.raises(data.DataError, match=re.escape(
      "data.dev_fraction=0.05 leaves 0 of 5 training examples for dev")):
    data.load(npz_config(path, dev_fraction=0.05))


def _state(model, inputs):
  variables = model.init(jax.random.key(0), inputs[:1], train=False)
  return {"params": variables["params"],
          "model_state": {k: v for k, v in variables.items() if k != "params"}}


def test_model_outputs_are_checked_against_every_split():
  model = models.get("lenet5", num_outputs=10)
  inputs = np.zeros((2, 28, 28, 1), np.float32)
  splits = {"train": {"targets": np.arange(8) % 10},
            "test": {"targets": np.array([0, 12, 3])}}
  with pytest.raises(ConfigError, match=re.escape(
      "the model emits 10 outputs per example but the labels go up to 12 (split(s) "
      "test); set the model's number of outputs to 13 "
      "(--config.model.num_outputs=13), or relabel the data 0..9.")):
    sanity.check_outputs_fit_labels(model, _state(model, inputs), {"inputs": inputs},
                                    splits)
  # An embedding net's outputs are not class scores: labels above embed_dim are fine.
  embed = models.get("embedding_net", embed_dim=2, widths=(4,), hidden=(8,))
  sanity.check_outputs_fit_labels(embed, _state(embed, inputs), {"inputs": inputs},
                                  splits)


def test_n_by_1_labels_for_a_class_label_loss_say_how_to_fix_them():
  model = models.get("mlp", num_outputs=3, hidden=(4,))
  sample = {"inputs": np.zeros((4, 2), np.float32),
            "targets": np.array([[0], [1], [2], [1]])}
  cfg_loss = experiments.get_config("digits_mlp").loss
  with pytest.raises(ConfigError, match=re.escape(
      "The targets are integers of shape (N, 1); class labels need shape (N,): save "
      "them as a 1-D array (y.ravel()).")):
    sanity.check_loss_fits(model, _state(model, sample["inputs"]), sample,
                           objective.loss_from_config(cfg_loss), cfg_loss)


def test_tfds_mock_data_is_announced_in_the_log(tmp_path, caplog):
  cfg = experiments.get_config("mnist_lenet").data
  cfg.data_dir = str(tmp_path)
  with caplog.at_level(logging.WARNING), tfds.testing.mock_data(
      num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
    data.load(cfg)
  assert ("TFDS dataset 'mnist' split 'train' is tfds.testing.mock_data: 6 random "
          "examples, not the real data; its metrics mean nothing.") in caplog.text
