"""Bad inputs: flags, the command line and config values (rows of docs/bad-inputs.md)."""
from __future__ import annotations

import math
import unittest.mock
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

import experiments
from nn_lib import studies
from nn_lib import config as config_lib
from nn_lib import metrics, models, trainers
from nn_lib.registry import ConfigError
from nn_lib.trainers import knn
from nn_lib.training import objective, optim, sanity
from nn_lib.training import workdir as workdir_lib
from tests.conftest import run_train
from tests.bad_inputs._case import Case, tmp

# --- flags / CLI ---------------------------------------------------------------------

def _train(*args: str) -> tuple[str, str]:
  """train.py's exit status and stderr (both cases exit while parsing flags, in
  well under a second: nothing is imported beyond the experiment's config)."""
  proc = run_train(*args, f"--workdir={tmp() / 'w'}", check=False, timeout=120)
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
  workdir = tmp()
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
         "unknown schedule 'step'; valid: constant, cosine, exponential, "
         "exponential_epoch, inverse_sqrt, inverse_time, linear, staircase"),
    Case(CFG, "`schedule.warmup_steps` >= `num_steps` (cosine)",
         lambda: optim.make_optimizer(_cfg({"schedule.warmup_steps": 6})), ConfigError,
         "schedule.warmup_steps=6 must be in [0, num_steps=6)."),
    Case(CFG, "`metrics=('acc',)` (unknown metric)", lambda: metrics.get("acc"),
         ConfigError, "unknown metric 'acc'; valid: accuracy, binary_accuracy, "),
    Case(CFG, "`trainer=rl` (unknown trainer)", lambda: trainers.get("rl"), ConfigError,
         "unknown trainer 'rl'; valid: charlm, ctc, gan, knn, nerf, seq2seq, supervised, "
         "word_vectors"),
    Case(CFG, "`study=grid` (unknown study)", lambda: studies.STUDIES.get("grid"),
         ConfigError, "unknown study 'grid'; valid: compare, neural_field, polyfit_orders"),
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
         "config.model.dropout=1.5 (model 'mlp') must be a number in [0, 1) (or, for "
         "models that take one per layer, a list of them): the fraction of units "
         "dropped in training (0 = no dropout); set --config.model.dropout to e.g. 0.1."),
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
         "them: accuracy, f1_macro, f1_micro, precision_macro, recall_at_1, recall_macro, "
         "verification_eer; set e.g. "
         "--config.metrics=\"('accuracy',)\"."),
]
