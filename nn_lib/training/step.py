"""Train state and the pure supervised train step (jitted by the trainer).

State is one plain dict pytree: {step, params, opt_state, model_state, rng}, plus
`ema_params` when config.ema_decay > 0. `model_state` holds the model's mutable
collections (batch-norm statistics).
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

import losses
from nn_lib import metrics as metrics_lib
from nn_lib.data import augment as augment_lib
from nn_lib.training.objective import LossFn

State = dict[str, Any]
Batch = dict[str, jax.Array]

STATE_FINITE = "state_finite"  # a train-step output read by the loop, not a metric
# Augmentation draws from its own stream of the step's key, so that turning it on
# leaves the dropout masks of every step as they were.
_AUGMENT_STREAM = 0x61756700


def all_finite(*trees) -> jax.Array:
  """True iff every floating-point entry of the trees is finite."""
  checks = [
    jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(trees) if jnp.issubdtype(x.dtype, jnp.inexact)
  ]
  return jnp.all(jnp.stack(checks)) if checks else jnp.array(True)


def init_state(
  model: nn.Module,
  tx: optax.GradientTransformation,
  seed: int,
  sample_inputs: ArrayLike,
  ema: bool = False,
) -> State:
  """Initial parameters, optimizer state and model state (pure; jit it); with
  `ema`, also the moving average of the parameters, starting at them."""
  params_rng, dropout_rng, state_rng = jax.random.split(jax.random.PRNGKey(seed), 3)
  variables = dict(
    model.init({"params": params_rng, "dropout": dropout_rng}, sample_inputs, train=False)
  )
  params = variables.pop("params")
  state = {
    "step": jnp.zeros((), jnp.int32),
    "params": params,
    "opt_state": tx.init(params),
    "model_state": variables,
    "rng": state_rng,
  }
  if ema:
    state["ema_params"] = params
  return state


def _kernels(params) -> Any:
  """Regularize weight matrices and conv kernels, not biases or norm scales."""
  return jax.tree.map(lambda x: x.ndim >= 2, params)


def regularization(params, cfg_reg: Any, batch_size: int | jax.Array = 1) -> jax.Array:
  """l2 R_L2(W) + l1 R_L1(W) + lambda/(2m) R_L2(W) over the kernels (notes 001, 004).

  `l2_lambda` is notes 004's form, J = (1/m) sum_i L_i + lambda/(2m) ||W||_F^2 with
  m the batch size: its gradient lambda/m W makes gradient descent shrink W by
  (1 - lr lambda/m) each step ("weight decay"), which is
  `optax.add_decayed_weights(lambda / m)` chained before the optimizer.
  """
  total = jnp.zeros((), jnp.float32)
  if cfg_reg is None:
    return total
  if cfg_reg.get("l2", 0.0):
    total += cfg_reg.l2 * losses.l2_penalty(params, mask=_kernels)
  if cfg_reg.get("l2_lambda", 0.0):
    total += cfg_reg.l2_lambda / (2 * batch_size) * losses.l2_penalty(params, mask=_kernels)
  if cfg_reg.get("l1", 0.0):
    total += cfg_reg.l1 * losses.l1_penalty(params, mask=_kernels)
  return total


def float32_outputs(outputs: Any) -> Any:
  """Model outputs in float32: with mixed precision (model.dtype = bfloat16) the
  network computes in bfloat16, but the loss, its gradient's first factor and the
  metrics are computed in float32, where bfloat16's 8-bit mantissa would round
  log-probabilities of confident predictions to the same value."""
  return jax.tree.map(
    lambda x: x.astype(jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) else x, outputs
  )


def _micro_batches(batch: Batch, k: int) -> Batch:
  """B rows -> (k, B/k) micro-batches; micro-batch i takes rows i, i+k, i+2k, ...,
  so on a `data`-sharded batch every micro-batch spans every device and the split
  moves no data between devices (each device's rows are contiguous)."""

  def split(x):
    if x.shape[0] % k:
      raise ValueError(f"a batch of {x.shape[0]} rows does not split into {k} micro-batches")
    return jnp.swapaxes(x.reshape(x.shape[0] // k, k, *x.shape[1:]), 0, 1)

  return jax.tree.map(split, batch)


def _merge_micro_batches(tree: Any) -> Any:
  """The inverse of `_micro_batches` for per-row outputs: (k, B/k, ...) -> B."""
  return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1).reshape(-1, *x.shape[2:]), tree)


def make_train_step(
  model: nn.Module,
  tx: optax.GradientTransformation,
  loss_fn: LossFn,
  schedule: Callable,
  metric_names=(),
  cfg_regularizer: Any = None,
  *,
  accumulate_steps: int = 1,
  ema_decay: float = 0.0,
  axis_name: str | None = None,
  cfg_augment: Any = (),
):
  """train_step(state, batch) -> (state, metrics); pure, so it can be jitted.

  The objective is the mean per-example loss plus the config's regularization;
  the logged `loss` is the data loss alone, `regularization` the penalty.

  accumulate_steps = k > 1: the batch is cut into k micro-batches whose gradients
  are averaged before the one optimizer update (a batch k times larger than memory
  allows; equal to the whole batch at once when the model has no batch norm or
  dropout, which see each micro-batch on its own).
  ema_decay = d > 0: `state["ema_params"]` <- d * ema + (1 - d) * params after
  every update (evaluated beside the raw parameters).
  axis_name: the step runs per device inside `shard_map` (config.parallel =
  "explicit"); gradients, metrics and batch statistics are averaged over it.
  cfg_augment: config.augment (nn_lib.data.augment), applied to the inputs here, on
  the device, with keys folded from (seed, step); with mixup the loss of every
  example is lam L(f(x~), y) + (1 - lam) L(f(x~), y_partner), which holds for any
  loss, and the train metrics compare with y. Under parallel="explicit" each device
  augments (and mixes) its own rows.
  """
  augment = augment_lib.from_config(cfg_augment)
  mixup_alpha = augment_lib.mixup_from_config(cfg_augment)

  def augmented(batch: Batch, rng: jax.Array) -> Batch:
    inputs = batch["inputs"]
    if augment is not None:
      inputs = augment(rng, inputs)
    batch = {**batch, "inputs": inputs}
    if mixup_alpha:
      mixup_rng = jax.random.fold_in(rng, len(cfg_augment) - 1)
      inputs, partner_B, lam = augment_lib.mixup(mixup_rng, inputs, mixup_alpha)
      batch.update(
        inputs=inputs,
        mixup_lam=jnp.full(partner_B.shape, lam),
        mixup_targets=jax.tree.map(lambda t: t[partner_B], batch["targets"]),
      )
    return batch

  def data_loss(outputs, batch: Batch) -> jax.Array:
    per_example = loss_fn(outputs, batch["targets"])
    if mixup_alpha:
      lam_B = batch["mixup_lam"]
      per_example = lam_B * per_example + (1 - lam_B) * loss_fn(outputs, batch["mixup_targets"])
    return losses.reduce(per_example)

  def gradients(params, model_state, batch: Batch, dropout_rng):
    def objective(params):
      variables = {"params": params, **model_state}
      outputs, new_model_state = model.apply(
        variables,
        batch["inputs"],
        train=True,
        rngs={"dropout": dropout_rng},
        mutable=list(model_state),
      )
      outputs = float32_outputs(outputs)
      loss = data_loss(outputs, batch)
      return loss, (outputs, dict(new_model_state))

    return jax.value_and_grad(objective, has_aux=True)(params)

  def accumulated_gradients(params, model_state, batch: Batch, dropout_rng):
    def micro_step(carry, micro):
      grads_sum, model_state = carry
      i, micro_batch = micro
      (loss, (outputs, model_state)), grads = gradients(
        params, model_state, micro_batch, jax.random.fold_in(dropout_rng, i)
      )
      return (jax.tree.map(jnp.add, grads_sum, grads), model_state), (loss, outputs)

    zeros = jax.tree.map(jnp.zeros_like, params)
    (grads_sum, model_state), (loss_K, outputs_KxM) = jax.lax.scan(
      micro_step,
      (zeros, model_state),
      (jnp.arange(accumulate_steps), _micro_batches(batch, accumulate_steps)),
    )
    grads = jax.tree.map(lambda g: g / accumulate_steps, grads_sum)
    return (jnp.mean(loss_K), (_merge_micro_batches(outputs_KxM), model_state)), grads

  def train_step(state: State, batch: Batch) -> tuple[State, dict[str, jax.Array]]:
    chex.assert_equal_shape_prefix((batch["inputs"], batch["targets"]), 1)
    # Folding the step into the key makes dropout a function of (seed, step), so a
    # resumed run draws exactly the masks the uninterrupted run drew.
    dropout_rng = jax.random.fold_in(state["rng"], state["step"])
    if axis_name is not None:  # each device draws its own masks
      dropout_rng = jax.random.fold_in(dropout_rng, jax.lax.axis_index(axis_name))
    if augment is not None or mixup_alpha:
      batch = augmented(batch, jax.random.fold_in(dropout_rng, _AUGMENT_STREAM))
    data_gradients = gradients if accumulate_steps == 1 else accumulated_gradients
    (loss, (outputs, new_model_state)), grads = data_gradients(
      state["params"], state["model_state"], batch, dropout_rng
    )
    batch_size = batch["inputs"].shape[0] * (1 if axis_name is None else jax.lax.psum(1, axis_name))
    penalty, penalty_grads = jax.value_and_grad(
      lambda params: regularization(params, cfg_regularizer, batch_size)
    )(state["params"])
    if axis_name is not None:
      grads, loss, new_model_state = jax.lax.pmean((grads, loss, new_model_state), axis_name)
    grads = jax.tree.map(jnp.add, grads, penalty_grads)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    new_state = {
      "step": state["step"] + 1,
      "params": optax.apply_updates(state["params"], updates),
      "opt_state": opt_state,
      "model_state": new_model_state,
      "rng": state["rng"],
    }
    if ema_decay:
      new_state["ema_params"] = optax.incremental_update(
        new_state["params"], state["ema_params"], step_size=1.0 - ema_decay
      )
    metrics = {
      "loss": loss,
      "grad_norm": optax.tree.norm(grads),
      # the update itself can overflow (a huge learning rate, Adam's
      # second moment): checked so that no such state is ever saved
      STATE_FINITE: all_finite(new_state["params"], new_state["opt_state"]),
      "regularization": penalty,
      "learning_rate": jnp.asarray(schedule(state["step"]), jnp.float32),
    }
    for name in metric_names:
      value = metrics_lib.get(name)(outputs, batch["targets"])
      metrics[name] = value if axis_name is None else jax.lax.pmean(value, axis_name)
    return new_state, metrics

  return train_step


def per_device(train_step: Callable, mesh: jax.sharding.Mesh) -> Callable:
  """config.parallel = "explicit": `train_step` (built with axis_name="data") runs
  once per device on that device's rows, with the state replicated: the pmap
  programming model, on `shard_map`, the API that replaces pmap. Jit with
  shardings (the default) lets XLA place the same collectives itself."""
  return jax.shard_map(
    train_step, mesh=mesh, in_specs=(P(), P("data")), out_specs=(P(), P()), check_vma=False
  )
