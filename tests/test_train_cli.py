"""train.py end to end in a subprocess, and its flag and config errors."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import experiments
from nn_lib import studies
from nn_lib import config as config_lib
from nn_lib.registry import ConfigError
from nn_lib.training.checkpoint import read_latest
from tests.conftest import run_train


@pytest.mark.slow
def test_linreg_seed_reaches_the_notes_optimum(tmp_path):
  run_train("--experiment=linreg_seed", f"--workdir={tmp_path}")
  step, state = read_latest(tmp_path)
  dense = state["params"]["Dense_0"]
  assert step == 3000
  np.testing.assert_allclose(np.ravel(dense["kernel"]), [0.5], atol=1e-3)
  np.testing.assert_allclose(np.ravel(dense["bias"]), [2.0], atol=1e-3)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
  """One train.py run of digits_mlp:smoke with two --config overrides (the smoke
  variant's 6 steps -> 4), for the two tests below."""
  workdir = tmp_path_factory.mktemp("smoke")
  run_train("--experiment=digits_mlp:smoke", f"--workdir={workdir}",
            "--config.optimizer.learning_rate=0.0123", "--config.num_steps=4")
  return workdir


@pytest.mark.slow
def test_digits_mlp_smoke_writes_every_output(smoke_run):
  config = json.loads((smoke_run / "config.json").read_text())
  assert config["num_steps"] == 4 and config["model"]["name"] == "mlp"
  rows = [json.loads(l) for l in (smoke_run / "metrics.jsonl").read_text().splitlines()]
  assert {r["split"] for r in rows} == {"train", "test"}
  assert {"step", "split", "name", "value", "wall_time", "steps_per_sec"} <= set(rows[0])
  assert max(r["step"] for r in rows) == 4
  assert list((smoke_run / "tensorboard").glob("events.out.tfevents.*"))
  assert (smoke_run / "plots" / "curves.png").stat().st_size > 1000
  assert read_latest(smoke_run)[0] == 4


@pytest.mark.slow
def test_config_override_takes_effect(smoke_run):
  config = json.loads((smoke_run / "config.json").read_text())
  assert config["optimizer"]["learning_rate"] == 0.0123
  assert read_latest(smoke_run)[0] == 4   # not the smoke variant's 6


def test_list_describes_every_experiment():
  out = run_train("--list").stdout
  for name in ("digits_mlp", "linreg_seed", "mnist10k_lenet"):
    line = next(l for l in out.splitlines() if l.startswith(name))
    assert len(line.split(maxsplit=1)[1]) > 20


# What train.py itself handles (flags, the experiment name, config keys and their
# alias) and one error of each kind the library raises, as a user sees them.
@pytest.mark.parametrize("args, message", [
    (["--experiment=digits_mpl"],
     "unknown experiment 'digits_mpl'; valid experiments: autoencoder_bce,"),
    (["--experiment=multilabel_digits:sotfmax"],
     "unknown variant 'sotfmax' of multilabel_digits; valid: smoke, softmax"),
    (["--config.optimizer.learnin_rate=0.1"],
     "config.optimizer has no key 'learnin_rate'. Did you mean \"learning_rate\""),
    (["--config.model.num_classes=3"],  # accepted for num_outputs
     "the model emits 3 outputs per example but the labels go up to 9"),
    (["--config.batch_size=-4"], "config.batch_size must be a positive integer, got -4"),
    (["--config.data.source=npz", "--config.data.path=/nonexistent/x.npz"],
     "npz data file '/nonexistent/x.npz' does not exist"),
])
def test_bad_flags_fail_with_a_clear_message(args, message, tmp_path):
  proc = run_train(*args, f"--workdir={tmp_path}", check=False)
  assert proc.returncode != 0
  assert message in proc.stderr
  assert "Traceback" not in proc.stderr


# The library's config errors, in-process: each is a ConfigError (which train.py
# prints as one line) raised before anything is trained.
@pytest.mark.parametrize("overrides, message", [
    ({"optimizer.learning_rate": 0},
     "config.optimizer.learning_rate must be a positive number, got 0"),
    ({"model.name": "mlpp"}, "unknown model 'mlpp'; valid: "),
    ({"model.num_outputs": 3},
     "the model emits 3 outputs per example but the labels go up to 9"),
    ({"loss.name": "softmax_xent"}, "unknown loss 'softmax_xent'; valid:"),
    ({"optimizer.name": "adamm"}, "unknown optimizer 'adamm'"),
    ({"loss.name": "squared_error"},   # B x 10 scores against B labels
     "config.loss {'name': 'squared_error'} does not fit this model and data"),
    ({"data.source": "csv"}, "unknown data source 'csv'; valid: embedded, inline"),
    ({"trainer": "knm"}, "unknown trainer 'knm'; valid: charlm, ctc, gan, knn, nerf, seq2seq, "
                         "supervised, word_vectors"),
    ({"plots": ("confusion",)}, "unknown plot 'confusion'; valid: "),
    ({"batch_size": 4096}, "batch_size 4096 is larger than the training split (1437"),
])
def test_bad_configs_are_config_errors(overrides, message, tmp_path):
  cfg = experiments.get_config("digits_mlp:smoke")
  cfg = config_lib.derive(cfg, **overrides)
  with pytest.raises(ConfigError, match=re.escape(message)):
    studies.run(cfg, tmp_path)
  assert not list(tmp_path.glob("checkpoints/[0-9]*"))


def test_batch_not_divisible_by_devices_fails_before_compiling(tmp_path):
  proc = run_train("--experiment=digits_mlp:smoke", "--config.batch_size=12",
                   f"--workdir={tmp_path}", devices=8, check=False)
  assert proc.returncode != 0
  assert ("config.batch_size=12 is not divisible by the 8 devices of the data mesh"
          in proc.stderr)
  assert not (tmp_path / "checkpoints").exists()
