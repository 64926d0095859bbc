"""Data parallelism: 8 forced host devices train the same parameters as 1 device."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from nn_lib.training.checkpoint import read_latest
from tests.conftest import run_train

# Dropout stays on: with partitionable threefry the masks do not depend on sharding.
RUN = ["--experiment=digits_mlp:smoke", "--config.num_steps=10",
       "--config.batch_size=16", "--config.eval_batch_size=64",
       "--config.checkpoint_every=10"]


@pytest.mark.slow
def test_eight_devices_match_one_device(tmp_path):
  # Both on the CPU (where 8 devices are simulated), so only the device count differs.
  run_train(*RUN, f"--workdir={tmp_path / 'one'}", devices=1, JAX_PLATFORMS="cpu")
  proc = run_train(*RUN, f"--workdir={tmp_path / 'eight'}", devices=8)
  assert "8 device(s)" in proc.stderr
  _, one = read_latest(tmp_path / "one")
  _, eight = read_latest(tmp_path / "eight")
  for a, b in zip(jax.tree.leaves(one["params"]), jax.tree.leaves(eight["params"])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=0)
  # Same trajectory, not merely the same start: parameters moved.
  assert one["step"] == eight["step"] == 10

