"""Notes 004's optimizers, EWA and epoch learning-rate decay, checked against the
notes' equations written out in float64 numpy, against optax, and on the notes'
worked numbers."""
from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from nn_lib.plots.smoothing import ewma, ewma_window
from nn_lib.registry import ConfigError
from nn_lib.training import optim
from nn_lib.training.notes_optimizers import notes_adam, notes_momentum, notes_rmsprop

NUM_STEPS = 20
Tree = dict[str, np.ndarray]


def _params() -> Tree:
  rng = np.random.default_rng(0)
  return {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=(2,))}


def _grads_seq() -> list[Tree]:
  """A fixed random gradient per step, shaped like `_params()`."""
  rng = np.random.default_rng(1)
  return [{"w": rng.normal(size=(3, 2)), "b": rng.normal(size=(2,))}
          for _ in range(NUM_STEPS)]


def _run(tx: optax.GradientTransformation, dtype: jnp.dtype) -> Tree:
  """Params after NUM_STEPS jitted updates with `_grads_seq()`."""
  params = jax.tree.map(lambda x: jnp.asarray(x, dtype), _params())
  state, update = tx.init(params), jax.jit(tx.update)
  for grads in _grads_seq():
    updates, state = update(jax.tree.map(lambda g: jnp.asarray(g, dtype), grads),
                            state, params)
    params = optax.apply_updates(params, updates)
  return jax.tree.map(np.asarray, params)


def _run_x64(tx: optax.GradientTransformation) -> Tree:
  with jax.enable_x64(True):
    return _run(tx, jnp.float64)


# The notes' equations, one leaf at a time, float64; t = 1, 2, ...; lr_t(t) is the
# rate of update t (a schedule sees step t - 1).
def _reference(step_fn: Callable[[np.ndarray, dict, int], np.ndarray],
               lr_t: Callable[[int], float]) -> Tree:
  params = _params()
  memory = {key: {} for key in params}
  for t, grads in enumerate(_grads_seq(), start=1):
    for key in params:
      params[key] = params[key] - lr_t(t) * step_fn(grads[key], memory[key], t)
  return params


def _momentum_step(beta: float, bias_correction: bool):
  def step(g, m, t):
    m["v"] = beta * m.get("v", 0.0) + (1 - beta) * g
    return m["v"] / (1 - beta ** t) if bias_correction else m["v"]
  return step


def _rmsprop_step(beta: float, eps: float, bias_correction: bool):
  def step(g, m, t):
    m["s"] = beta * m.get("s", 0.0) + (1 - beta) * g ** 2
    s = m["s"] / (1 - beta ** t) if bias_correction else m["s"]
    return g / np.sqrt(s + eps)
  return step


def _adam_step(beta1: float, beta2: float, eps: float):
  def step(g, m, t):
    m["v"] = beta1 * m.get("v", 0.0) + (1 - beta1) * g
    m["s"] = beta2 * m.get("s", 0.0) + (1 - beta2) * g ** 2
    v_c, s_c = m["v"] / (1 - beta1 ** t), m["s"] / (1 - beta2 ** t)
    return v_c / np.sqrt(s_c + eps)
  return step


def _assert_trees_close(actual: Tree, expected: Tree, atol: float, rtol: float = 0.0):
  assert set(actual) == set(expected)
  for key in expected:
    np.testing.assert_allclose(actual[key], expected[key], atol=atol, rtol=rtol,
                               err_msg=key)


def _decaying(step):  # a schedule: 0.05 / (1 + step)
  return 0.05 / (1.0 + step)


CASES = [
    ("momentum", lambda lr: notes_momentum(lr, beta=0.9), _momentum_step(0.9, False)),
    ("momentum_bc", lambda lr: notes_momentum(lr, beta=0.8, bias_correction=True),
     _momentum_step(0.8, True)),
    ("rmsprop", lambda lr: notes_rmsprop(lr, beta=0.999),
     _rmsprop_step(0.999, 1e-8, False)),
    ("rmsprop_bc", lambda lr: notes_rmsprop(lr, beta=0.9, eps=1e-6, bias_correction=True),
     _rmsprop_step(0.9, 1e-6, True)),
    ("adam", lambda lr: notes_adam(lr), _adam_step(0.9, 0.999, 1e-8)),
    ("adam_betas", lambda lr: notes_adam(lr, beta1=0.5, beta2=0.9, eps=1e-4),
     _adam_step(0.5, 0.9, 1e-4)),
]


@pytest.mark.parametrize("name, make, step_fn", CASES, ids=[c[0] for c in CASES])
def test_notes_optimizers_follow_the_notes_equations_over_20_steps(name, make, step_fn):
  del name
  expected = _reference(step_fn, lambda t: 0.01)
  _assert_trees_close(_run_x64(make(0.01)), expected, atol=1e-6)
  # float32 params stay float32 and agree to float32 rounding.
  actual32 = _run(make(0.01), jnp.float32)
  assert all(v.dtype == np.float32 for v in actual32.values())
  _assert_trees_close(actual32, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make, step_fn", [(notes_momentum, _momentum_step(0.9, False)),
                                           (notes_adam, _adam_step(0.9, 0.999, 1e-8))])
def test_a_schedule_is_read_at_the_step_before_the_update(make, step_fn):
  expected = _reference(step_fn, lambda t: _decaying(t - 1))
  _assert_trees_close(_run_x64(make(_decaying)), expected, atol=1e-6)


def test_notes_adam_is_optax_adam_with_eps_in_the_root():
  ours = _run_x64(notes_adam(0.01))
  _assert_trees_close(ours, _run_x64(optax.adam(0.01, eps=0.0, eps_root=1e-8)),
                      atol=1e-10)
  # optax's default eps placement, sqrt(s) + eps, differs by far less than 1e-6 here.
  _assert_trees_close(ours, _run_x64(optax.adam(0.01)), atol=1e-6)
  _assert_trees_close(_run(notes_adam(0.01), jnp.float32),
                      _run(optax.adam(0.01), jnp.float32), atol=1e-6)


def test_notes_momentum_is_optax_sgd_momentum_with_lr_times_one_minus_beta():
  beta, lr = 0.9, 0.05
  ours = _run_x64(notes_momentum(lr, beta))
  _assert_trees_close(ours, _run_x64(optax.sgd(lr * (1 - beta), momentum=beta)),
                      atol=1e-10)
  _assert_trees_close(_run(notes_momentum(lr, beta), jnp.float32),
                      _run(optax.sgd(lr * (1 - beta), momentum=beta), jnp.float32),
                      atol=1e-6)
  # The same lr is NOT the same optimizer: optax's steps are 1 / (1 - beta) larger.
  same_lr = _run_x64(optax.sgd(lr, momentum=beta))
  assert np.abs(same_lr["w"] - ours["w"]).max() > 0.1


def test_notes_rmsprop_is_optax_rmsprop():
  for kw in ({}, {"bias_correction": True}):
    _assert_trees_close(_run_x64(notes_rmsprop(0.01, beta=0.99, **kw)),
                        _run_x64(optax.rmsprop(0.01, decay=0.99, **kw)), atol=1e-10)


def test_notes_optimizers_chain_and_their_state_is_a_pytree():
  tx = optax.chain(optax.clip_by_global_norm(1.0), notes_adam(0.01))
  state = tx.init(_params())
  adam_state = state[1]
  assert type(adam_state).__name__ == "NotesAdamState"
  assert int(adam_state.count) == 0 and len(jax.tree.leaves(state)) == 1 + 2 * 2
  updates, state = jax.jit(tx.update)(_grads_seq()[0], state)
  assert int(state[1].count) == 1 and updates["w"].shape == (3, 2)


def test_notes_optimizers_are_registered_beside_optax():
  for name, fn in (("notes_momentum", notes_momentum), ("notes_rmsprop", notes_rmsprop),
                   ("notes_adam", notes_adam)):
    assert optim.OPTIMIZERS.get(name) is fn
  assert optim.OPTIMIZERS.get("adam") is optax.adam and "ewma" not in optim.OPTIMIZERS


@pytest.mark.parametrize("make, key, value", [
    (lambda: notes_momentum(0.1, beta=1.0), "beta", 1.0),
    (lambda: notes_rmsprop(0.1, beta=-0.1), "beta", -0.1),
    (lambda: notes_rmsprop(0.1, eps=-1.0), "eps", -1.0),
    (lambda: notes_adam(0.1, beta2=1.5), "beta2", 1.5),
])
def test_bad_optimizer_hyperparameters_are_config_errors(make, key, value):
  with pytest.raises(ConfigError, match=rf"optimizer\.{key}={value} must be .*"
                     rf"--config\.optimizer\.{key}"):
    make()


# ---------------------------------------------------------------------------
# Exponentially weighted averages.
# ---------------------------------------------------------------------------
def test_ewma_on_the_notes_temperatures():
  theta_t = [4.0, 9.0]  # London: theta_1 = 4 C, theta_2 = 9 C; beta = 0.9
  np.testing.assert_allclose(ewma(theta_t, 0.9, bias_correction=False), [0.4, 1.26])
  np.testing.assert_allclose(ewma(theta_t, 0.9), [4.0, 1.26 / 0.19])


def test_ewma_weights_are_the_notes_expansion_of_v100():
  # V_100 = 0.1 theta_100 + 0.09 theta_99 + 0.081 theta_98 + 0.1 * 0.9^3 theta_97 + ...
  for age, weight in enumerate([0.1, 0.09, 0.081, 0.1 * 0.9 ** 3]):
    impulse_t = np.zeros(100)
    impulse_t[99 - age] = 1.0
    assert ewma(impulse_t, 0.9, bias_correction=False)[-1] == pytest.approx(weight)


def test_ewma_bias_correction_starts_at_the_first_value_and_keeps_constants():
  values_t = np.random.default_rng(2).normal(5.0, 1.0, size=(30, 2))
  for beta in (0.5, 0.9, 0.98):
    smoothed_t = ewma(values_t, beta)
    assert smoothed_t.shape == values_t.shape and smoothed_t.dtype == np.float64
    np.testing.assert_allclose(smoothed_t[0], values_t[0])
    np.testing.assert_allclose(ewma(np.full(30, 7.0), beta), 7.0)
  assert ewma(np.full(3, 7.0), 0.9, bias_correction=False)[0] == pytest.approx(0.7)


def test_ewma_window_is_the_notes_days_rule():
  for beta, days in ((0.9, 10), (0.98, 50), (0.5, 2)):
    assert ewma_window(beta) == pytest.approx(days)
  # beta^(1/(1-beta)) ~ 1/e: 0.9^10 and 0.98^50 (the notes' argument).
  assert 0.9 ** 10 == pytest.approx(1 / math.e, abs=0.02)
  assert 0.98 ** 50 == pytest.approx(1 / math.e, abs=0.01)
  with pytest.raises(ValueError, match=r"beta=1\.0 must be in \[0, 1\)"):
    ewma([1.0, 2.0], 1.0)


# ---------------------------------------------------------------------------
# Learning-rate decay in epochs.
# ---------------------------------------------------------------------------
def _schedule(name: str, lr: float, steps_per_epoch: int | None = 5, **kw):
  return optim.make_schedule({"name": name, **kw}, lr, 100,
                             steps_per_epoch=steps_per_epoch)


def _values(schedule, steps: list[int]) -> list[float]:
  return [float(schedule(step)) for step in steps]


def test_inverse_time_gives_the_lectures_worked_example():
  # alpha0 = 0.2, decay_rate = 1: epoch 1 -> 0.1, 2 -> 0.067, 3 -> 0.05, 4 -> 0.04.
  schedule = _schedule("inverse_time", 0.2, decay_rate=1.0)
  np.testing.assert_allclose(_values(schedule, [0, 4, 5, 9, 10, 15]),
                             [0.1, 0.1, 0.2 / 3, 0.2 / 3, 0.05, 0.04], rtol=1e-6)
  schedule = _schedule("inverse_time", 0.3, decay_rate=0.5)
  assert float(schedule(12)) == pytest.approx(0.3 / 2.5)  # step 12 is epoch 3


def test_exponential_epoch_inverse_sqrt_and_staircase_by_hand():
  np.testing.assert_allclose(
      _values(_schedule("exponential_epoch", 1.0, steps_per_epoch=3), [0, 2, 3, 8]),
      [0.95, 0.95, 0.95 ** 2, 0.95 ** 3], rtol=1e-6)
  np.testing.assert_allclose(
      _values(_schedule("exponential_epoch", 0.5, base=0.5), [0, 5]), [0.25, 0.125])
  np.testing.assert_allclose(
      _values(_schedule("inverse_sqrt", 0.1, steps_per_epoch=4, k=2.0),
              [0, 3, 4, 12, 32]),  # epochs 1, 1, 2, 4, 9
      [0.2, 0.2, 0.2 / math.sqrt(2), 0.1, 0.2 / 3], rtol=1e-6)
  staircase = _schedule("staircase", 1.0, steps_per_epoch=10, boundaries=(3, 5),
                        factor=0.1)  # epoch 3 starts at step 20, epoch 5 at step 40
  np.testing.assert_allclose(_values(staircase, [0, 19, 20, 39, 40, 99]),
                             [1, 1, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)


def test_epoch_schedules_jit_and_step_schedules_are_unchanged():
  schedule = _schedule("inverse_time", 0.2)
  np.testing.assert_allclose(jax.jit(schedule)(jnp.int32(10)), 0.05, rtol=1e-6)
  # The step schedules ignore steps_per_epoch and do not need it.
  assert float(_schedule("constant", 0.3, steps_per_epoch=None)(50)) == pytest.approx(0.3)
  linear = optim.make_schedule({"name": "linear"}, 1.0, 100)
  assert float(linear(50)) == pytest.approx(0.5)


def test_make_optimizer_with_notes_adam_and_inverse_time_under_jit():
  cfg = ml_collections.ConfigDict({
      "optimizer": {"name": "notes_adam", "learning_rate": 0.2, "beta1": 0.9,
                    "clip_norm": 100.0},
      "schedule": {"name": "inverse_time", "decay_rate": 1.0},
      "num_steps": 12,
  })
  tx, schedule = optim.make_optimizer(cfg, steps_per_epoch=5)
  assert float(schedule(0)) == pytest.approx(0.1)
  by_hand = notes_adam(lambda step: 0.2 / (1.0 + (step // 5 + 1)), beta1=0.9)
  np.testing.assert_allclose(_run(tx, jnp.float32)["w"],
                             _run(by_hand, jnp.float32)["w"], atol=1e-6)

  def loss(params):
    return jnp.sum(params["w"] ** 2) + jnp.sum(params["b"] ** 2)

  @jax.jit
  def train_step(params, state):
    updates, state = tx.update(jax.grad(loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  params = jax.tree.map(jnp.asarray, _params())
  state, start = tx.init(params), loss(params)
  for _ in range(cfg.num_steps):
    params, state = train_step(params, state)
  assert loss(params) < 0.5 * start


@pytest.mark.parametrize("schedule, match", [
    ({"name": "inverse_time"}, r"schedule 'inverse_time' counts epochs, so it needs "
     r"steps_per_epoch: pass make_optimizer\(cfg, steps_per_epoch="),
    ({"name": "staircase", "boundaries": [2]}, r"schedule 'staircase' counts epochs"),
])
def test_epoch_schedules_without_steps_per_epoch_are_config_errors(schedule, match):
  cfg = ml_collections.ConfigDict({"optimizer": {"name": "notes_momentum",
                                                 "learning_rate": 0.1},
                                   "schedule": schedule, "num_steps": 10})
  with pytest.raises(ConfigError, match=match):
    optim.make_optimizer(cfg)


@pytest.mark.parametrize("kw, match", [
    ({"name": "inverse_time", "decay_rate": -1.0},
     r"schedule\.decay_rate=-1\.0 must be >= 0 .*--config\.schedule\.decay_rate"),
    ({"name": "exponential_epoch", "base": 0.0},
     r"schedule\.base=0\.0 must be in \(0, 1\]"),
    ({"name": "exponential_epoch", "base": 1.5},
     r"schedule\.base=1\.5 must be in \(0, 1\]"),
    ({"name": "inverse_sqrt", "k": 0.0}, r"schedule\.k=0\.0 must be > 0"),
    ({"name": "staircase"}, r"schedule\.boundaries=None must list the epochs"),
    ({"name": "staircase", "boundaries": (5, 3)},
     r"schedule\.boundaries=\(5, 3\) must be increasing whole epoch numbers >= 2"),
    ({"name": "staircase", "boundaries": (3, 3)}, r"schedule\.boundaries=\(3, 3\)"),
    ({"name": "staircase", "boundaries": (1, 3)}, r"schedule\.boundaries=\(1, 3\)"),
    ({"name": "staircase", "boundaries": (2,), "factor": 0.0},
     r"schedule\.factor=0\.0 must be > 0"),
    ({"name": "inverse_time", "decay": 1.0},
     r"schedule 'inverse_time' does not take \['decay'\]; it takes \['decay_rate'\]"),
])
def test_bad_schedule_values_are_config_errors(kw, match):
  with pytest.raises(ConfigError, match=match):
    optim.make_schedule(kw, 0.1, 100, steps_per_epoch=5)


def test_bad_steps_per_epoch_is_a_config_error():
  with pytest.raises(ConfigError, match=r"steps_per_epoch=0 must be a whole"):
    _schedule("inverse_time", 0.1, steps_per_epoch=0)
