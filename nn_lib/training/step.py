"""Train state and the pure, jitted supervised train and eval steps.

State is one plain dict pytree: {step, params, opt_state, model_state, rng}.
`model_state` holds the model's mutable collections (batch-norm statistics).
"""
from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import losses
from nn_lib import metrics as metrics_lib

State = dict[str, Any]
Batch = dict[str, jax.Array]
# (outputs, targets) -> per-example loss values (not reduced over the batch).
LossFn = Callable[[jax.Array, jax.Array], jax.Array]


def loss_from_config(cfg_loss: Any) -> LossFn:
  """`losses.<loss.name>` with the remaining `loss.*` keys as hyperparameters."""
  kw = dict(cfg_loss)
  name = kw.pop("name")
  fn = getattr(losses, name, None)
  if fn is None or name == "reduce" or name.startswith("_") or not callable(fn):
    valid = sorted(n for n in dir(losses) if not n.startswith("_")
                   and callable(getattr(losses, n)) and n != "reduce")
    raise ValueError(f"unknown loss {name!r}; valid: {', '.join(valid)}")
  return lambda outputs, targets: fn(outputs, targets, **kw)


def init_state(model: nn.Module, tx: optax.GradientTransformation, seed: int,
               sample_inputs: jax.Array) -> State:
  """Initial parameters, optimizer state and model state (pure; jit it)."""
  params_rng, dropout_rng, state_rng = jax.random.split(jax.random.PRNGKey(seed), 3)
  variables = dict(model.init({"params": params_rng, "dropout": dropout_rng},
                              sample_inputs, train=False))
  params = variables.pop("params")
  return {"step": jnp.zeros((), jnp.int32), "params": params,
          "opt_state": tx.init(params), "model_state": variables, "rng": state_rng}


def _per_row(values: jax.Array, batch_size: int) -> jax.Array:
  """Per-example loss as one number per row (mean over any trailing axes)."""
  return values.reshape(batch_size, -1).mean(axis=-1)


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
               "regularization": penalty,
               "learning_rate": jnp.asarray(schedule(state["step"]), jnp.float32)}
    for name in metric_names:
      metrics[name] = metrics_lib.get(name)(outputs, batch["targets"])
    return new_state, metrics

  return train_step


def make_predict_step(model: nn.Module, loss_fn: LossFn):
  """predict_step(state, batch) -> (outputs, per-row loss); padded rows get loss 0."""

  def predict_step(state: State, batch: Batch) -> tuple[jax.Array, jax.Array]:
    variables = {"params": state["params"], **state["model_state"]}
    outputs = model.apply(variables, batch["inputs"], train=False)
    per_row = _per_row(loss_fn(outputs, batch["targets"]), batch["mask"].shape[0])
    # Double where: padded rows may hold values whose loss is not finite.
    return outputs, jnp.where(batch["mask"], per_row, 0.0)

  return predict_step
