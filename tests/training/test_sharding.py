"""Parameter sharding: the spec of every state leaf (on abstract shapes and an
AbstractMesh, no devices needed), and on 8 forced CPU devices, training with FSDP-
or rule-sharded state equals replicated training while each device holds the
expected share of the parameters."""
from __future__ import annotations

import functools

import jax
import numpy as np
import optax
import pytest
from jax.sharding import AbstractMesh, AxisType, PartitionSpec as P

from nn_lib import models
from nn_lib.registry import ConfigError
from nn_lib.training import mesh as mesh_lib
from nn_lib.training import sharding
from nn_lib.training import step as step_lib
from tests.training.test_scale_out import run_scale_out_check


def _mesh(data: int, model: int) -> AbstractMesh:
  return AbstractMesh((data, model), mesh_lib.AXES, axis_types=(AxisType.Auto,) * 2)


@functools.cache
def _abstract_state():
  """{step, params, opt_state (Adam), model_state, rng} of a 64-256-256-10 MLP."""
  model = models.get("mlp", num_outputs=10, hidden=(256, 256))
  return jax.eval_shape(lambda x: step_lib.init_state(model, optax.adam(1e-2), 0, x),
                        jax.ShapeDtypeStruct((1, 64), np.float32))


def _specs(shardings) -> dict[str, P]:
  return {sharding.leaf_path(p): s.spec
          for p, s in jax.tree_util.tree_flatten_with_path(shardings)[0]}


def _assert_moments_follow(specs: dict[str, P]) -> None:
  for path, spec in specs.items():
    if path.startswith("params/"):
      name = path.removeprefix("params/")
      assert specs[f"opt_state/0/mu/{name}"] == specs[f"opt_state/0/nu/{name}"] == spec


def test_make_mesh_is_2d_and_checks_model_axis():
  n = jax.device_count()
  mesh = mesh_lib.make_mesh()
  assert dict(mesh.shape) == {"data": n, "model": 1}
  assert mesh_lib.data_axis_size(mesh) == n
  for bad in (0, -1, n + 1, 1.5):
    with pytest.raises(ConfigError, match="model_axis"):
      mesh_lib.make_mesh(bad)


def test_put_batch_refuses_data_rows_split_across_processes():
  """With several processes each feeds its own rows; a `data` row whose `model`
  devices lie in two processes would get different rows from each."""
  class FakeMesh:  # hashable by identity, like the check's cache needs
    axis_names = mesh_lib.AXES
    shape = {"data": 2, "model": 2}

    def __init__(self, owners):
      self.devices = np.array([[type("Device", (), {"process_index": p})() for p in row]
                               for row in owners])

  mesh_lib._check_rows_within_processes(FakeMesh([[0, 0], [1, 1]]))  # pylint: disable=protected-access
  with pytest.raises(ConfigError, match=r"data row 0 .* spans processes \[0, 1\]"):
    mesh_lib._check_rows_within_processes(FakeMesh([[0, 1], [0, 1]]))  # pylint: disable=protected-access


def test_replicated_mode_replicates_everything():
  specs = _specs(sharding.state_shardings(_abstract_state(), _mesh(8, 1)))
  assert set(specs.values()) == {P()}


def test_fsdp_splits_large_leaves_over_data_on_their_largest_dimension():
  specs = _specs(sharding.state_shardings(_abstract_state(), _mesh(8, 1), mode="fsdp"))
  assert specs["params/Dense_0/kernel"] == P(None, "data")   # (64, 256): the larger
  assert specs["params/Dense_1/kernel"] == P("data", None)   # (256, 256): the first
  assert specs["params/Dense_2/kernel"] == P()               # 2,560 < min_size
  assert specs["params/Dense_1/bias"] == specs["step"] == specs["rng"] == P()
  assert specs["opt_state/0/count"] == P()
  _assert_moments_follow(specs)

  spec = functools.partial(sharding.leaf_spec, axis_sizes={"data": 8, "model": 1},
                           mode="fsdp", min_size=64)
  assert spec("ema_params/w", (12, 40)) == P(None, "data")  # only 40 divides by 8
  assert spec("params/w", (12, 20)) == P()                  # nothing divides
  assert spec("params/w", (4, 8)) == P()                    # under min_size
  assert spec("params/w", (8, 8, 16)) == P(None, None, "data")
  assert sharding.leaf_spec("params/w", (64, 64), {"data": 1, "model": 8}, "fsdp",
                            min_size=1) == P()              # nothing to split over


def test_rules_first_match_applies_and_moments_follow():
  rules = ((r"Dense_0/kernel$", (None, "model")), (r"kernel$", ("data", None)),
           (r"Dense_1/bias$", (("data", "model"),)))
  specs = _specs(sharding.state_shardings(_abstract_state(), _mesh(4, 2), mode="rules",
                                          rules=rules))
  assert specs["params/Dense_0/kernel"] == P(None, "model")
  assert specs["params/Dense_1/kernel"] == specs["params/Dense_2/kernel"] == P("data", None)
  assert specs["params/Dense_1/bias"] == P(("data", "model"))
  assert specs["params/Dense_0/bias"] == specs["step"] == specs["opt_state/0/count"] == P()
  _assert_moments_follow(specs)


@pytest.mark.parametrize("mode, rules, mesh, match", [
    ("rules", [(r"Dense_0/kernel$", ("model",))], (4, 2),
     r"params/Dense_0/kernel of shape \(64, 256\).*1 entries for its 2 dimensions"),
    ("rules", [(r"Dense_0/kernel$", (None, "tensor"))], (4, 2),
     r"axis 'tensor'; the mesh has the axes \('data', 'model'\)"),
    ("rules", [(r"Dense_2/kernel$", (None, "model"))], (2, 4),
     r"params/Dense_2/kernel of shape \(256, 10\).*dimension 1 \(size 10\)"),
    ("rules", [(r"Dense_0/kernel$", ("model", "model"))], (4, 2), "twice"),
    ("rules", [(r"Dense_9/kernel$", (None, "model"))], (4, 2),
     "matches no leaf.*params/Dense_0/bias"),
    ("rules", [(r"kernel$", "model")], (4, 2), "one mesh axis name or None per dimension"),
    ("rules", [("kernel[", (None, "model"))], (4, 2), "must be \\(regex, spec\\)"),
    ("rules", [], (4, 2), "needs at least one"),
    ("fsdp", [(r"kernel$", (None, "model"))], (4, 2), "mode 'rules' only"),
    ("zero3", [], (8, 1), "valid: replicated, fsdp, rules"),
])
def test_bad_sharding_configs_are_config_errors(mode, rules, mesh, match):
  with pytest.raises(ConfigError, match=match):
    sharding.state_shardings(_abstract_state(), _mesh(*mesh), mode=mode, rules=rules)


def test_describe_lists_sharded_parameters_and_the_share_each_device_holds():
  state = _abstract_state()
  text = sharding.describe(sharding.state_shardings(state, _mesh(8, 1), mode="fsdp"), state)
  sizes = {k: v["kernel"].size + v["bias"].size for k, v in state["params"].items()}
  kernels = state["params"]["Dense_0"]["kernel"].size + state["params"]["Dense_1"]["kernel"].size
  expected = (sum(sizes.values()) - kernels * 7 / 8) / sum(sizes.values())
  assert f"each device holds {expected:.1%} of the" in text
  assert "params/Dense_1/kernel" in text and "P('data', None)" in text
  assert "Dense_2" not in text and "4 more sharded leaves" in text
  text = sharding.describe(sharding.state_shardings(state, _mesh(8, 1)), state)
  assert text.startswith("every leaf replicated") and "holds 100.0%" in text


@pytest.fixture(scope="session")
def eight_device_runs(tmp_path_factory) -> dict:
  return run_scale_out_check(tmp_path_factory)


def test_eight_devices_sharded_training_matches_replicated(eight_device_runs):
  """5 Adam steps with the state replicated (mesh 8x1), FSDP-sharded (8x1) and
  rule-sharded over `model` (4x2); see _sharding_check.py (run in the 8-device
  process of test_scale_out.py's _scale_out_check.py)."""
  assert eight_device_runs["devices"] == 8
  out = eight_device_runs["sharding"]
  runs = out["runs"]
  assert out["moved"] > 1e-3                           # the steps changed the parameters
  for name, run in runs.items():
    assert run["wrong_shardings"] == [], name           # (c) nothing silently replicated
    assert run["moments_follow"], name
    assert run["fraction"] == pytest.approx(run["expected"], abs=1e-12), name  # (b)
  for name in ("fsdp", "rules"):
    assert runs[name]["max_abs_diff"] <= 1e-5, name      # (a)
  assert runs["replicated"]["fraction"] == 1.0
  assert runs["fsdp"]["fraction"] < 0.2 and runs["rules"]["fraction"] < 0.55
  assert runs["fsdp"]["sharded_specs"] == {"Dense_0/kernel": "P(None, 'data')",
                                           "Dense_1/kernel": "P('data', None)"}
  assert runs["rules"]["mesh"] == [4, 2]
  # The FSDP checkpoint restores onto one device, bit-identical to what was saved.
  restore = out["restore"]
  assert restore["bit_identical"] and restore["same_structure"], restore
  assert restore["devices"] == [0], restore
