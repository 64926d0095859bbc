"""The bad-input table of docs/bad-inputs.md, kept true.

Every row of that table is a `Case` below: a bad input a user can give, a
zero-argument callable that gives it in-process, and the error it gets today
(exception type and the stable part of its message), or, for inputs that are no
exception (a damaged checkpoint, a train.py exit), the outcome. The tests run every
case and check that the doc holds exactly the table generated from the cases, so
neither can drift from the code.

  python -m tests.test_bad_inputs --write    # rewrites the doc's table section
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
import shutil
import sys
import tempfile
import types
import unittest.mock
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

import experiments
import losses
import studies
from nn_lib import config as config_lib
from nn_lib import data, metrics, models, trainers
from nn_lib.data import DataError
from nn_lib.registry import ConfigError
from nn_lib.trainers import knn
from nn_lib.training import CheckpointWriteError, WorkdirError, objective, optim, sanity
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer, read_latest, state_checksum
from tests.conftest import REPO, run_train
from tests.test_data_validation import good_arrays, npz_config

DOC = REPO / "docs" / "bad-inputs.md"
START, END = "<!-- table:start -->", "<!-- table:end -->"

# Where the cases write their files; the autouse fixture points it at tmp_path.
_TMP_ROOT: Path | None = None


@dataclasses.dataclass(frozen=True)
class Case:
  """One row of the table.

  `error` is the exception type `provoke()` raises (exactly that type), or, for an
  input that is no exception, the name of its outcome: then `provoke()` returns
  (outcome, text) and the outcome must equal `error`. `message` must occur in the
  exception's message (or the text), compared with whitespace collapsed, so that a
  multi-line message fits one table cell.
  """
  area: str
  bad_input: str
  provoke: Callable[[], Any]
  error: type[BaseException] | str
  message: str


def _tmp() -> Path:
  return Path(tempfile.mkdtemp(dir=_TMP_ROOT))


def _squash(text: str) -> str:
  return " ".join(text.split())


# --- flags / CLI ---------------------------------------------------------------------

def _train(*args: str) -> tuple[str, str]:
  """train.py's exit status and stderr (both cases exit while parsing flags, in
  well under a second: nothing is imported beyond the experiment's config)."""
  proc = run_train(*args, f"--workdir={_tmp() / 'w'}", check=False, timeout=120)
  return f"exit status {proc.returncode}", proc.stderr


CLI = "flags / CLI"
CASES: list[Case] = [
    Case(CLI, "`--experiment=digitz_mlp` (no such experiment)",
         lambda: experiments.get_config("digitz_mlp"), ValueError,
         "unknown experiment 'digitz_mlp'; valid experiments: autoencoder_bce, "),
    Case(CLI, "`--experiment=digits_mlp:smok` (no such variant)",
         lambda: experiments.get_config("digits_mlp:smok"), ValueError,
         "unknown variant 'smok' of digits_mlp; valid: smoke"),
    Case(CLI, "`--experimnt=digits_mlp` (a mistyped flag)",
         lambda: _train("--experimnt=digits_mlp"), "exit status 1",
         "FATAL Flags parsing error: Unknown command line flag 'experimnt'. Did you "
         "mean: experiment ?"),
    Case(CLI, "`--config.optimizer.learnig_rate=0.1` (a mistyped config key)",
         lambda: _train("--experiment=digits_mlp:smoke",
                        "--config.optimizer.learnig_rate=0.1"), "exit status 1",
         "error: unknown config key --config.optimizer.learnig_rate: config.optimizer "
         "has no key 'learnig_rate'. Did you mean \"learning_rate\" instead of "
         "\"learnig_rate\"?"),
]


# --- config values -------------------------------------------------------------------

def _cfg(updates: dict[str, Any], spec: str = "digits_mlp:smoke"):
  """The config of `spec` with dotted keys replaced (as --config.KEY=VALUE would)."""
  return config_lib.derive(experiments.get_config(spec), **updates)


def _validate(updates: dict[str, Any]) -> Callable[[], None]:
  return lambda: config_lib.validate_training(_cfg(updates))


def _indivisible_batch() -> None:
  # One device divides every batch: 8 devices are simulated for the check only.
  with unittest.mock.patch.object(jax, "device_count", return_value=8):
    config_lib.validate_training(_cfg({"batch_size": 12}))


def _model_state(model, inputs: np.ndarray) -> dict:
  variables = model.init(jax.random.key(0), inputs[:1], train=False)
  return {"params": variables["params"],
          "model_state": {k: v for k, v in variables.items() if k != "params"}}


def _loss_hyperparameter_typo() -> None:
  cfg_loss = _cfg({"loss": {"name": "multiclass_hinge", "margn": 1.0}}).loss
  model = models.get("mlp", num_outputs=3, hidden=(4,))
  sample = {"inputs": np.zeros((4, 2), np.float32), "targets": np.array([0, 1, 2, 1])}
  sanity.check_loss_fits(model, _model_state(model, sample["inputs"]), sample,
                         objective.loss_from_config(cfg_loss), cfg_loss)


def _knn(updates: dict[str, Any]) -> Callable[[], None]:
  # the kNN trainer's own checks, without loading data or fitting anything
  validate = knn._validate  # pylint: disable=protected-access
  return lambda: validate(_cfg(updates, "knn_digits:smoke"))


def _resume_changed() -> None:
  workdir = _tmp()
  workdir_lib.prepare(_cfg({}), workdir)
  (workdir / "checkpoints" / "6").mkdir(parents=True)  # as a run leaves it
  workdir_lib.prepare(_cfg({"optimizer.learning_rate": 0.01}), workdir)


CFG = "config"
CASES += [
    Case(CFG, "`num_steps=0`", _validate({"num_steps": 0}), ConfigError,
         "config.num_steps must be a positive integer, got 0"),
    Case(CFG, "`keep_checkpoints=0`", _validate({"keep_checkpoints": 0}), ConfigError,
         "config.keep_checkpoints must be a positive integer, got 0"),
    Case(CFG, "`batch_size=12` on 8 devices", _indivisible_batch, ConfigError,
         "config.batch_size=12 is not divisible by the 8 devices of the data mesh; use "
         "a multiple of 8 (e.g. 8)."),
    Case(CFG, "`batch_size=2.5` set on the config in Python",
         _validate({"batch_size": 2.5}), TypeError,
         "Could not override field 'batch_size' (reference). 2.5 is of original type "
         "<class 'float'> and cannot be casted to type <class 'int'>"),
    Case(CFG, "`optimizer.learning_rate=0`", _validate({"optimizer.learning_rate": 0.0}),
         ConfigError, "config.optimizer.learning_rate must be a positive number, got 0.0"),
    Case(CFG, "`optimizer.learning_rate=nan`",
         _validate({"optimizer.learning_rate": math.nan}), ConfigError,
         "config.optimizer.learning_rate must be a positive number, got nan"),
    Case(CFG, "`optimizer.learning_rate=1e39` (Inf in float32)",
         _validate({"optimizer.learning_rate": 1e39}), ConfigError,
         "config.optimizer.learning_rate=1e+39 is not finite in float32 (the largest "
         "float32 is 3.403e+38); use a learning rate such as 1e-3."),
    Case(CFG, "`eval_splits=('test', 'val')`", _validate({"eval_splits": ("test", "val")}),
         ConfigError, "config.eval_splits has unknown split(s) ['val']; valid: train, "
         "dev, test"),
    Case(CFG, "`data.dev_fraction=1.0`", _validate({"data.dev_fraction": 1.0}),
         ConfigError, "config.data.dev_fraction must be in [0, 1), got 1.0"),
    Case(CFG, "`data.dev_fraction=-0.1`", _validate({"data.dev_fraction": -0.1}),
         ConfigError, "config.data.dev_fraction must be in [0, 1), got -0.1"),
    Case(CFG, "`eval_splits` has `dev` but `data.dev_fraction=0`",
         _validate({"eval_splits": ("dev", "test")}), ConfigError,
         "config.eval_splits asks for 'dev' but config.data.dev_fraction is 0; set a "
         "fraction of the training split to hold out."),
    Case(CFG, "`regularizer.l2=-0.1`", _validate({"regularizer.l2": -0.1}), ConfigError,
         "config.regularizer.l2 must be a number >= 0, got -0.1"),
    Case(CFG, "`loss.name=''`", _validate({"loss.name": ""}), ConfigError,
         "config.loss.name is not set"),
    Case(CFG, "`model.name=mlpp` (unknown model)",
         lambda: models.get("mlpp", num_outputs=10), ConfigError,
         "unknown model 'mlpp'; valid: conv_autoencoder, "),
    Case(CFG, "`model.hiden=(64,)` (a hyperparameter the model lacks)",
         lambda: models.get("mlp", num_outputs=10, hiden=(64,)), ConfigError,
         "model 'mlp' has no hyperparameter(s) ['hiden']; valid: ['num_outputs', "
         "'hidden', "),
    Case(CFG, "`model.hidden=(64, -3)`",
         lambda: models.get("mlp", num_outputs=10, hidden=(64, -3)), ConfigError,
         "config.model.hidden=(64, -3): model 'mlp' needs positive integer sizes, got -3 "
         "(entry 1); set --config.model.hidden to positive integers, e.g. (64, 32)."),
    Case(CFG, "`model.num_outputs=0`", lambda: models.get("lenet5", num_outputs=0),
         ConfigError, "config.model.num_outputs=0: model 'lenet5' needs positive integer "
         "sizes, got 0; set --config.model.num_outputs to a positive integer."),
    Case(CFG, "`loss.name=cross_entropy` (unknown loss)",
         lambda: objective.loss_from_config({"name": "cross_entropy"}), ConfigError,
         "unknown loss 'cross_entropy'; valid: absolute_error, "),
    Case(CFG, "`loss.margn=1.0` (a hyperparameter the loss lacks)",
         _loss_hyperparameter_typo, ConfigError,
         "config.loss {'margn': 1.0, 'name': 'multiclass_hinge'} does not fit this model "
         "and data: multiclass_hinge() got an unexpected keyword argument 'margn'"),
    Case(CFG, "`optimizer.name=adamm` (unknown optimizer)",
         lambda: optim.make_optimizer(_cfg({"optimizer.name": "adamm"})), ConfigError,
         "unknown optimizer 'adamm'; valid: adabelief, "),
    Case(CFG, "`optimizer.betas=0.9` (an argument adam lacks)",
         lambda: optim.make_optimizer(_cfg({"optimizer": {
             "name": "adam", "learning_rate": 1e-3, "betas": 0.9}})), ConfigError,
         "optimizer 'adam' does not take ['betas']; it takes ['b1', 'b2', "),
    Case(CFG, "`schedule.name=step` (unknown schedule)",
         lambda: optim.make_optimizer(_cfg({"schedule": {"name": "step"}})), ConfigError,
         "unknown schedule 'step'; valid: constant, cosine, exponential, linear"),
    Case(CFG, "`schedule.warmup_steps` >= `num_steps` (cosine)",
         lambda: optim.make_optimizer(_cfg({"schedule.warmup_steps": 6})), ConfigError,
         "schedule.warmup_steps=6 must be in [0, num_steps=6)."),
    Case(CFG, "`metrics=('acc',)` (unknown metric)", lambda: metrics.get("acc"),
         ConfigError, "unknown metric 'acc'; valid: accuracy, binary_accuracy, "),
    Case(CFG, "`trainer=rl` (unknown trainer)", lambda: trainers.get("rl"), ConfigError,
         "unknown trainer 'rl'; valid: knn, supervised"),
    Case(CFG, "`study=grid` (unknown study)", lambda: studies.STUDIES.get("grid"),
         ConfigError, "unknown study 'grid'; valid: compare, polyfit_orders"),
    Case(CFG, "`knn.distance=cosine`",
         _knn({"knn.distance": "cosine"}),
         ConfigError, "config.knn.distance must be one of ('l1', 'l2'), got 'cosine'"),
    Case(CFG, "`knn.k_grid=(0, 3)`",
         _knn({"knn.k_grid": (0, 3)}),
         ConfigError, "config.knn.k_grid must hold positive integers, got (0, 3)"),
    Case(CFG, "resuming a workdir with another `optimizer.learning_rate`",
         _resume_changed, ConfigError,
         "holds a run with a different config, so its checkpoints cannot be resumed: "
         "optimizer.learning_rate: 0.001 -> 0.01 Use a new --workdir, or move that "
         "directory away to start over (nothing is deleted automatically)."),
    Case(CFG, "`config_lib.derive` with a key the config lacks (studies)",
         lambda: config_lib.derive(_cfg({}), **{"loss.nme": "x"}), ConfigError,
         "cannot derive a config: it has no key 'loss.nme'"),
    Case(CFG, "`model.activation=relux` (unknown activation)",
         lambda: models.get("mlp", num_outputs=10, activation="relux"), ConfigError,
         "config.model.activation='relux' (model 'mlp'): unknown activation 'relux'; "
         "valid: gelu, identity, leaky_relu, relu, sigmoid, softmax, softplus, tanh or "
         "leaky_relu(alpha); set --config.model.activation to one of them."),
    Case(CFG, "`model.kernel_init=foo` (unknown initializer)",
         lambda: models.get("mlp", num_outputs=10, kernel_init="foo"), ConfigError,
         "config.model.kernel_init='foo' (model 'mlp'): unknown initializer 'foo'; valid: "
         "he, he_normal, "),
    Case(CFG, "`model.dropout=1.5`",
         lambda: models.get("mlp", num_outputs=10, dropout=1.5), ConfigError,
         "config.model.dropout=1.5 (model 'mlp') must be a number in [0, 1): the fraction "
         "of units dropped in training (0 = no dropout); set --config.model.dropout to "
         "e.g. 0.1."),
    Case(CFG, "`data.split_seed=-1` with `data.dev_fraction=0.1`",
         _validate({"data.split_seed": -1, "data.dev_fraction": 0.1}), ConfigError,
         "config.data.split_seed must be a non-negative integer, got -1; set "
         "--config.data.split_seed to e.g. 0."),
    Case(CFG, "`eval_splits=()` (nothing to evaluate)", _validate({"eval_splits": ()}),
         ConfigError, "config.eval_splits is empty, so no split would be evaluated and "
         "the run would report no metric; name at least one of train, dev, test, e.g. "
         "--config.eval_splits=\"('test',)\"."),
    Case(CFG, "`optimizer.clip_norm=-1`",
         _validate({"optimizer": {"name": "adam", "learning_rate": 1e-3,
                                  "clip_norm": -1.0}}), ConfigError,
         "config.optimizer.clip_norm must be a positive number (the largest gradient norm "
         "kept) or None for no clipping, got -1.0; set e.g. "
         "--config.optimizer.clip_norm=1.0."),
    Case(CFG, "`optimizer.momentum=-1` (sgd)",
         _validate({"optimizer": {"name": "sgd", "learning_rate": 0.1,
                                  "momentum": -1.0}}), ConfigError,
         "config.optimizer.momentum must be in [0, 1), got -1.0 (optimizer 'sgd'); set "
         "e.g. --config.optimizer.momentum=0.9."),
    Case(CFG, "`optimizer.weight_decay=-1e-4` (adamw)",
         _validate({"optimizer": {"name": "adamw", "learning_rate": 1e-3,
                                  "weight_decay": -1e-4}}), ConfigError,
         "config.optimizer.weight_decay must be a number >= 0 (a negative one grows the "
         "weights), got -0.0001; set e.g. --config.optimizer.weight_decay=1e-4."),
    Case(CFG, "`schedule.warmup_steps=-1`", _validate({"schedule.warmup_steps": -1}),
         ConfigError, "config.schedule.warmup_steps=-1 must be an integer in [0, "
         "num_steps=6); set --config.schedule.warmup_steps below config.num_steps (0 = no "
         "warmup)."),
    Case(CFG, "`metrics=('mse',)` on a 10-class classifier",
         lambda: metrics.check_metrics_fit(jax.ShapeDtypeStruct((16, 10), jnp.float32),
                                           np.zeros(16, np.int32), ("mse",)), ConfigError,
         "config.metrics: metric 'mse' does not fit this model and data: the model "
         "outputs float32[16, 10] and the targets are int32[16] (mse: Operands could not "
         "be broadcast together for subtract on shapes (16, 10) (16,)); metrics that fit "
         "them: accuracy, f1_macro, f1_micro, precision_macro, recall_macro; set e.g. "
         "--config.metrics=\"('accuracy',)\"."),
]


# --- data files ----------------------------------------------------------------------

def _npz(drop: tuple[str, ...] = (), cfg: dict[str, Any] | None = None,
         **changes: np.ndarray) -> Callable[[], Any]:
  """Loads a small .npz of good arrays with `changes` (and without `drop`)."""
  def load():
    path = _tmp() / "mine.npz"
    arrays = {k: v for k, v in {**good_arrays(), **changes}.items() if k not in drop}
    np.savez(path, **arrays)
    return data.load(npz_config(path, **(cfg or {})))
  return load


def _load_file(write: Callable[[Path], None], **cfg: Any) -> Callable[[], Any]:
  def load():
    path = _tmp() / "mine.npz"
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
CASES += [
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
         "'mnist' is not an embedded dataset (those are blobs, circles, digits, "),
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


# --- workdir and checkpoints ---------------------------------------------------------

def _file_workdir(under: bool) -> None:
  file = _tmp() / "file"
  file.write_text("x")
  workdir_lib.make_workdir(file / "w" if under else file)


def _saved(steps: int) -> Path:
  """A workdir with checkpoints 1..steps, step s holding {"w": [s, s, s]}."""
  workdir = _tmp()
  checkpointer = Checkpointer(workdir, keep=steps)
  try:
    for step in range(1, steps + 1):
      checkpointer.save(step, {"w": jnp.full(3, float(step))})
  finally:
    checkpointer.close()
  return workdir


def _save_non_finite() -> None:
  checkpointer = Checkpointer(_tmp(), keep=2)
  try:
    checkpointer.save(1, {"w": jnp.array([1.0, jnp.nan])})
  finally:
    checkpointer.close()


def _disk_full() -> None:
  workdir = _saved(1)
  checkpointer = Checkpointer(workdir, keep=2)
  try:
    # the free-space check reads only .free: 10 bytes is a disk that is full
    with unittest.mock.patch.object(shutil, "disk_usage",
                                    return_value=types.SimpleNamespace(free=10)):
      checkpointer.save(2, {"w": jnp.ones(3)})
  finally:
    checkpointer.close()


class _Warnings(logging.Handler):
  def __init__(self):
    super().__init__(logging.WARNING)
    self.messages: list[str] = []

  def emit(self, record: logging.LogRecord) -> None:
    self.messages.append(record.getMessage())


def _restore_after(damage: Callable[[Path], None], steps: int = 2) -> tuple[str, str]:
  """Damages the newest of `steps` checkpoints, restores; (outcome, what was logged)."""
  workdir = _saved(steps)
  damage(workdir / "checkpoints" / str(steps))
  warnings, absl_logger = _Warnings(), logging.getLogger("absl")
  absl_logger.addHandler(warnings)
  checkpointer = Checkpointer(workdir, keep=steps)
  try:
    state = checkpointer.restore_latest({"w": jnp.zeros(3)})
  finally:
    checkpointer.close()
    absl_logger.removeHandler(warnings)
  moved = (workdir / "checkpoints_damaged").exists()
  used = "fresh start" if state is None else f"step {int(state['w'][0])} used"
  logged = " ".join(m for m in warnings.messages if m.startswith("checkpoint at step"))
  logged = re.sub(r"(checkpoints_damaged/\d+)-\d{8}-\d{6}", r"\1-<time>",
                  logged.replace(str(workdir), "<workdir>"))
  return f"{'moved aside' if moved else 'kept'}, {used}", logged


def _truncate_data(step_dir: Path) -> None:
  for file in step_dir.rglob("*"):
    if file.is_file() and file.parent.name == "d":  # tensorstore's data files
      file.write_bytes(b"")


def _resave(step_dir: Path, state: dict, checksum_of: dict) -> None:
  """Rewrites the step as a valid orbax checkpoint of `state` carrying the checksum
  of `checksum_of` (what a disk that changed bits, or a NaN written, looks like)."""
  step = int(step_dir.name)
  shutil.rmtree(step_dir)
  checksum = [int(c) for c in jax.tree.leaves(state_checksum(checksum_of))]
  with ocp.CheckpointManager(step_dir.parent) as manager:
    manager.save(step, args=ocp.args.StandardSave(state),
                 custom_metadata={"nn_lib_state_checksum": checksum})


def _bits_changed(step_dir: Path) -> None:
  _resave(step_dir, {"w": jnp.full(3, 2.5)}, {"w": jnp.full(3, 2.0)})


def _nan_written(step_dir: Path) -> None:
  nan = {"w": jnp.full(3, jnp.nan)}
  _resave(step_dir, nan, nan)


CKPT = "workdir / checkpoints"
_MOVED = ("; kept it at <workdir>/checkpoints_damaged/2-<time> and trying the previous "
          "one.")
CASES += [
    Case(CKPT, "`--workdir` that is a file", lambda: _file_workdir(under=False),
         WorkdirError, "exists and is a file, not a directory; choose another --workdir."),
    Case(CKPT, "`--workdir` under a file", lambda: _file_workdir(under=True),
         WorkdirError, "cannot be created: a part of its path is a file, not a "
         "directory; choose another --workdir."),
    Case(CKPT, "saving a state holding NaN", _save_non_finite, FloatingPointError,
         "refusing to checkpoint a non-finite state at step 1"),
    Case(CKPT, "saving a checkpoint on a full disk", _disk_full, CheckpointWriteError,
         "(OSError: [Errno 28] No space left on device: 10 bytes free, the checkpoint "
         "needs about 1048588). The earlier checkpoints [1] are intact. Free disk space "
         "(or fix the permissions) and re-run the same command to resume from the newest "
         "of them."),
    Case(CKPT, "`read_latest` on a workdir without checkpoints",
         lambda: read_latest(_tmp()), FileNotFoundError, "no checkpoint in "),
    Case(CKPT, "newest checkpoint's data files truncated",
         lambda: _restore_after(_truncate_data), "moved aside, step 1 used",
         "checkpoint at step 2 cannot be used (ValueError: OUT_OF_RANGE: Error opening "
         "\"zarr\" driver"),
    Case(CKPT, "newest checkpoint's `_CHECKPOINT_METADATA` deleted",
         lambda: _restore_after(lambda step: (step / "_CHECKPOINT_METADATA").unlink()),
         "moved aside, step 1 used",
         "checkpoint at step 2 cannot be used (DamagedCheckpointError: it has no checksum "
         "(written by an older version, or its metadata is damaged))" + _MOVED),
    Case(CKPT, "newest checkpoint's values changed after writing",
         lambda: _restore_after(_bits_changed), "moved aside, step 1 used",
         "checkpoint at step 2 cannot be used (DamagedCheckpointError: its contents do "
         "not match the checksum written with it (1 of 1 arrays differ))" + _MOVED),
    Case(CKPT, "newest checkpoint holds NaN (with a matching checksum)",
         lambda: _restore_after(_nan_written), "moved aside, step 1 used",
         "checkpoint at step 2 cannot be used (DamagedCheckpointError: it holds NaN or "
         "Inf values)" + _MOVED),
    Case(CKPT, "the only checkpoint damaged (`_CHECKPOINT_METADATA` deleted)",
         lambda: _restore_after(lambda step: (step / "_CHECKPOINT_METADATA").unlink(),
                                steps=1), "moved aside, fresh start",
         "checkpoint at step 1 cannot be used (DamagedCheckpointError: it has no checksum"),
]


# --- the losses library --------------------------------------------------------------

_Z = jnp.zeros((3, 4))            # logits: 3 examples, 4 classes
_Y = jnp.array([0, 1, 2])         # their integer labels
_SEG = jnp.zeros((1, 2, 2, 3))    # a 2x2 image with 3 classes
_EMB = jnp.zeros((2, 3))          # 2 embeddings of size 3
SCE, SCEI = losses.softmax_cross_entropy, losses.softmax_cross_entropy_with_integer_labels

LOSS = "losses"
CASES += [
    Case(LOSS, "integer logits", lambda: SCE(_Z.astype(jnp.int32), _Z), ValueError,
         "softmax_cross_entropy: logits must be floating point, got dtype int32 with "
         "shape (3, 4)."),
    Case(LOSS, "float labels for an integer-label loss",
         lambda: SCEI(_Z, _Y.astype(jnp.float32)), ValueError,
         "softmax_cross_entropy_with_integer_labels: labels must be integer class "
         "indices, got dtype float32 with shape (3,)."),
    Case(LOSS, "label 4 with 4 classes (concrete labels)",
         lambda: SCEI(_Z, jnp.array([0, 4, 1])), ValueError,
         "softmax_cross_entropy_with_integer_labels: labels contain 4 but there are only "
         "4 classes (valid labels are 0..3; negative labels mean 'ignore')."),
    Case(LOSS, "labels of shape (3, 1) for logits (3, 4)",
         lambda: SCEI(_Z, _Y[:, None]), ValueError,
         "softmax_cross_entropy_with_integer_labels: logits shape (3, 4) and labels shape "
         "(3, 1) are incompatible: labels must have shape (3,) (logits without axis -1)."),
    Case(LOSS, "rank-0 probabilities (`nll`)", lambda: losses.nll(jnp.array(0.5),
                                                                  jnp.array(0)),
         ValueError, "nll: probs must have rank >= 1, got shape ()."),
    Case(LOSS, "`axis=5` for rank-2 logits", lambda: SCE(_Z, _Z, axis=5), ValueError,
         "softmax_cross_entropy: axis 5 out of range for rank 2."),
    Case(LOSS, "`axis=(1, 1)`", lambda: SCE(_Z, _Z, axis=(1, 1)), ValueError,
         "softmax_cross_entropy: axis (1, 1) names an axis twice."),
    Case(LOSS, "`axis=1.5`", lambda: SCE(_Z, _Z, axis=1.5), ValueError,
         "softmax_cross_entropy: axis must be an int or a non-empty tuple of ints, got "
         "1.5."),
    Case(LOSS, "predictions (4,) and targets (4, 1)",
         lambda: losses.squared_error(jnp.zeros(4), jnp.zeros((4, 1))), ValueError,
         "squared_error: predictions shape (4,) and targets shape (4, 1) must be equal "
         "(no implicit broadcasting)."),
    Case(LOSS, "logits (3, 4) and target probabilities (3, 5)",
         lambda: losses.kl_divergence(_Z, jnp.zeros((3, 5))), ValueError,
         "kl_divergence: logits shape (3, 4) and target_probs shape (3, 5) must be equal "
         "(no implicit broadcasting)."),
    Case(LOSS, "complex targets",
         lambda: losses.squared_error(jnp.zeros(4), jnp.zeros(4, jnp.complex64)),
         ValueError, "squared_error: targets must be real, got dtype complex64."),
    Case(LOSS, "a `where` mask that would enlarge the output",
         lambda: losses.squared_error(jnp.zeros(4), jnp.zeros(4),
                                      where=jnp.ones((4, 2), bool)), ValueError,
         "squared_error: where shape (4, 2) does not broadcast to the per-example loss "
         "shape (4,)."),
    Case(LOSS, "`weights` that would enlarge the output",
         lambda: losses.squared_error(jnp.zeros(4), jnp.zeros(4),
                                      weights=jnp.ones((2, 4))), ValueError,
         "squared_error: weights shape (2, 4) does not broadcast to the per-example loss "
         "shape (4,)."),
    Case(LOSS, "`dice(from_logits=False)` with values outside [0, 1]",
         lambda: losses.dice(jnp.full((1, 2, 2, 3), 1.5), _SEG, from_logits=False,
                             mode="multilabel"), ValueError,
         "dice: from_logits=False expects probabilities in [0, 1], got values in [1.5, "
         "1.5]; pass logits with from_logits=True (the default) instead."),
    Case(LOSS, "`dice(from_logits=False, mode='multiclass')`, rows not summing to 1",
         lambda: losses.dice(jnp.full((1, 2, 2, 3), 0.5), _SEG, from_logits=False,
                             mode="multiclass"), ValueError,
         "dice: mode='multiclass' with from_logits=False expects probabilities that sum "
         "to 1 over the class axis (within 1.0e-05), got sums in [1.5, 1.5]"),
    Case(LOSS, "`dice(mode='x')`", lambda: losses.dice(_SEG, _SEG, mode="x"), ValueError,
         "dice: mode must be one of ('binary', 'multiclass', 'multilabel'), got 'x'."),
    Case(LOSS, "`dice(mode='binary', ignore_background=True)`",
         lambda: losses.dice(jnp.zeros((1, 2, 2)), jnp.zeros((1, 2, 2)), mode="binary",
                             ignore_background=True), ValueError,
         "dice: ignore_background=True drops class 0 of the class axis and needs mode "
         "'multiclass' or 'multilabel' with >= 2 classes (got mode 'binary' with 1 "
         "class(es))."),
    Case(LOSS, "`smooth_labels(alpha=1.5)`",
         lambda: losses.smooth_labels(jnp.eye(3), 1.5), ValueError,
         "smooth_labels: alpha must be in [0, 1], got 1.5."),
    Case(LOSS, "`smooth_labels(alpha=-0.1)`",
         lambda: losses.smooth_labels(jnp.eye(3), -0.1), ValueError,
         "smooth_labels: alpha must be in [0, 1], got -0.1."),
    Case(LOSS, "`poly_loss_cross_entropy(epsilon=<a vector>)`",
         lambda: losses.poly_loss_cross_entropy(_Z, jax.nn.softmax(_Z),
                                                epsilon=jnp.ones(2)), ValueError,
         "poly_loss_cross_entropy: epsilon must be a scalar, got shape (2,)."),
    Case(LOSS, "`ntxent(temperature=0)`",
         lambda: losses.ntxent(jnp.ones((4, 3)), jnp.array([0, 0, 1, 1]),
                               temperature=0.0), ValueError,
         "ntxent: temperature must be > 0, got 0.0."),
    Case(LOSS, "`cosine_distance(epsilon=-1)`",
         lambda: losses.cosine_distance(jnp.ones((4, 3)), jnp.ones((4, 3)), epsilon=-1.0),
         ValueError, "cosine_distance: epsilon must be >= 0, got -1.0."),
    Case(LOSS, "`triplet_margin(p=0)`",
         lambda: losses.triplet_margin(_EMB, _EMB, _EMB, p=0), ValueError,
         "triplet_margin: p must be >= 1, got 0."),
    Case(LOSS, "`triplet_margin(p=1, squared=True)`",
         lambda: losses.triplet_margin(_EMB, _EMB, _EMB, p=1, squared=True), ValueError,
         "triplet_margin: squared=True needs p=2, got p=1."),
    Case(LOSS, "`batch_hard_triplet` with 3 labels for 4 embeddings",
         lambda: losses.batch_hard_triplet(jnp.zeros((4, 3)), jnp.zeros(3, jnp.int32)),
         ValueError, "batch_hard_triplet: embeddings shape (4, 3) and labels shape (3,) "
         "are incompatible (labels must be (4,))."),
    Case(LOSS, "`listwise_pairs(pair_loss='hinge')`",
         lambda: losses.listwise_pairs(jnp.zeros(3), jnp.zeros(3), pair_loss="hinge"),
         ValueError, "listwise_pairs: pair_loss must be 'margin' or 'logistic', got "
         "'hinge'."),
    Case(LOSS, "detection boxes of size 4 (p, x, y, w, h needs 5)",
         lambda: losses.single_object_detection(jnp.zeros((2, 4)), jnp.zeros((2, 4))),
         ValueError, "single_object_detection: pred shape (2, 4) and target shape (2, 4) "
         "need size 5 (p, x, y, w, h) along axis -1."),
    Case(LOSS, "`ctc` label 5 with 5 classes",
         lambda: losses.ctc(jnp.zeros((2, 6, 5)), jnp.array([[1, 5], [1, -1]])),
         ValueError, "ctc: labels contain 5 but there are only 5 classes (valid labels "
         "are 0..4; negative labels mean 'ignore')."),
    Case(LOSS, "`reduce(how='median')`",
         lambda: losses.reduce(jnp.zeros(4), how="median"), ValueError,
         "reduce: how must be one of ('mean', 'sum', 'weighted_mean'), got 'median'."),
    Case(LOSS, "`l2_penalty` of integer parameters",
         lambda: losses.l2_penalty({"w": jnp.ones(3, jnp.int32)}), ValueError,
         "l2_penalty: parameters must be floating point, got a leaf of dtype int32 and "
         "shape (3,)."),
    Case(LOSS, "`huber(delta=-1)`",
         lambda: losses.huber(jnp.zeros(4), jnp.ones(4), delta=-1.0), ValueError,
         "huber: delta must be > 0 (the |error| where the loss turns linear), got "
         "-1.0."),
    Case(LOSS, "`smooth_l1(beta=-0.5)`",
         lambda: losses.smooth_l1(jnp.zeros(4), jnp.ones(4), beta=-0.5), ValueError,
         "smooth_l1: beta must be >= 0 (beta = 0 is plain L1), got -0.5."),
    Case(LOSS, "`binary_hinge(margin=-1)`",
         lambda: losses.binary_hinge(jnp.zeros(4), jnp.ones(4), margin=-1.0),
         ValueError, "binary_hinge: margin must be >= 0 (0 for no margin), got -1.0."),
    Case(LOSS, "`triplet_margin(margin=-1)`",
         lambda: losses.triplet_margin(_EMB, _EMB, _EMB, margin=-1.0), ValueError,
         "triplet_margin: margin must be >= 0 (0 for no margin), got -1.0."),
    Case(LOSS, "`sigmoid_focal(gamma=-1)`",
         lambda: losses.sigmoid_focal(jnp.zeros(4), jnp.ones(4), gamma=-1.0),
         ValueError, "sigmoid_focal: gamma must be >= 0 (0 gives plain cross-entropy), "
         "got -1.0."),
    Case(LOSS, "`sigmoid_focal(alpha=2)`",
         lambda: losses.sigmoid_focal(jnp.zeros(4), jnp.ones(4), alpha=2.0),
         ValueError, "sigmoid_focal: alpha must be in [0, 1] (it weights positives and "
         "1 - alpha negatives; alpha=None turns the weighting off), got 2.0."),
    Case(LOSS, "`binary_cross_entropy` with probabilities of 1.5",
         lambda: losses.binary_cross_entropy(jnp.full(4, 1.5), jnp.ones(4)), ValueError,
         "binary_cross_entropy: probs must be probabilities in [0, 1], got values in "
         "[1.5, 1.5]; pass logits to sigmoid_binary_cross_entropy instead."),
    Case(LOSS, "`nll` of logits instead of probabilities",
         lambda: losses.nll(jnp.array([[2.0, -1.0], [0.5, 0.5]]), jnp.array([0, 1])),
         ValueError, "nll: probs must be probabilities in [0, 1], got values in [-1, 2]; "
         "pass logits to softmax_cross_entropy_with_integer_labels instead."),
    Case(LOSS, "`kl_divergence` with a negative target probability",
         lambda: losses.kl_divergence(_Z, jnp.full((3, 4), 0.25).at[0, 0].set(-0.5)),
         ValueError, "kl_divergence: target_probs must be probabilities in [0, 1], got "
         "values in [-0.5, 0.25]."),
    Case(LOSS, "`label_smoothing=0.1` (a keyword the loss lacks)",
         lambda: SCE(_Z, jax.nn.softmax(_Z), label_smoothing=0.1), TypeError,
         "softmax_cross_entropy() got an unexpected keyword argument 'label_smoothing'"),
]


# --- the table -----------------------------------------------------------------------

def _cell(text: str, code: bool = False) -> str:
  text = _squash(text).replace("|", "\\|")
  if not code:
    return text
  fence = "``" if "`" in text else "`"
  return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def table() -> str:
  """The markdown table of every case, as docs/bad-inputs.md holds it."""
  rows = ["| area | bad input | error type | message (the stable part the test "
          "matches) |", "| --- | --- | --- | --- |"]
  for case in CASES:
    error = case.error.__name__ if isinstance(case.error, type) else case.error
    rows.append(f"| {case.area} | {_cell(case.bad_input)} | {_cell(error)} | "
                f"{_cell(case.message, code=True)} |")
  return "\n".join(rows)


def _doc_table(text: str) -> str:
  start, end = text.index(START) + len(START), text.index(END)
  return text[start:end].strip("\n")


def write_doc() -> None:
  text = DOC.read_text()
  start, end = text.index(START) + len(START), text.index(END)
  DOC.write_text(f"{text[:start]}\n{table()}\n{text[end:]}")


# --- the tests -----------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _tmp_root(tmp_path, monkeypatch):
  monkeypatch.setitem(globals(), "_TMP_ROOT", tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.bad_input for c in CASES])
def test_bad_input_gets_its_documented_error(case: Case):
  if isinstance(case.error, str):
    outcome, text = case.provoke()
    assert outcome == case.error, text
  else:
    with pytest.raises(BaseException) as info:
      case.provoke()
    assert type(info.value) is case.error, repr(info.value)
    text = str(info.value)
  assert _squash(case.message) in _squash(text), text


def test_the_doc_holds_exactly_the_generated_table():
  assert _doc_table(DOC.read_text()) == table(), (
      f"{DOC} is out of date: run python -m tests.test_bad_inputs --write")


def test_cases_are_distinct_and_cover_every_area():
  descriptions = [c.bad_input for c in CASES]
  assert len(set(descriptions)) == len(descriptions)
  counts = {area: sum(c.area == area for c in CASES)
            for area in (CLI, CFG, DATA, CKPT, LOSS)}
  assert len(CASES) >= 45 and counts[LOSS] >= 15 and min(counts.values()) >= 2, counts


if __name__ == "__main__":
  if sys.argv[1:] != ["--write"]:
    sys.exit("usage: python -m tests.test_bad_inputs --write")
  write_doc()
  print(f"wrote {len(CASES)} rows to {DOC}")
