"""Bad inputs: several processes, parallel modes, accumulation, EMA, mixed
precision and sharding (rows of docs/bad-inputs.md)."""
from __future__ import annotations

import unittest.mock
from typing import Any, Callable

import jax
import optax

import experiments
from nn_lib import config as config_lib
from nn_lib import models
from nn_lib.training import mesh as mesh_lib
from nn_lib.training import sharding, step
from nn_lib.registry import ConfigError
from tests.bad_inputs._case import Case, tmp
from tests.conftest import run_train


def _train(*args: str) -> tuple[str, str]:
  proc = run_train("--experiment=digits_mlp:smoke", *args, f"--workdir={tmp() / 'w'}",
                   check=False, timeout=120)
  return f"exit status {proc.returncode}", proc.stderr


def _validate(updates: dict[str, Any], devices: int = 1) -> Callable[[], None]:
  def provoke():
    cfg = config_lib.derive(experiments.get_config("digits_mlp:smoke"), **updates)
    with unittest.mock.patch.object(jax, "device_count", return_value=devices):
      config_lib.validate_training(cfg)
  return provoke


def _old_config_key(key: str, value: Any) -> Callable[[], None]:
  def provoke():
    cfg = experiments.get_config("digits_mlp:smoke")
    with cfg.unlocked():
      cfg[key] = value
    config_lib.validate_training(cfg)
  return provoke


def _shard(rules) -> Callable[[], Any]:
  model = models.get("mlp", num_outputs=10, hidden=(256, 256))
  def provoke():
    abstract = jax.eval_shape(lambda x: step.init_state(model, optax.adam(1e-3), 0, x),
                              jax.ShapeDtypeStruct((1, 64), "float32"))
    mesh = jax.sharding.AbstractMesh((8, 1), mesh_lib.AXES)  # 8 devices, as shapes only
    sharding.state_shardings(abstract, mesh, mode="rules", rules=rules)
  return provoke


def _model_axis_3_of_8() -> None:
  with unittest.mock.patch.object(jax, "device_count", return_value=8):
    mesh_lib.make_mesh(3)


SCALE = "scale-out"
CASES: list[Case] = [
    Case(SCALE, "`--num_processes=2` without a coordinator or process id",
         lambda: _train("--num_processes=2"), "exit status 1",
         "error: a multi-process run needs --coordinator_address, --num_processes and "
         "--process_id together (missing: --coordinator_address, --process_id); or "
         "pass --distributed to let JAX detect the cluster (Slurm, TPU VM)."),
    Case(SCALE, "`--process_id=2 --num_processes=2`",
         lambda: _train("--coordinator_address=127.0.0.1:1234", "--num_processes=2",
                        "--process_id=2"), "exit status 1",
         "error: --process_id=2 must be in [0, --num_processes=2)."),
    Case(SCALE, "`--coordinator_address=node1` (no port)",
         lambda: _train("--coordinator_address=node1", "--num_processes=2",
                        "--process_id=0"), "exit status 1",
         "error: --coordinator_address='node1' must be HOST:PORT, the address of "
         "process 0, e.g. 10.0.0.1:1234."),
    Case(SCALE, "`parallel=pmap`", _validate({"parallel": "pmap"}), ConfigError,
         "config.parallel='pmap' is not a parallel mode; valid: jit, explicit."),
    Case(SCALE, "`data_placement=disk`", _validate({"data_placement": "disk"}), ConfigError,
         "config.data_placement='disk' is not a placement; valid: auto, device, host "
         "(auto: on the devices where the split fits)."),
    Case(SCALE, "`--config.data_on_device=True` (renamed)",
         lambda: _train("--config.data_on_device=True"), "exit status 1",
         "error: --config.data_on_device: config.data_on_device is now "
         "config.data_placement: 'device' (was True), 'host' (was False) or 'auto' (the "
         "default: on the devices where the split fits)."),
    Case(SCALE, "`data_on_device=True` in an experiment written before its rename",
         _old_config_key("data_on_device", True), ConfigError,
         "config.data_on_device is now config.data_placement: 'device' (was True), "
         "'host' (was False) or 'auto' (the default: on the devices where the split "
         "fits)."),
    Case(SCALE, "`accumulate_steps=3` with `batch_size=16` on 8 devices",
         _validate({"accumulate_steps": 3}, devices=8), ConfigError,
         "config.accumulate_steps=3 must divide the 2 rows each device gets "
         "(batch_size=16 over 8 devices); use a divisor of 2, or a batch_size that is "
         "a multiple of 24."),
    Case(SCALE, "`accumulate_steps=0`", _validate({"accumulate_steps": 0}), ConfigError,
         "config.accumulate_steps must be a positive integer (1 = no accumulation), "
         "got 0."),
    Case(SCALE, "`ema_decay=1.0`", _validate({"ema_decay": 1.0}), ConfigError,
         "config.ema_decay must be in [0, 1) (0 = no moving average; e.g. 0.999), got "
         "1.0."),
    Case(SCALE, "`parallel=explicit` with `sharding.params=fsdp`",
         _validate({"parallel": "explicit", "sharding.params": "fsdp"}), ConfigError,
         "config.parallel='explicit' replicates the parameters on every device, so "
         "config.sharding.params='fsdp' cannot apply; use parallel='jit' to shard them."),
    Case(SCALE, "`model.dtype=bfloat61`",
         lambda: models.get("mlp", num_outputs=10, dtype="bfloat61"), ConfigError,
         "config.model.dtype='bfloat61' (model 'mlp'): unknown dtype"),
    Case(SCALE, "`sharding.model_axis=3` on 8 devices", _model_axis_3_of_8, ConfigError,
         "config.sharding.model_axis=3 must be a positive integer that divides the 8 "
         "device(s); valid values: [1, 2, 4, 8]"),
    Case(SCALE, "`sharding.rules` whose regex matches no parameter",
         _shard(((r"Dense_9/kernel$", (None, "model")),)), ConfigError,
         "config.sharding.rules: rule ('Dense_9/kernel$', (None, 'model')) matches no "
         "leaf of the state; its paths look like params/Dense_0/bias"),
    Case(SCALE, "`sharding.rules` splitting a dimension the axis does not divide",
         _shard(((r"Dense_2/kernel$", (None, "data")),)), ConfigError,
         "does not divide into the"),
]
