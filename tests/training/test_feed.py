"""Feeding the device: calls of K steps, prefetching and on-device data change
nothing a run computes."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from nn_lib import data
from nn_lib.training import feed
from nn_lib.training import mesh as mesh_lib
from tests.conftest import run_experiment

# A constant learning rate: the resume test first trains to step 10 with
# num_steps=10, which would change a schedule that depends on num_steps.
STEPS = dict(num_steps=20, log_every=5, eval_every=10, checkpoint_every=10,
             schedule={"name": "constant"})


def test_calls_never_cross_a_cadence():
  assert feed.plan(0, 20, 4, (5, 10, 10)) == [(0, 4), (4, 1), (5, 4), (9, 1), (10, 4),
                                            (14, 1), (15, 4), (19, 1)]
  assert feed.plan(0, 12, 4, (4, 12)) == [(0, 4), (4, 4), (8, 4)]
  assert feed.plan(7, 10, 1, (5,)) == [(7, 1), (8, 1), (9, 1)]
  assert feed.plan(3, 7, 100, (1000,)) == [(3, 4)]    # the last call stops at num_steps
  assert feed.plan(5, 5, 4, (5,)) == []


def _params(result) -> list[np.ndarray]:
  return [np.asarray(x) for x in jax.tree.leaves(result.state["params"])]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """digits_mlp:smoke (dropout on) for 20 steps, one step per call, no prefetch."""
  return run_experiment("digits_mlp:smoke", tmp_path_factory.mktemp("ref"), prefetch=0,
                        **STEPS)


@pytest.mark.parametrize("options", [
    dict(steps_per_call=4),
    dict(steps_per_call=3, data_placement="device"),
    dict(data_placement="device", prefetch=4),
], ids=["k4", "k3_on_device", "on_device_prefetch4"])
def test_every_way_of_feeding_trains_bit_identical_parameters(reference, tmp_path, options):
  result = run_experiment("digits_mlp:smoke", tmp_path, **STEPS, **options)
  for a, b in zip(_params(reference), _params(result)):
    np.testing.assert_array_equal(a, b)
  # the same values logged at the same steps (minus wall-clock fields)
  strip = lambda rows: [(r["step"], r["split"], r["name"], r["value"]) for r in rows  # noqa: E731
                        if r["name"] != "steps_per_sec"]
  assert strip(result.history.rows) == strip(reference.history.rows)


def test_a_run_resumed_with_k_steps_per_call_ends_bit_identical(reference, tmp_path):
  run_experiment("digits_mlp:smoke", tmp_path, **{**STEPS, "num_steps": 10},
                 steps_per_call=4)
  resumed = run_experiment("digits_mlp:smoke", tmp_path, **STEPS, steps_per_call=4)
  assert resumed.start_step == 10
  for a, b in zip(_params(reference), _params(resumed)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("steps_per_call", [1, 3])
def test_the_prefetch_thread_yields_the_calls_in_order(steps_per_call):
  """On a CPU in one process the batches go to the step as numpy arrays without
  the thread; where they are transferred (forced here), the thread prepares
  `prefetch` calls ahead and yields the same calls, in order, placed."""
  rng = np.random.default_rng(0)
  split = {"inputs": rng.normal(size=(40, 3)).astype(np.float32),
           "targets": rng.integers(0, 4, 40)}
  batches = data.TrainBatches(split, 8, seed=1)
  mesh = mesh_lib.make_mesh(1)

  def calls(transfers):
    f = feed.Feed(batches, mesh, (5,), steps_per_call, prefetch=2, placement="host")
    assert f.transfers is (jax.default_backend() != "cpu")  # one process
    f.transfers = transfers
    return list(f(0, 11))

  direct, threaded = calls(False), calls(True)
  assert [(first, n) for first, n, _ in threaded] == [(first, n) for first, n, _ in direct]
  assert [(first, n) for first, n, _ in direct] == feed.plan(0, 11, steps_per_call, (5,))
  for (_, _, a), (_, _, b) in zip(direct, threaded):
    assert isinstance(a["inputs"], np.ndarray) and isinstance(b["inputs"], jax.Array)
    for k in a:
      np.testing.assert_array_equal(a[k], np.asarray(b[k]))


GB = 2**30


@pytest.mark.parametrize("placement, split_bytes, transfers, device_bytes, on_device", [
    ("device", 100 * GB, False, None, True),    # as asked, even where it saves nothing
    ("host", 1, True, 80 * GB, False),
    ("auto", 10 * GB, True, 80 * GB, True),     # exactly an eighth of the memory
    ("auto", 10 * GB + 1, True, 80 * GB, False),
    ("auto", 1, False, 80 * GB, False),         # one CPU process: no copy to save
    ("auto", 1, True, None, False),             # the device reports no memory limit
])
def test_auto_placement_keeps_a_split_that_fits_on_an_accelerator(
    placement, split_bytes, transfers, device_bytes, on_device):
  assert feed.split_on_device(placement, split_bytes, transfers, device_bytes) is on_device


def test_auto_placement_gathers_on_a_device_that_reports_its_memory(monkeypatch):
  """The wiring: on an accelerator (simulated: a backend other than the CPU and
  a memory limit) "auto" places the split and feeds row indices; the split's size
  counts 64-bit arrays as the 32 bits they are placed as."""
  split = {"inputs": np.zeros((40, 3), np.float64), "targets": np.zeros(40, np.int64)}
  batches = data.TrainBatches(split, 8, seed=1)
  mesh = mesh_lib.make_mesh(1)
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  placed = 40 * 3 * 4 + 40 * 4  # bytes as float32 and int32
  for limit, on_device in ((8 * placed, True), (8 * placed - 1, False)):
    monkeypatch.setattr(feed, "device_memory_bytes", lambda limit=limit: limit)
    f = feed.Feed(batches, mesh, (5,), prefetch=0)
    assert f.on_device is on_device
    (_, _, batch), = list(f(0, 1))
    assert sorted(batch) == (["rows"] if on_device else ["inputs", "targets"])
  assert f.dataset is None


def test_device_memory_is_unknown_on_the_cpu():
  if jax.default_backend() != "cpu":
    pytest.skip("a CPU-only fact")
  assert feed.device_memory_bytes() is None
