"""Config mistakes that were tracebacks or silent, evaluation on any device count,
the progress bar's redraws and `train.py --show_config` (issue 9, parts B-D)."""
from __future__ import annotations

import io
import math
import re
import sys
from types import SimpleNamespace

import jax
import numpy as np
import pytest

import experiments
from nn_lib import studies
from nn_lib import config as config_lib
from nn_lib import data, models, writers
from nn_lib.registry import ConfigError
from nn_lib.training import predict, sanity
from nn_lib.training.checkpoint import read_latest
from tests.conftest import run_train
from tests.training.test_multidevice import RUN as EIGHT_DEVICE_RUN, run_on_eight_devices


@pytest.mark.parametrize("hidden, message", [
    ((64, -3), "config.model.hidden=(64, -3): model 'mlp' needs positive integer sizes, "
               "got -3 (entry 1); set --config.model.hidden to positive integers, e.g. "
               "(64, 32)."),
    ((0,), "config.model.hidden=(0,): model 'mlp' needs positive integer sizes, got 0 "
           "(entry 0)"),
])
def test_non_positive_layer_widths_are_config_errors(hidden, message, tmp_path):
  cfg = config_lib.derive(experiments.get_config("digits_mlp:smoke"),
                          **{"model.hidden": hidden})
  with pytest.raises(ConfigError, match=re.escape(message)):
    studies.run(cfg, tmp_path)
  with pytest.raises(ConfigError, match=re.escape(
      "config.model.num_outputs=0: model 'lenet5' needs positive integer sizes, got 0; "
      "set --config.model.num_outputs to a positive integer.")):
    models.get("lenet5", num_outputs=0)


@pytest.mark.parametrize("lr", [1e300, 3.5e38, math.inf])
def test_learning_rates_beyond_float32_are_config_errors(lr):
  cfg = config_lib.derive(experiments.get_config("digits_mlp:smoke"),
                          **{"optimizer.learning_rate": lr})
  with pytest.raises(ConfigError, match=re.escape(
      f"config.optimizer.learning_rate={lr!r} is not finite in float32 (the largest "
      "float32 is 3.403e+38); use a learning rate such as 1e-3.")):
    config_lib.validate_training(cfg)


def test_nan_learning_rate_is_a_config_error():
  cfg = config_lib.derive(experiments.get_config("digits_mlp:smoke"),
                          **{"optimizer.learning_rate": math.nan})
  with pytest.raises(ConfigError, match="learning_rate must be a positive number, got nan"):
    config_lib.validate_training(cfg)


def test_eval_batch_size_need_not_divide_the_devices(monkeypatch):
  monkeypatch.setattr(jax, "device_count", lambda: 8)
  cfg = experiments.get_config("mnist10k_lenet")
  assert cfg.eval_batch_size == 500
  config_lib.validate_training(cfg)  # used to refuse 500 on 8 devices
  with pytest.raises(ConfigError, match="config.batch_size=12 is not divisible by the 8"):
    config_lib.validate_training(config_lib.derive(cfg, batch_size=12))


def test_every_eval_batch_is_padded_to_the_device_multiple():
  assert [predict.padded_batch_size(b, 8) for b in (500, 504, 1, 8)] == [504, 504, 8, 8]
  mesh = SimpleNamespace(shape={"data": 8, "model": 1})  # 8 devices, as shapes only
  assert predict.Predictor(None, mesh, 500).batch_size == 504
  batches = list(data.eval_batches({"inputs": np.arange(1001)}, 504))
  assert [len(b["inputs"]) for b in batches] == [504, 504]
  assert sum(int(b["mask"].sum()) for b in batches) == 1001
  np.testing.assert_array_equal(batches[1]["inputs"][batches[1]["mask"]],
                                np.arange(504, 1001))


@pytest.fixture(scope="session")
def eight_device_run(tmp_path_factory) -> dict:
  return run_on_eight_devices(tmp_path_factory)


@pytest.mark.slow
def test_eight_devices_evaluate_with_an_indivisible_eval_batch_size(eight_device_run):
  # train.py on 8 devices with --config.eval_batch_size=100 (10 steps, evaluated
  # once, at the end): the run tests/training/test_multidevice.py compares with 1 device
  assert {"--config.eval_batch_size=100", "--config.eval_every=10"} <= set(EIGHT_DEVICE_RUN)
  assert "8 device(s)" in eight_device_run["stderr"]
  workdir = eight_device_run["workdir"]
  assert read_latest(workdir)[0] == 10
  rows = writers.read_metrics(workdir / "metrics.jsonl")
  accuracy = [r["value"] for r in rows if r["split"] == "test" and r["name"] == "accuracy"]
  assert len(accuracy) == 1 and 0.0 <= accuracy[0] <= 1.0


def test_label_check_names_only_keys_the_model_has():
  inputs = np.zeros((2, 8, 8, 1), np.float32)
  labels = np.arange(10)  # the training labels, as the loop passes them
  embed = models.get("embedding_net", embed_dim=2, widths=(4,), hidden=(8,))
  variables = embed.init(jax.random.key(0), inputs[:1], train=False)
  # embedding_net has no num_outputs: its 2-D outputs are embeddings, not class
  # scores, so the check used to advise a key it does not have.
  state = {"params": variables.pop("params"), "model_state": variables}
  sanity.check_outputs_fit_labels(embed, state, {"inputs": inputs}, labels)
  assert sanity.output_width_key(embed) is None
  assert sanity.output_width_key(models.get("lenet5", num_outputs=10)) == "num_outputs"


class _Terminal(io.StringIO):
  def isatty(self) -> bool:
    return True


def test_progress_bar_redraws_tens_of_times_in_600_steps(tmp_path, monkeypatch):
  terminal = _Terminal()
  monkeypatch.setattr(sys, "stderr", terminal)
  writer = writers.MetricWriter(tmp_path, num_steps=600, start_step=0)
  assert writer._bar.mininterval >= 0.5 and writer._bar.miniters == 12
  writer._bar.mininterval = 0  # count what miniters allows, however fast the loop
  for step in range(1, 601):
    if step % 50 == 0:
      writer.write(step, "train", {"loss": 1.0 / step}, steps_per_sec=100.0)
    writer.advance(step)
  writer.close()
  redraws = terminal.getvalue().count("\r")
  assert 10 <= redraws <= 60, redraws
  assert "600/600" in terminal.getvalue()


def test_show_config_prints_every_key_with_its_meaning():
  proc = run_train("--experiment=mnist10k_lenet", "--config.optimizer.learning_rate=0.01",
                   "--show_config")
  lines = proc.stdout.splitlines()
  assert lines[0] == "# experiment mnist10k_lenet; set any key with --config.KEY=VALUE"
  assert re.search(r"^optimizer\.learning_rate = 0\.01 +# the peak step size", proc.stdout,
                   re.M)
  assert re.search(r"^data\.ignore_label = None +# a negative class label", proc.stdout,
                   re.M)
  assert "model.pooling = 'max'" in proc.stdout and "eval_batch_size = 500" in proc.stdout
  flat = config_lib.describe(experiments.get_config("mnist10k_lenet")).splitlines()
  assert len(lines) == len(flat) + 1 and all(" = " in line for line in lines[1:])
  assert "Traceback" not in proc.stderr


def test_a_model_hyperparameter_the_experiment_leaves_at_its_default_can_be_set():
  proc = run_train("--experiment=digits_mlp:smoke", "--config.model.dtype=bfloat16",
                   "--show_config")
  assert re.search(r"^model\.dtype = 'bfloat16' +# computation dtype", proc.stdout, re.M)
  typo = run_train("--experiment=digits_mlp:smoke", "--config.model.dtyp=bfloat16",
                   "--show_config", check=False)
  assert typo.returncode == 1
  assert "config.model has no key 'dtyp'" in typo.stderr


def test_an_optimizer_or_schedule_named_on_the_command_line_takes_its_arguments():
  proc = run_train("--experiment=digits_mlp:smoke", "--config.optimizer.beta=0.95",
                   "--config.optimizer.name=notes_momentum",
                   "--config.schedule.name=inverse_time",
                   "--config.schedule.decay_rate=0.5", "--show_config")
  assert re.search(r"^optimizer\.beta = 0\.95$", proc.stdout, re.M)
  assert re.search(r"^optimizer\.name = 'notes_momentum'", proc.stdout, re.M)
  assert re.search(r"^schedule\.decay_rate = 0\.5$", proc.stdout, re.M)
  # adam has no beta: the key stays unknown
  typo = run_train("--experiment=digits_mlp:smoke", "--config.optimizer.beta=0.95",
                   "--show_config", check=False)
  assert "config.optimizer has no key 'beta'" in typo.stderr
