"""docs/extending.md's three worked examples run as written: an experiment module,
a trainer and a study."""
from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest

import experiments
from nn_lib import studies
from nn_lib import trainers
from tests.conftest import REPO, run_experiment

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "extending.md").read_text(),
                    re.S)


@pytest.fixture(autouse=True)
def _restore_registries(monkeypatch):
  """The examples register a trainer and a study; other tests must not see them."""
  for registry in (trainers.TRAINERS, studies.STUDIES):
    monkeypatch.setattr(registry, "_entries", dict(registry._entries))  # pylint: disable=protected-access


def test_there_are_three_examples():
  assert len(BLOCKS) == 3


def test_adding_an_experiment(tmp_path, monkeypatch):
  module = types.ModuleType("experiments.toy2d_moons_sigmoid")
  module.__package__ = "experiments"  # as for a file saved in experiments/
  exec(compile(BLOCKS[0], "docs/extending.md", "exec"), module.__dict__)  # pylint: disable=exec-used
  monkeypatch.setitem(sys.modules, module.__name__, module)
  monkeypatch.setattr(experiments, "names", lambda: ["toy2d_moons", "toy2d_moons_sigmoid"])
  assert experiments.describe("toy2d_moons_sigmoid").startswith("MLP + sigmoid BCE")
  cfg = experiments.get_config("toy2d_moons_sigmoid:wide,smoke")
  assert cfg.model.hidden == (128, 128) and cfg.num_steps == 6
  result = run_experiment("toy2d_moons_sigmoid", tmp_path)
  assert result.splits["train"]["targets"].shape == (800, 1)
  assert result.final["test/binary_accuracy"] >= 0.97


def test_adding_a_trainer(tmp_path):
  exec(compile(BLOCKS[1], "docs/extending.md", "exec"), {})  # pylint: disable=exec-used
  result = run_experiment("linreg_seed", tmp_path, trainer="least_squares")
  assert result.final["test/mse"] < 1e-10
  np.testing.assert_allclose(result.predict(np.array([[0.0], [10.0]], np.float32)),
                             [[2.0], [7.0]], atol=1e-5)  # w = 0.5, b = 2
  assert (tmp_path / "summary.json").exists() and (tmp_path / "metrics.jsonl").exists()


def test_adding_a_study(tmp_path):
  exec(compile(BLOCKS[2], "docs/extending.md", "exec"), {})  # pylint: disable=exec-used
  cfg = experiments.get_config("digits_mlp:smoke")
  cfg.study, cfg.learning_rates = "learning_rates", (1e-4, 1e-2)
  result = studies.run(cfg, tmp_path)
  assert set(result.runs) == {"learning_rate_0.0001", "learning_rate_0.01"}
  # Six Adam steps at 1e-2 learn far more than at 1e-4.
  assert result.final["best_learning_rate"] == 1e-2
  assert (tmp_path / "plots" / "learning_rates.png").exists()
