"""Runs digits_mlp:smoke several ways on this process's devices (8 forced CPU
devices, from tests/training/test_scale_out.py) and prints, as JSON, how far each
run's parameters are from the default run's; and, under "sharding",
_sharding_check.py's measurements (for tests/training/test_sharding.py)."""
from __future__ import annotations

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import experiments
from nn_lib import models, plots, studies
from nn_lib.training import mesh as mesh_lib
from nn_lib.training import sharding, step
from nn_lib.training.checkpoint import Checkpointer
from tests.training import _sharding_check

VARIANTS = {
    "jit": {},
    "explicit": {"parallel": "explicit"},
    "accumulate_4": {"accumulate_steps": 4},
    "explicit_accumulate_2": {"parallel": "explicit", "accumulate_steps": 2},
    "bfloat16": {"model.dtype": "bfloat16"},
    "steps_per_call_4": {"steps_per_call": 4},
    "data_on_device": {"data_placement": "device"},
    "fsdp": {"sharding.params": "fsdp"},
    "rules": {"sharding.model_axis": 2, "sharding.params": "rules",
              "sharding.rules": ((r"Dense_0/kernel$", (None, "model")),
                                 (r"Dense_1/kernel$", ("model", None)))},
}


def main(workdir: str) -> None:
  # Nothing here looks at the runs' plots/curves.png (about 0.4 s of CPU each).
  plots.training_curves = lambda rows, path: None
  out = {"devices": jax.device_count()}
  params = {}
  for name, overrides in VARIANTS.items():
    cfg = experiments.get_config("digits_mlp:smoke")
    cfg.model.dropout = 0.0   # masks are drawn per micro-batch / per device
    cfg.num_steps, cfg.batch_size, cfg.checkpoint_every, cfg.eval_every = 8, 32, 8, 8
    for key, value in overrides.items():
      node = cfg
      *parents, leaf = key.split(".")
      for part in parents:
        node = node[part]
      node[leaf] = value
    result = studies.run(cfg, f"{workdir}/{name}")
    params[name] = result.state["params"]
    out[name] = {
        "max_abs_diff": max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                            for a, b in zip(jax.tree.leaves(params["jit"]),
                                            jax.tree.leaves(params[name]))),
        "param_dtypes": sorted({str(x.dtype) for x in jax.tree.leaves(params[name])}),
        "params_on_device_0": sharding.per_device_fraction(params[name]),
        "test_loss": result.final["test/loss"],
        "train_loss": result.history.curve("train", "loss")[1][-1],
    }
  out["restored_from_one_device"] = _restores_a_one_device_checkpoint(f"{workdir}/one_device")
  # tests/training/test_sharding.py's measurements, in this process: one 8-device
  # process (its imports and start-up) for both files
  out["sharding"] = _sharding_check.check(f"{workdir}/sharding")
  print(json.dumps(out))


def _restores_a_one_device_checkpoint(workdir: str) -> bool:
  """A state on one device, saved, restores onto the 8-device mesh (replicated)
  with its checksum verified and every value equal."""
  model = models.get("mlp", num_outputs=10, hidden=(16,))
  tx = optax.adam(1e-3)
  one = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  state = jax.jit(lambda x: step.init_state(model, tx, 0, x), out_shardings=one)(
      jnp.ones((1, 64)))
  checkpointer = Checkpointer(workdir, keep=1)
  checkpointer.save(1, state)
  checkpointer.close()
  like = jax.device_put(jax.tree.map(jnp.zeros_like, state),
                        mesh_lib.replicated(mesh_lib.make_mesh()))
  restored = Checkpointer(workdir, keep=1).restore_latest(like)
  return bool(restored is not None and len(restored["params"]["Dense_0"]["kernel"].devices()) == 8
              and all(np.array_equal(a, b) for a, b in
                      zip(jax.tree.leaves(restored), jax.tree.leaves(state))))


if __name__ == "__main__":
  main(sys.argv[1])
