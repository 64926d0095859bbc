"""Train state and the pure supervised train step (jitted by the trainer).

State is one plain dict pytree: {step, params, opt_state, model_state, rng}.
`model_state` holds the model's mutable collections (batch-norm statistics).
"""
from __future__ import annotations

from typing import Any, Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import losses
from nn_lib import metrics as metrics_lib
from nn_lib.training.objective import LossFn

State = dict[str, Any]
Batch = dict[str, jax.Array]

STATE_FINITE = "state_finite"   # a train-step output read by the loop, not a metric


def all_finite(*trees) -> jax.Array:
  """True iff every floating-point entry of the trees is finite."""
  checks = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(trees)
            if jnp.issubdtype(x.dtype, jnp.inexact)]
  return jnp.all(jnp.stack(checks)) if checks else jnp.array(True)


def init_state(model: nn.Module, tx: optax.GradientTransformation, seed: int,
               sample_inputs: jax.Array) -> State:
  """Initial parameters, optimizer state and model state (pure; jit it)."""
  params_rng, dropout_rng, state_rng = jax.random.split(jax.random.PRNGKey(seed), 3)
  variables = dict(model.init({"params": params_rng, "dropout": dropout_rng},
                              sample_inputs, train=False))
  params = variables.pop("params")
  return {"step": jnp.zeros((), jnp.int32), "params": params,
          "opt_state": tx.init(params), "model_state": variables, "rng": state_rng}


def _kernels(params) -> Any:
  """Regularize weight matrices and conv kernels, not biases or norm scales."""
  return jax.tree.map(lambda x: x.ndim >= 2, params)


def regularization(params, cfg_reg: Any) -> jax.Array:
  """lambda_2 R_L2(W) + lambda_1 R_L1(W) over the kernels (notes 001, 004)."""
  total = jnp.zeros((), jnp.float32)
  if cfg_reg is None:
    return total
  if cfg_reg.get("l2", 0.0):
    total += cfg_reg.l2 * losses.l2_penalty(params, mask=_kernels)
  if cfg_reg.get("l1", 0.0):
    total += cfg_reg.l1 * losses.l1_penalty(params, mask=_kernels)
  return total


def make_train_step(model: nn.Module, tx: optax.GradientTransformation,
                    loss_fn: LossFn, schedule: Callable, metric_names=(),
                    cfg_regularizer: Any = None):
  """train_step(state, batch) -> (state, metrics); pure, so it can be jitted.

  The objective is the mean per-example loss plus the config's regularization;
  the logged `loss` is the data loss alone, `regularization` the penalty.
  """

  def train_step(state: State, batch: Batch) -> tuple[State, dict[str, jax.Array]]:
    chex.assert_equal_shape_prefix((batch["inputs"], batch["targets"]), 1)
    # Folding the step into the key makes dropout a function of (seed, step), so a
    # resumed run draws exactly the masks the uninterrupted run drew.
    dropout_rng = jax.random.fold_in(state["rng"], state["step"])
    mutable = list(state["model_state"])

    def objective(params):
      variables = {"params": params, **state["model_state"]}
      outputs, new_model_state = model.apply(
          variables, batch["inputs"], train=True, rngs={"dropout": dropout_rng},
          mutable=mutable)
      loss = losses.reduce(loss_fn(outputs, batch["targets"]))
      penalty = regularization(params, cfg_regularizer)
      return loss + penalty, (loss, penalty, outputs, new_model_state)

    (_, (loss, penalty, outputs, new_model_state)), grads = jax.value_and_grad(
        objective, has_aux=True)(state["params"])
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    new_state = {"step": state["step"] + 1,
                 "params": optax.apply_updates(state["params"], updates),
                 "opt_state": opt_state, "model_state": dict(new_model_state),
                 "rng": state["rng"]}
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads),
               # the update itself can overflow (a huge learning rate, Adam's
               # second moment): checked so that no such state is ever saved
               STATE_FINITE: all_finite(new_state["params"], new_state["opt_state"]),
               "regularization": penalty,
               "learning_rate": jnp.asarray(schedule(state["step"]), jnp.float32)}
    for name in metric_names:
      metrics[name] = metrics_lib.get(name)(outputs, batch["targets"])
    return new_state, metrics

  return train_step
