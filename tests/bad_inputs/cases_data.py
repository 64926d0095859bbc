"""Bad inputs: data files (rows of docs/bad-inputs.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from nn_lib import data, models
from nn_lib.data import DataError
from nn_lib.registry import ConfigError
from nn_lib.training import objective, sanity
from tests.bad_inputs._case import Case, tmp
from tests.bad_inputs.cases_config import _cfg, _model_state  # shared helpers
from tests.test_data_validation import good_arrays, npz_config

# --- data files ----------------------------------------------------------------------

def _npz(drop: tuple[str, ...] = (), cfg: dict[str, Any] | None = None,
         **changes: np.ndarray) -> Callable[[], Any]:
  """Loads a small .npz of good arrays with `changes` (and without `drop`)."""
  def load():
    path = tmp() / "mine.npz"
    arrays = {k: v for k, v in {**good_arrays(), **changes}.items() if k not in drop}
    np.savez(path, **arrays)
    return data.load(npz_config(path, **(cfg or {})))
  return load


def _load_file(write: Callable[[Path], None], **cfg: Any) -> Callable[[], Any]:
  def load():
    path = tmp() / "mine.npz"
    write(path)
    return data.load(npz_config(path, **cfg))
  return load


def _with_nan(x: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
  x = x.copy()
  x[index] = np.nan
  return x


def _batch_too_large() -> None:
  splits = _npz(x_train=np.zeros((5, 4, 4, 1), np.float32), y_train=np.arange(5),
                y_test=np.arange(12) % 5)()
  data.TrainBatches(splits["train"], 16, seed=0)


def _labels_beyond_outputs() -> None:
  model = models.get("mlp", num_outputs=3, hidden=(4,))
  inputs = np.zeros((4, 2), np.float32)
  sanity.check_outputs_fit_labels(model, _model_state(model, inputs), {"inputs": inputs},
                                  {"train": {"targets": np.array([0, 1, 2, 5])}})


def _n_by_1_class_labels() -> None:
  cfg_loss = _cfg({}).loss
  model = models.get("mlp", num_outputs=3, hidden=(4,))
  sample = {"inputs": np.zeros((4, 2), np.float32),
            "targets": np.array([[0], [1], [2], [1]])}
  sanity.check_loss_fits(model, _model_state(model, sample["inputs"]), sample,
                         objective.loss_from_config(cfg_loss), cfg_loss)


def _text_file(path: Path) -> None:
  path.write_text("x,y\n1,2\n")


def _npy_file(path: Path) -> None:
  with open(path, "wb") as f:
    np.save(f, np.zeros(3))


DATA = "data"
_GOOD_Y = np.arange(40) % 10
CASES: list[Case] = [
    Case(DATA, "NaN in `x_test`", _npz(x_test=_with_nan(good_arrays()["x_test"],
                                                        (3, 1, 2, 0))), DataError,
         "split 'test': x_test has 1 non-finite value(s) (NaN, Inf or beyond float32's "
         "3.4e+38) in 1 row(s); the first is in row 3 (index (3, 1, 2, 0), value nan). "
         "Remove or impute those rows: one NaN makes the loss NaN."),
    Case(DATA, "float64 targets beyond float32's range (`1e300`)",
         _npz(x_train=np.zeros((40, 3)), y_train=np.full((40, 1), 1e300),
              x_test=np.zeros((12, 3)), y_test=np.ones((12, 1))), DataError,
         "split 'train': y_train has 40 non-finite value(s) (NaN, Inf or beyond "
         "float32's 3.4e+38) in 40 row(s); the first is in row 0 (index (0, 0), value "
         "1e+300)."),
    Case(DATA, "label 99 in `y_test` (training labels 0..9)",
         _npz(y_test=np.array([0, 1, 99] + [2] * 9)), DataError,
         "split 'test': y_test holds class label 99 (row 2) but the training labels "
         "(y_train) go up to 9: a class the model never trains on. Use one label "
         "encoding 0..C-1 in every split, with every class present in training."),
    Case(DATA, "label -1 in `y_train` (no `data.ignore_label`)", _npz(y_train=_GOOD_Y - 1),
         DataError, "split 'train': y_train holds the negative class label -1 in 4 "
         "row(s), the first at row 0. If -1 marks examples to leave out of the loss, set "
         "--config.data.ignore_label=-1; otherwise relabel them 0..C-1."),
    Case(DATA, "label -2 in `y_train` with `data.ignore_label=-1`",
         _npz(y_train=np.where(_GOOD_Y == 0, -2, _GOOD_Y), cfg={"ignore_label": -1}),
         DataError, "split 'train': y_train holds the negative class label -2 in 4 "
         "row(s), the first at row 0. Only data.ignore_label=-1 may be negative; relabel "
         "the others 0..C-1."),
    Case(DATA, "`data.ignore_label=255` (not negative)", _npz(cfg={"ignore_label": 255}),
         ConfigError, "config.data.ignore_label must be a negative integer (rows "
         "labelled with it are left out), got 255; relabel the rows to ignore with -1 and "
         "set --config.data.ignore_label=-1."),
    Case(DATA, "string labels (`'class0'`, ...)",
         _npz(y_train=np.array([f"class{i % 10}" for i in range(40)])), DataError,
         "split 'train': y_train holds strings (e.g. 'class0' in row 0), not numbers. "
         "Class labels must be integers 0..C-1 (map names to indices, e.g. "
         "np.unique(y, return_inverse=True)[1]); inputs and regression targets must be "
         "int or float arrays."),
    Case(DATA, "string inputs in `x_test`", _npz(x_test=np.array([["a", "b"]] * 12)),
         DataError, "split 'test': x_test holds strings (e.g. 'a' in row 0), not numbers."),
    Case(DATA, "fractional float labels (`0.5`, 1-D)", _npz(y_train=_GOOD_Y + 0.5),
         DataError, "split 'train': y_train is 1-D, so it is read as one class label per "
         "row, but it holds 0.5 at row 0, not a whole number. Class labels must be "
         "integers 0..C-1; regression targets need shape (N, K) (y[:, None] for one)."),
    Case(DATA, "a text (CSV) file named `.npz`", _load_file(_text_file), DataError,
         "is not an .npz archive of named arrays (not a zip archive; it starts with "
         "b'x,y\\n1,2\\n'). Save the arrays with np.savez(path, x_train=..., "
         "y_train=..., x_test=..., y_test=...) (numeric arrays only)."),
    Case(DATA, "a single `.npy` array named `.npz`", _load_file(_npy_file), DataError,
         "is not an .npz archive of named arrays (a single .npy array)."),
    Case(DATA, "an object (pickled) array in the `.npz`",
         _npz(y_test=np.array([{"a": 1}] * 12, object)), DataError,
         "has an array numpy cannot read without pickle or at all (numpy: Object arrays "
         "cannot be loaded when allow_pickle=False)."),
    Case(DATA, "the `.npz` lacks `x_test`/`y_test`", _npz(drop=("x_test", "y_test")),
         DataError, "has no arrays 'x_test'/'y_test' for split 'test'; it holds "
         "['x_train', 'y_train']."),
    Case(DATA, "`data.path` that does not exist",
         lambda: data.load(npz_config(Path("/nonexistent/mine.npz"))), DataError,
         "npz data file '/nonexistent/mine.npz' does not exist. Set --config.data.path "
         "to a .npz file holding arrays x_train, y_train, x_test, y_test."),
    Case(DATA, "`data.source=npz` without `data.path`",
         lambda: data.load(_cfg({"data.source": "npz"}).data), DataError,
         "data.source=npz needs --config.data.path=/path/file.npz holding arrays "
         "x_train, y_train, x_test, y_test."),
    Case(DATA, "`data.name=npz:/x.npz` (the old form)",
         lambda: data.load(_cfg({"data.name": "npz:/x.npz"}).data), DataError,
         "data.name='npz:/x.npz' is the old form; use --config.data.source=npz "
         "--config.data.path=/x.npz"),
    Case(DATA, "`y_test` with one row fewer than `x_test`", _npz(y_test=np.arange(11) % 10),
         DataError, "split 'test': x_test has 12 rows but y_test has 11; they must match."),
    Case(DATA, "an empty test split",
         _npz(x_test=np.zeros((0, 4, 4, 1), np.float32), y_test=np.zeros(0, np.int64)),
         DataError, "split 'test' has no rows; every split needs at least one example."),
    Case(DATA, "`x_test` rows of another shape than `x_train`'s",
         _npz(x_test=np.zeros((12, 16), np.float32)), DataError,
         "split 'test': x_test has rows of shape (16,) but x_train has (4, 4, 1); every "
         "split needs the same row shape."),
    Case(DATA, "`y_test` of shape (N, 1), `y_train` of shape (N,)",
         _npz(y_test=(np.arange(12) % 10)[:, None]), DataError,
         "split 'test': y_test has rows of shape (1,) but y_train has (); every split "
         "needs the same row shape."),
    Case(DATA, "5 training rows for `batch_size=16`", _batch_too_large, ConfigError,
         "batch_size 16 is larger than the training split (5 examples), so not one batch "
         "fits; lower --config.batch_size to at most 5 or give more training data."),
    Case(DATA, "`data.dev_fraction=0.01` of 40 rows (no dev row)",
         _npz(cfg={"dev_fraction": 0.01}), DataError,
         "data.dev_fraction=0.01 leaves 0 of 40 training examples for dev; choose a "
         "fraction in (0, 1) that keeps both sets non-empty."),
    Case(DATA, "`data.source=csv` (unknown source)",
         lambda: data.load(_cfg({"data.source": "csv"}).data), ConfigError,
         "unknown data source 'csv'; valid: embedded, inline, npz, tfds"),
    Case(DATA, "`data.name=mnist` with `data.source=embedded`",
         lambda: data.load(_cfg({"data.name": "mnist"}).data), DataError,
         "'mnist' is not an embedded dataset (those are austen_text, blobs, circles, dates, "),
    Case(DATA, "`data.target_transform.name=onehot` (unknown transform)",
         _npz(cfg={"target_transform": {"name": "onehot"}}), ConfigError,
         "unknown target transform 'onehot'; valid: inputs, is_class, normalize, one_hot"),
    Case(DATA, "`data.target_transform={'name': 'is_class'}` without `label`",
         _npz(cfg={"target_transform": {"name": "is_class"}}), ConfigError,
         "data.target_transform {'name': 'is_class'}: is_class() missing 1 required "
         "keyword-only argument: 'label'"),
    Case(DATA, "label 5 for a model with 3 outputs", _labels_beyond_outputs, ConfigError,
         "the model emits 3 outputs per example but the labels go up to 5 (split(s) "
         "train); set the model's number of outputs to 6 (--config.model.num_outputs=6), "
         "or relabel the data 0..2."),
    Case(DATA, "integer labels of shape (N, 1) for a class-label loss",
         _n_by_1_class_labels, ConfigError,
         "labels shape (4, 1) are incompatible: labels must have shape (4,) (logits "
         "without axis -1). The targets are integers of shape (N, 1); class labels need "
         "shape (N,): save them as a 1-D array (y.ravel())."),
    Case(DATA, "`data.train_split=validation` (embedded digits has train, test)",
         lambda: data.load(_cfg({"data.train_split": "validation"}).data), DataError,
         "config.data.train_split='validation' is not a split of embedded dataset "
         "'digits' (TFDS: Unknown split 'validation'. Should be one of ['train', "
         "'test'].); its splits are ['train', 'test']: set --config.data.train_split to "
         "one of them (TFDS slices such as 'train[:80%]' work too)."),
    Case(DATA, "`data.target_transform={'name': 'one_hot', 'num_classes': 3}` on labels "
         "0..9", _npz(cfg={"target_transform": {"name": "one_hot", "num_classes": 3}}),
         DataError, "split 'train': target_transform 'one_hot' has num_classes=3 but the "
         "labels go up to 9; num_classes must be at least 10: set "
         "--config.data.target_transform.num_classes=10."),
]
