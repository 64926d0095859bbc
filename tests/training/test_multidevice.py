"""Data parallelism: 8 forced host devices train the same parameters as 1 device."""
from __future__ import annotations

import fcntl
from pathlib import Path

import jax
import numpy as np
import pytest

from nn_lib.training.checkpoint import read_latest
from tests.conftest import run_train, session_dir

# Dropout stays on: with partitionable threefry the masks do not depend on sharding.
# The eval batch (100) does not divide the 8 devices: test_cli_usability.py checks
# the 8-device run's evaluation.
RUN = ["--experiment=digits_mlp:smoke", "--config.num_steps=10",
       "--config.batch_size=16", "--config.eval_batch_size=100", "--config.eval_every=10",
       "--config.checkpoint_every=10"]


def run_on_eight_devices(tmp_path_factory) -> dict:
  """train.py RUN on 8 forced CPU devices: its workdir and stderr. Run once per
  test session (test_cli_usability.py uses it too): the first xdist worker to get
  here runs it, the others wait for its result."""
  shared = session_dir(tmp_path_factory) / "eight_device_run"
  shared.mkdir(exist_ok=True)
  with open(shared / ".lock", "w", encoding="utf-8") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    stderr = shared / "stderr.txt"
    if not stderr.exists():
      proc = run_train(*RUN, f"--workdir={shared / 'eight'}", devices=8)
      stderr.write_text(proc.stderr)
  return {"workdir": shared / "eight", "stderr": stderr.read_text()}


@pytest.fixture(scope="session")
def eight_device_run(tmp_path_factory) -> dict:
  return run_on_eight_devices(tmp_path_factory)


@pytest.mark.slow
def test_eight_devices_match_one_device(tmp_path, eight_device_run):
  # Both on the CPU (where 8 devices are simulated), so only the device count differs.
  run_train(*RUN, f"--workdir={tmp_path / 'one'}", devices=1, JAX_PLATFORMS="cpu")
  assert "8 device(s)" in eight_device_run["stderr"]
  _, one = read_latest(tmp_path / "one")
  _, eight = read_latest(Path(eight_device_run["workdir"]))
  for a, b in zip(jax.tree.leaves(one["params"]), jax.tree.leaves(eight["params"])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=0)
  # Same trajectory, not merely the same start: parameters moved.
  assert one["step"] == eight["step"] == 10
