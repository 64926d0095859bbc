"""Auto-resume: SIGKILL mid-run, damaged checkpoints, NaN losses, changed configs."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import experiments
from nn_lib.registry import ConfigError
from nn_lib.data import TrainBatches
from nn_lib.training import NonFiniteLossError, train_and_evaluate
from nn_lib.training.checkpoint import read_latest
from tests.conftest import REPO, run_train, subprocess_env


def assert_trees_equal(a, b):
  leaves_a, tree_a = jax.tree.flatten(a)
  leaves_b, tree_b = jax.tree.flatten(b)
  assert tree_a == tree_b
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# Dropout on, so the test also covers the per-step dropout keys.
LONG_RUN = ["--experiment=digits_mlp", "--config.num_steps=3000",
            "--config.checkpoint_every=200", "--config.log_every=10",
            "--config.eval_every=3000", "--config.keep_checkpoints=2"]


@pytest.mark.slow
def test_sigkill_then_rerun_ends_bit_identical(tmp_path):
  straight, killed = tmp_path / "straight", tmp_path / "killed"
  run_train(*LONG_RUN, f"--workdir={straight}")

  proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *LONG_RUN,
                           f"--workdir={killed}"], cwd=REPO, env=subprocess_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  metrics, deadline = killed / "metrics.jsonl", time.time() + 240
  try:
    while time.time() < deadline and proc.poll() is None:
      # complete rows only: the writer may be in the middle of the last line
      rows = metrics.read_text().split("\n")[:-1] if metrics.exists() else []
      if any(json.loads(l)["step"] >= 1150 for l in rows[-5:]):
        break
      time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
  finally:
    proc.wait()
  assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
  killed_at = read_latest(killed)[0]
  assert 1000 <= killed_at < 3000

  run_train(*LONG_RUN, f"--workdir={killed}")
  summary = json.loads((killed / "summary.json").read_text())
  assert summary["resumed_from_step"] == killed_at
  step_a, state_a = read_latest(straight)
  step_b, state_b = read_latest(killed)
  assert step_a == step_b == 3000
  assert_trees_equal(state_a, state_b)
  rows = [json.loads(l) for l in metrics.read_text().splitlines()]
  train_steps = [r["step"] for r in rows if r["split"] == "train" and r["name"] == "loss"]
  assert train_steps == sorted(set(train_steps)), "resumed run duplicated log rows"


def _damage(checkpoint_dir):
  files = [p for p in checkpoint_dir.rglob("*") if p.is_file()]
  assert files
  for p in files:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


SHORT_RUN = ["--experiment=digits_mlp:smoke", "--config.num_steps=6",
             "--config.checkpoint_every=3"]


def test_damaged_latest_checkpoint_falls_back_to_previous(tmp_path):
  run_train(*SHORT_RUN, f"--workdir={tmp_path}")
  _, good_state = read_latest(tmp_path)
  _damage(tmp_path / "checkpoints" / "6")

  proc = run_train(*SHORT_RUN, f"--workdir={tmp_path}")
  assert "checkpoint at step 6 cannot be restored" in proc.stderr
  kept = list((tmp_path / "checkpoints_damaged").glob("6-*"))
  assert len(kept) == 1 and any(p.is_file() for p in kept[0].rglob("*"))
  assert json.loads((tmp_path / "summary.json").read_text())["resumed_from_step"] == 3
  step, state = read_latest(tmp_path)
  assert step == 6
  assert_trees_equal(state, good_state)


def test_nan_loss_stops_and_names_the_step(tmp_path):
  cfg = experiments.get_config("linreg_seed")
  poisoned = 2
  inputs = [list(x) for x in cfg.data.inline.train.inputs]
  inputs[poisoned] = [float("nan")]
  cfg.data.inline.train.inputs = inputs
  cfg.batch_size, cfg.num_steps, cfg.checkpoint_every, cfg.log_every = 1, 20, 1, 1
  batches = TrainBatches({"targets": np.arange(4)}, 1, cfg.seed)
  nan_step = next(s for s in range(20) if batches(s)["targets"][0] == poisoned) + 1

  with pytest.raises(NonFiniteLossError, match=f"training loss is nan at step {nan_step};"):
    train_and_evaluate(cfg, tmp_path)
  if nan_step > 1:
    assert read_latest(tmp_path)[0] == nan_step - 1
  else:
    assert not list((tmp_path / "checkpoints").glob("[0-9]*"))


def test_resuming_with_a_different_config_is_refused(tmp_path):
  cfg = experiments.get_config("digits_mlp:smoke")
  cfg.num_steps = 2
  first = train_and_evaluate(cfg, tmp_path)
  cfg.model.hidden = (32,)
  cfg.optimizer.learning_rate = 0.5
  with pytest.raises(ConfigError, match=r"(?s)different config.*model.hidden.*"
                     r"optimizer.learning_rate: 0.001 -> 0.5"):
    train_and_evaluate(cfg, tmp_path)
  cfg.model.hidden, cfg.optimizer.learning_rate = (256, 256), 1e-3
  cfg.num_steps = 4  # training longer is a resumable change
  resumed = train_and_evaluate(cfg, tmp_path)
  assert read_latest(tmp_path)[0] == 4 and resumed.start_step == 2
  # The returned history is the whole run's: the first attempt's rows, then the rest.
  steps, losses_ = resumed.history.curve("train", "loss")
  assert steps == [2, 3, 4] and losses_[0] == first.final["train/loss"]
  assert resumed.history.curve("test", "loss")[0] == [2, 4]
