"""Config values that used to be raw tracebacks (or silently accepted) are one clear
ConfigError / DataError naming the `--config.` key and its valid values, raised
before anything compiles. In-process; one train.py run shows the CLI's `error:`."""
from __future__ import annotations

from typing import Any

import jax
import ml_collections
import numpy as np
import pytest

import experiments
from nn_lib import config as config_lib
from nn_lib import data, metrics, models
from nn_lib.data import DataError, transforms
from nn_lib.models import layers
from nn_lib.registry import ConfigError
from tests.conftest import run_train


def _cfg(updates: dict[str, Any], spec: str = "digits_mlp:smoke"):
  return config_lib.derive(experiments.get_config(spec), **updates)


def _raises(error: type[BaseException], fn, *args, **kwargs) -> str:
  """The message of the `error` (exactly that type) that fn(*args, **kwargs) raises."""
  with pytest.raises(BaseException) as info:
    fn(*args, **kwargs)
  assert type(info.value) is error, repr(info.value)
  return str(info.value)


# --- 1. activations and initializers by name -----------------------------------------

def test_unknown_activation_and_initializer_are_config_errors():
  # train.py prints ConfigErrors as one line; a plain ValueError was a traceback.
  assert "unknown activation 'relux'" in _raises(ConfigError, layers.activation, "relux")
  assert "valid: he, " in _raises(ConfigError, layers.initializer, "foo")
  assert "alpha is not a number" in _raises(ConfigError, layers.activation,
                                            "leaky_relu(x)")


@pytest.mark.parametrize("key, value, valid", [
    ("activation", "relux", "valid: gelu, identity, leaky_relu, relu, "),
    ("kernel_init", "foo", "valid: he, he_normal, "),
])
def test_model_construction_refuses_unknown_names_naming_the_key(key, value, valid):
  # At construction, not when the model is first applied inside jit.
  message = _raises(ConfigError, models.get, "mlp", num_outputs=10, **{key: value})
  assert f"config.model.{key}={value!r} (model 'mlp')" in message
  assert valid in message and f"set --config.model.{key} to one of them" in message
  models.get("mlp", num_outputs=10, activation="leaky_relu(0.2)", kernel_init="xavier")


def test_unknown_activation_on_the_command_line_is_one_error_line(tmp_path):
  proc = run_train("--experiment=digits_mlp:smoke", "--config.model.activation=relux",
                   f"--workdir={tmp_path / 'w'}", check=False, timeout=300)
  assert proc.returncode == 1, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
  assert "error: config.model.activation='relux' (model 'mlp'): unknown activation" \
      in proc.stderr, proc.stderr[-2000:]


# --- 2. split names ------------------------------------------------------------------

def test_a_split_the_dataset_lacks_names_its_splits():
  message = _raises(DataError, data.load, _cfg({"data.train_split": "validation"}).data)
  assert message.startswith("config.data.train_split='validation' is not a split of "
                            "embedded dataset 'digits'")
  assert "its splits are ['train', 'test']: set --config.data.train_split" in message


# --- 3. split_seed -------------------------------------------------------------------

def test_negative_split_seed_is_refused_before_loading():
  cfg = _cfg({"data.split_seed": -1, "data.dev_fraction": 0.1})
  assert "config.data.split_seed must be a non-negative integer, got -1" in _raises(
      ConfigError, config_lib.validate_training, cfg)


# --- 4. metrics against the model's outputs and the targets --------------------------

_LOGITS = jax.ShapeDtypeStruct((16, 10), np.float32)
_LABELS = np.zeros(16, np.int32)


def test_a_metric_that_does_not_fit_names_shapes_and_the_metrics_that_do():
  message = _raises(ConfigError, metrics.check_metrics_fit, _LOGITS, _LABELS,
                    ("accuracy", "mse"))
  assert message.startswith("config.metrics: metric 'mse' does not fit this model and "
                            "data: the model outputs float32[16, 10] and the targets are "
                            "int32[16] (mse: ")
  # (a classifier's logits are embeddings too: the pairwise verification metrics fit)
  assert "metrics that fit them: accuracy, f1_macro, f1_micro, precision_macro, " \
         "recall_at_1, recall_macro, verification_eer; set e.g. " \
         "--config.metrics=\"('accuracy',)\"." in message
  metrics.check_metrics_fit(_LOGITS, _LABELS, ("accuracy", "f1_macro"))


def test_a_metric_that_would_broadcast_silently_is_refused():
  # (B, 1) sigmoid outputs against (B,) labels broadcast to B x B: a wrong number,
  # not an error, unless the check refuses implicit rank promotion.
  outputs = jax.ShapeDtypeStruct((8, 1), np.float32)
  assert "binary_accuracy" in _raises(ConfigError, metrics.check_metrics_fit, outputs,
                                      np.zeros(8, np.int32), ("binary_accuracy",))
  metrics.check_metrics_fit(outputs, np.zeros((8, 1), np.float32), ("binary_accuracy",))


# --- 5. one_hot with too few classes -------------------------------------------------

def _one_hot(labels: np.ndarray, num_classes: Any) -> None:
  splits = {"train": {"inputs": np.zeros((len(labels), 2), np.float32),
                      "targets": labels}}
  transforms.apply(splits, {"name": "one_hot", "num_classes": num_classes})


def test_one_hot_with_fewer_classes_than_labels():
  message = _raises(DataError, _one_hot, np.arange(10), 3)
  assert message == ("split 'train': target_transform 'one_hot' has num_classes=3 but "
                     "the labels go up to 9; num_classes must be at least 10: set "
                     "--config.data.target_transform.num_classes=10.")
  # np.eye(C)[-1] would silently be class C - 1's row.
  assert "negative label -1" in _raises(DataError, _one_hot, np.array([0, -1]), 3)
  assert "positive integer" in _raises(ConfigError, _one_hot, np.arange(3), 0)


# --- 6. values that were silently accepted -------------------------------------------

def test_dropout_outside_0_1_is_refused():
  for rate in (1.5, 1.0, -0.1):
    assert f"config.model.dropout={rate!r} (model 'mlp') must be a number in [0, 1)" \
        in _raises(ConfigError, models.get, "mlp", num_outputs=10, dropout=rate)
  models.get("mlp", num_outputs=10, dropout=0.0)


_ADAM = {"name": "adam", "learning_rate": 1e-3}
_SGD = {"name": "sgd", "learning_rate": 0.1}


@pytest.mark.parametrize("updates, message", [
    ({"optimizer": {**_ADAM, "clip_norm": -1.0}},
     "config.optimizer.clip_norm must be a positive number (the largest gradient norm "
     "kept) or None for no clipping, got -1.0"),
    ({"optimizer": {**_ADAM, "clip_norm": 0.0}}, "config.optimizer.clip_norm must be"),
    ({"optimizer": {**_SGD, "momentum": -1.0}},
     "config.optimizer.momentum must be in [0, 1), got -1.0 (optimizer 'sgd')"),
    ({"optimizer": {**_SGD, "momentum": 1.0}}, "config.optimizer.momentum must be in"),
    ({"optimizer": {**_ADAM, "b2": 1.0}}, "config.optimizer.b2 must be in [0, 1)"),
    ({"optimizer": {"name": "adamw", "learning_rate": 1e-3, "weight_decay": -1e-4}},
     "config.optimizer.weight_decay must be a number >= 0"),
    ({"schedule.warmup_steps": -1},
     "config.schedule.warmup_steps=-1 must be an integer in [0, num_steps=6)"),
    ({"schedule.warmup_steps": 7}, "config.schedule.warmup_steps=7 must be an integer"),
    ({"eval_splits": ()}, "config.eval_splits is empty, so no split would be evaluated"),
])
def test_silently_accepted_values_are_refused(updates, message):
  assert message in _raises(ConfigError, config_lib.validate_training, _cfg(updates))


def test_boundary_values_and_every_experiment_still_validate():
  """The new checks refuse only bad values: their boundaries and every experiment's
  own config pass (and the empty eval_splits next to them do not)."""
  for updates in ({"optimizer": {**_SGD, "momentum": 0.0, "clip_norm": None}},
                  {"optimizer": {**_ADAM, "clip_norm": 1.0}},
                  {"schedule.warmup_steps": 0}, {"schedule.warmup_steps": 5},
                  {"data.split_seed": 0, "data.dev_fraction": 0.1}):
    config_lib.validate_training(_cfg(updates))
  assert "no split would be evaluated" in _raises(
      ConfigError, config_lib.validate_training, _cfg({"eval_splits": ()}))
  for name in experiments.names():
    cfg = experiments.get_config(name)
    if cfg.get("trainer", "supervised") == "supervised" and "model" in cfg:
      config_lib.validate_training(cfg)


@pytest.mark.parametrize("spec", ["charlm_rnn:smoke", "dates_attention:smoke",
                                  "word2vec_sgns:smoke", "gan_ring:smoke", "nerf_tiny:smoke",
                                  "ctc_digits:smoke"])
def test_every_trainer_refuses_a_seed_that_is_not_an_integer(spec):
  from nn_lib.trainers import (  # pylint: disable=g-import-not-at-top
      charlm_config, ctc, gan_config, nerf, seq2seq, word_vectors_config)
  validate = {"charlm": charlm_config.validate, "seq2seq": seq2seq.validate,
              "word_vectors": word_vectors_config.validate, "gan": gan_config.validate,
              "nerf": nerf.validate, "ctc": ctc.validate}
  cfg = experiments.get_config(spec)
  validate[cfg.trainer](cfg)  # the experiment's own config passes
  # (a ConfigDict keeps a field's type: a user's config built from a dict need not)
  cfg = ml_collections.ConfigDict({**cfg.to_dict(), "seed": 1.5})
  with pytest.raises(ConfigError, match=r"config\.seed.*(must be an integer|1\.5)"):
    validate[cfg.trainer](cfg)
