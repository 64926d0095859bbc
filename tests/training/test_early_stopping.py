"""Early stopping (notes 004): the decision rule, the kept best checkpoint, resume,
and notes 004's L2 form against optax's weight decay."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

import experiments
from nn_lib.registry import ConfigError
from nn_lib.training import early_stopping, train_and_evaluate
from nn_lib.training import step as step_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.writers import History
from tests.training.test_resume import assert_trees_equal


def _history(values, split="dev", name="accuracy", every=10) -> History:
  history = History()
  for i, value in enumerate(values):
    history.add((i + 1) * every, split, {name: value})
    history.add((i + 1) * every, "test", {name: value / 2})
  return history


def test_decision_waits_patience_evaluations_after_the_best():
  rule = early_stopping.EarlyStopping("dev/accuracy", "max", patience=2)
  assert rule.decide(_history([0.5, 0.7, 0.6])) == early_stopping.Decision(20, 0.7, False)
  decision = rule.decide(_history([0.5, 0.7, 0.6, 0.7]))  # equal is no improvement
  assert (decision.best_step, decision.best_value, decision.stop) == (20, 0.7, True)
  assert "did not improve on its best (0.7 at step 20) for 2 evaluations" in decision.reason
  assert not rule.decide(_history([0.5, 0.7, 0.6, 0.71])).stop
  assert early_stopping.best_values(_history([0.5, 0.7, 0.6]), 20) == {
      "best/dev/accuracy": 0.7, "best/test/accuracy": 0.35}


def test_min_delta_and_min_mode():
  rule = early_stopping.EarlyStopping("dev/loss", "min", patience=1, min_delta=0.1)
  # 0.95 is lower than 1.0 by less than min_delta: not an improvement
  assert rule.decide(_history([1.0, 0.95], name="loss")) == early_stopping.Decision(
      10, 1.0, True, rule.decide(_history([1.0, 0.95], name="loss")).reason)
  assert rule.decide(_history([1.0, 0.85], name="loss")).best_step == 20


def _config(**early):
  cfg = experiments.get_config("digits_mlp:smoke")
  cfg.data.dev_fraction = 0.2
  cfg.eval_splits = ("dev", "test")
  cfg.num_steps, cfg.eval_every, cfg.checkpoint_every, cfg.log_every = 40, 5, 5, 5
  cfg.keep_checkpoints = 10
  cfg.schedule = ml_collections.ConfigDict(dict(name="constant"))  # same for any length
  cfg.early_stopping.update(early)
  return cfg


@pytest.mark.parametrize("early, message", [
    (dict(metric="test/f1"), "is not evaluated"),
    (dict(metric="train/accuracy"), "is not evaluated"),
    (dict(metric="dev/accuracy", mode="up"), "use 'max'"),
    (dict(metric="dev/accuracy", patience=0), "patience=0 must be an integer >= 1"),
    (dict(metric="dev/accuracy", min_delta=-1.0), "min_delta=-1.0 must be a number"),
])
def test_bad_settings_are_refused(early, message):
  with pytest.raises(ConfigError, match=message):
    early_stopping.from_config(_config(**early))


def test_stops_keeps_the_best_checkpoint_and_resumes_bit_identically(tmp_path):
  # min_delta 1.0 on an accuracy: only the first evaluation (step 5) is ever the
  # best, so with patience 2 the run stops after the evaluation of step 15
  cfg = _config(metric="dev/accuracy", patience=2, min_delta=1.0)
  result = train_and_evaluate(cfg, tmp_path / "whole")
  assert (result.stopped_at, result.best_step, result.trained_steps) == (15, 5, 15)
  assert "early stopping: dev/accuracy did not improve" in result.stop_reason
  assert result.final["best/step"] == 5
  assert result.final["best/dev/accuracy"] == result.history.curve("dev", "accuracy")[1][0]
  best_dir = tmp_path / "whole" / "best_checkpoint"
  assert sorted(int(p.name) for p in best_dir.iterdir() if p.name.isdigit()) == [5]

  # the kept state is the state of step 5, which the resumable checkpoints also hold
  saved = Checkpointer(tmp_path / "whole", 10)
  assert_trees_equal(result.best_state, saved.restore(5, result.state))
  saved.close()

  # killed after step 10 (a shorter run stands in for the kill), then re-run
  interrupted = _config(metric="dev/accuracy", patience=2, min_delta=1.0)
  interrupted.num_steps = 10
  assert train_and_evaluate(interrupted, tmp_path / "resumed").stopped_at is None
  resumed = train_and_evaluate(cfg, tmp_path / "resumed")
  assert (resumed.start_step, resumed.stopped_at, resumed.best_step) == (10, 15, 5)
  assert_trees_equal(resumed.state, result.state)
  assert_trees_equal(resumed.best_state, result.best_state)

  # a stopped run stays stopped when re-run
  again = train_and_evaluate(cfg, tmp_path / "whole")
  assert (again.trained_steps, again.stopped_at) == (0, 15)


def test_l2_lambda_is_notes_weight_decay():
  """lambda/(2m) ||W||^2 adds lambda/m W to the gradient of every kernel (not the
  biases): one SGD step equals optax.add_decayed_weights(lambda/m) + sgd."""
  params = {"Dense_0": {"kernel": jnp.array([[1.0, -2.0], [0.5, 3.0]]),
                        "bias": jnp.array([1.0, 1.0])}}
  reg = ml_collections.ConfigDict(dict(l2_lambda=0.7))
  m = 4
  value, grads = jax.value_and_grad(step_lib.regularization)(params, reg, m)
  np.testing.assert_allclose(value, 0.7 / 8 * (1 + 4 + 0.25 + 9), rtol=1e-6)
  np.testing.assert_allclose(grads["Dense_0"]["kernel"],
                             0.7 / 4 * params["Dense_0"]["kernel"], rtol=1e-6)
  np.testing.assert_array_equal(grads["Dense_0"]["bias"], 0.0)
  data_grads = jax.tree.map(lambda x: 0.1 * jnp.ones_like(x), params)
  lr = 0.3
  ours = optax.apply_updates(params, jax.tree.map(lambda g, r: -lr * (g + r),
                                                  data_grads, grads))
  decay = optax.chain(optax.add_decayed_weights(0.7 / m, mask=step_lib._kernels),
                      optax.sgd(lr))
  updates, _ = decay.update(data_grads, decay.init(params), params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), ours,
               optax.apply_updates(params, updates))


def test_best_checkpointer_keeps_the_best_by_orbax(tmp_path):
  state = {"w": jnp.zeros(3)}
  best = Checkpointer(tmp_path, 1, name="best", best_mode="min")
  for step, loss in [(1, 2.0), (2, 1.0), (3, 1.5)]:
    best.save(step, {"w": state["w"] + step}, metric=loss)
  best.wait()
  assert best.steps() == [2] and best.best_step() == 2
  np.testing.assert_array_equal(best.restore(2, state)["w"], [2.0, 2.0, 2.0])
  best.close()
