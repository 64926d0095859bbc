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


def make_train_step(model: nn.Module, tx: optax.GradientTransformation,
                    loss_fn: LossFn, schedule: Callable, metric_names=()):
  """train_step(state, batch) -> (state, metrics); pure, so it can be jitted."""

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
      return loss, (outputs, new_model_state)

    (loss, (outputs, new_model_state)), grads = jax.value_and_grad(
        objective, has_aux=True)(state["params"])
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    new_state = {"step": state["step"] + 1,
                 "params": optax.apply_updates(state["params"], updates),
                 "opt_state": opt_state, "model_state": dict(new_model_state),
                 "rng": state["rng"]}
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads),
               "learning_rate": jnp.asarray(schedule(state["step"]), jnp.float32)}
    ones = jnp.ones(batch["inputs"].shape[:1], bool)
    for name in metric_names:
      num, den = metrics_lib.get(name)(outputs, batch["targets"], ones)
      metrics[name] = num / den
    return new_state, metrics

  return train_step


def make_eval_step(model: nn.Module, loss_fn: LossFn, metric_names=()):
  """eval_step(state, batch) -> {name: (numerator, denominator)} summed over rows."""

  def eval_step(state: State, batch: Batch) -> dict[str, tuple[jax.Array, jax.Array]]:
    variables = {"params": state["params"], **state["model_state"]}
    outputs = model.apply(variables, batch["inputs"], train=False)
    mask = batch["mask"].astype(jnp.float32)
    per_row = _per_row(loss_fn(outputs, batch["targets"]), mask.shape[0])
    # Double where: padded rows may hold values whose loss is not finite.
    per_row = jnp.where(mask > 0, per_row, 0.0)
    sums = {"loss": (jnp.sum(per_row * mask), jnp.sum(mask))}
    for name in metric_names:
      sums[name] = metrics_lib.get(name)(outputs, batch["targets"], batch["mask"])
    return sums

  return eval_step
