"""Every experiment runs its smoke variant; cheap experiments meet their quality bar."""
import json

import pytest

import experiments
from nn_lib.training import run


def test_every_experiment_has_a_description():
  for name in experiments.names():
    assert len(experiments.describe(name)) > 20, name


@pytest.mark.parametrize("name", experiments.names())
def test_smoke_variant_runs(name, tmp_path):
  hooks, cfg = experiments.get_config(f"{name}:smoke")
  assert cfg.num_steps <= 10
  run(cfg, tmp_path, hooks=hooks)
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["final"]["test/loss"] < float("inf")


def test_unknown_variant_is_an_error():
  with pytest.raises(ValueError, match="unknown variant 'smok'; valid: smoke"):
    experiments.get_config("digits_mlp:smok")


def _final_test_accuracy(name, tmp_path):
  hooks, cfg = experiments.get_config(name)
  run(cfg, tmp_path, hooks=hooks)
  return json.loads((tmp_path / "summary.json").read_text())["final"]["test/accuracy"]


def test_digits_mlp_reaches_97_percent(tmp_path):
  assert _final_test_accuracy("digits_mlp", tmp_path) >= 0.97


@pytest.mark.slow
def test_mnist10k_lenet_reaches_97_percent(tmp_path):
  assert _final_test_accuracy("mnist10k_lenet", tmp_path) >= 0.97
