"""Auto-resume: damaged checkpoints, NaN losses, changed configs (signals and
SIGKILL: test_faults.py)."""
from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import experiments
from nn_lib.registry import ConfigError
from nn_lib.data import TrainBatches
from nn_lib.training import NonFiniteLossError, train_and_evaluate
from nn_lib.training.checkpoint import read_latest
from tests.conftest import run_experiment, run_train


def assert_trees_equal(a, b):
  leaves_a, tree_a = jax.tree.flatten(a)
  leaves_b, tree_b = jax.tree.flatten(b)
  assert tree_a == tree_b
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _damage(checkpoint_dir):
  files = [p for p in checkpoint_dir.rglob("*") if p.is_file()]
  assert files
  for p in files:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


SHORT_RUN = ["--experiment=digits_mlp:smoke", "--config.num_steps=6",
             "--config.checkpoint_every=3"]


def test_damaged_latest_checkpoint_falls_back_to_previous(tmp_path):
  # The run that leaves the checkpoints runs in this process (what train.py runs,
  # with the same XLA flags); the one that finds the damage is train.py itself.
  run_experiment("digits_mlp:smoke", tmp_path, num_steps=6, checkpoint_every=3)
  _, good_state = read_latest(tmp_path)
  _damage(tmp_path / "checkpoints" / "6")

  proc = run_train(*SHORT_RUN, f"--workdir={tmp_path}")
  assert "checkpoint at step 6 cannot be used" in proc.stderr
  kept = list((tmp_path / "checkpoints_damaged").glob("6-*"))
  assert len(kept) == 1 and any(p.is_file() for p in kept[0].rglob("*"))
  assert json.loads((tmp_path / "summary.json").read_text())["resumed_from_step"] == 3
  step, state = read_latest(tmp_path)
  assert step == 6
  assert_trees_equal(state, good_state)


def test_nan_loss_stops_and_names_the_step(tmp_path):
  # NaN in the data is refused at load time (tests/test_data_validation.py), so the
  # NaN comes from the objective: it is NaN on one training example
  cfg = experiments.get_config("linreg_seed")
  poisoned = 2
  bad_target = cfg.data.inline.train.targets[poisoned][0]
  cfg.batch_size, cfg.num_steps, cfg.checkpoint_every, cfg.log_every = 1, 20, 1, 1
  batches = TrainBatches({"targets": np.arange(4)}, 1, cfg.seed)
  nan_step = next(s for s in range(20) if batches(s)["targets"][0] == poisoned) + 1

  def loss_fn(outputs, targets):
    err = jnp.sum(jnp.square(outputs - targets), axis=-1)
    return jnp.where(targets[:, 0] == bad_target, jnp.nan, err)

  with pytest.raises(NonFiniteLossError, match=f"training loss is nan at step {nan_step};"):
    train_and_evaluate(cfg, tmp_path, loss_fn=loss_fn)
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
