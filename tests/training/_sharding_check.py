"""With 8 forced CPU devices: 5 Adam steps of an MLP with the state replicated,
FSDP-sharded and rule-sharded; then a checkpoint of the FSDP state restored onto
one device. Prints one JSON line of measurements, which
tests/training/test_sharding.py asserts on (it gets them from
_scale_out_check.py, which runs `check` in its 8-device process).

Usage: python tests/training/_sharding_check.py WORKDIR
"""
from __future__ import annotations

import json
import sys
import time

import jax
import ml_collections
import numpy as np
import optax
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

from nn_lib import models
from nn_lib.training import mesh as mesh_lib
from nn_lib.training import objective, sharding
from nn_lib.training import step as step_lib
from nn_lib.training.checkpoint import Checkpointer

MIN_SIZE = 2**14
# Columns, then rows (Megatron's MLP split). Unanchored, so that Adam's moments
# ("opt_state/0/mu/Dense_0/kernel") follow their parameters.
HIDDEN_RULES = ((r"Dense_0/kernel$", (None, "model")), (r"Dense_1/kernel$", ("model", None)))
RUNS = {"replicated": (1, "replicated", ()), "fsdp": (1, "fsdp", ()),
        "rules": (2, "rules", HIDDEN_RULES)}


def expected_fraction(name: str, params: dict, data: int, model: int) -> float:
  """From the shapes alone, independently of sharding.py's bookkeeping."""
  held = total = 0.0
  for path, x in jax.tree_util.tree_flatten_with_path(params)[0]:
    path = sharding.leaf_path(path)
    part = 1
    if name == "fsdp" and x.size >= MIN_SIZE and any(n % data == 0 for n in x.shape):
      part = data
    if name == "rules" and path.endswith("kernel") and "Dense_2" not in path:
      part = model
    held, total = held + x.nbytes / part, total + x.nbytes
  return held / total


def check(workdir: str) -> dict:
  """The measurements (test_sharding.py asserts on them); also run by
  _scale_out_check.py, in its process."""
  assert jax.device_count() == 8, jax.devices()
  t0 = time.time()
  model = models.get("mlp", num_outputs=10, hidden=(256, 256))
  tx = optax.adam(1e-2)
  loss_fn = objective.loss_from_config(ml_collections.ConfigDict(
      dict(name="softmax_cross_entropy_with_integer_labels")))
  train_step = step_lib.make_train_step(model, tx, loss_fn, lambda s: 1e-2, ())
  rng = np.random.default_rng(0)
  batches = [{"inputs": rng.normal(size=(16, 64)).astype(np.float32),
              "targets": rng.integers(0, 10, size=16).astype(np.int32)} for _ in range(5)]

  def init(x):
    return step_lib.init_state(model, tx, 0, x)

  abstract = jax.eval_shape(init, batches[0]["inputs"][:1])
  out: dict = {"runs": {}}
  finals, initial = {}, None
  for name, (model_axis, mode, rules) in RUNS.items():
    t = time.time()
    mesh = mesh_lib.make_mesh(model_axis)
    shardings = sharding.state_shardings(abstract, mesh, mode=mode, rules=rules,
                                         min_size=MIN_SIZE)
    state = jax.jit(init, out_shardings=shardings)(batches[0]["inputs"][:1])
    initial = initial if initial is not None else jax.device_get(state["params"])
    step = jax.jit(train_step, in_shardings=(shardings, mesh_lib.batch_sharded(mesh)),
                   out_shardings=(shardings, mesh_lib.replicated(mesh)), donate_argnums=0)
    for batch in batches:
      state, metrics = step(state, mesh_lib.put_batch(batch, mesh))
      jax.block_until_ready(metrics["loss"])  # XLA:CPU collectives (mesh.py)
    # (c) the step's outputs keep the requested shardings: nothing was replicated
    flat = jax.tree_util.tree_flatten_with_path(state)[0]
    wrong = [sharding.leaf_path(p) for (p, x), want in zip(flat, jax.tree.leaves(shardings))
             if not x.sharding.is_equivalent_to(want, x.ndim)]
    data, model_size = mesh_lib.data_axis_size(mesh), dict(mesh.shape)["model"]
    finals[name] = jax.device_get(state["params"])
    out["runs"][name] = {
        "mesh": [data, model_size], "wrong_shardings": wrong,
        "fraction": sharding.per_device_fraction(state["params"]),
        "state_fraction": sharding.per_device_fraction(state),
        "expected": expected_fraction(name, finals[name], data, model_size),
        # Adam's moments are split exactly like their parameters
        "moments_follow": all(
            shardings["opt_state"][0].mu[k1][k2] == s and shardings["opt_state"][0].nu[k1][k2] == s
            for k1, layer in shardings["params"].items() for k2, s in layer.items()),
        "sharded_specs": {sharding.leaf_path(p): str(s.spec) for p, s in
                          jax.tree_util.tree_flatten_with_path(shardings["params"])[0]
                          if s.spec != P()},
        "seconds": round(time.time() - t, 2)}
    if name == "fsdp":
      fsdp_state = state
      print(sharding.describe(shardings, abstract), file=sys.stderr)

  # (a) the same parameters whatever the sharding; and they moved
  ref = jax.tree.leaves(finals["replicated"])
  for name in ("fsdp", "rules"):
    out["runs"][name]["max_abs_diff"] = max(
        float(np.max(np.abs(a - b))) for a, b in zip(ref, jax.tree.leaves(finals[name])))
  out["moved"] = max(float(np.max(np.abs(a - b)))
                     for a, b in zip(ref, jax.tree.leaves(initial)))

  # The FSDP checkpoint restores onto one device, bit-identical to what was saved.
  t = time.time()
  checkpointer = Checkpointer(workdir, 2)
  checkpointer.save(5, fsdp_state)
  checkpointer.wait()
  one = jax.make_mesh((1, 1), mesh_lib.AXES, axis_types=(AxisType.Auto,) * 2,
                      devices=jax.devices()[:1])
  like = jax.jit(init, out_shardings=NamedSharding(one, P()))(batches[1]["inputs"][:1])
  restored = checkpointer.restore_latest(like)
  checkpointer.close()
  saved, restored_host = jax.device_get(fsdp_state), jax.device_get(restored)
  out["restore"] = {
      "bit_identical": all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(
          jax.tree.leaves(saved), jax.tree.leaves(restored_host))),
      "same_structure": jax.tree.structure(saved) == jax.tree.structure(restored_host),
      "devices": sorted({d.id for x in jax.tree.leaves(restored) for d in x.devices()}),
      "seconds": round(time.time() - t, 2)}
  out["seconds"] = round(time.time() - t0, 2)
  return out


def main(workdir: str) -> None:
  print(json.dumps(check(workdir)))


if __name__ == "__main__":
  main(sys.argv[1])
