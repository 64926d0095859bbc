"""The supervised trainer: config -> data -> model -> jitted steps -> metrics,
checkpoints and plots -> a returned `Result`.

Re-running with the same workdir resumes from the latest good checkpoint; a
resumed run ends bit-identical to an uninterrupted one (batches and dropout are
functions of (seed, step)).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from absl import logging

from nn_lib import config as config_lib
from nn_lib import data as data_lib
from nn_lib import metrics as metrics_lib
from nn_lib import models, plots, writers
from nn_lib.data import augment as augment_lib
from nn_lib.training import mesh as mesh_lib
from nn_lib.training import feed as feed_lib
from nn_lib.training import early_stopping, objective, optim, sanity
from nn_lib.training import sharding as sharding_lib
from nn_lib.training import step as step_lib
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.predict import Predictor, evaluate
from nn_lib.training.preemption import Interrupted, StopRequests
from nn_lib.training.result import Result


class NonFiniteLossError(FloatingPointError):
  """The training loss or state became NaN or Inf; the run stops before saving
  that state (the last checkpoint is the newest good one)."""


_ADVICE = (
  "Lower the learning rate, clip gradients (config.optimizer.clip_norm) "
  "or check the inputs for NaN/Inf."
)


def _flush(
  pending: list, feed: feed_lib.Feed, writer: writers.MetricWriter, window_start: tuple[int, float]
) -> tuple[int, float]:
  """Fetches the queued train metrics, stops on a non-finite loss or state, logs
  the mean. Runs before every evaluation and save, so no bad state is saved."""
  # (step, metrics) per step; a call of n > 0 stacked steps has axes n
  fetched: list[tuple[int, dict[str, Any]]] = []
  for (done, n, _), vector in zip(pending, jax.device_get([m for *_, m in pending])):
    m = feed.unpack(vector)
    fetched += (
      [(done, m)]
      if n == 0
      else [(done - n + 1 + i, {k: v[i] for k, v in m.items()}) for i in range(n)]
    )
  for step, m in fetched:
    if not math.isfinite(float(m["loss"])):
      raise NonFiniteLossError(
        f"training loss is {float(m['loss'])} at step {step}; stopping without "
        f"saving this state. {_ADVICE}"
      )
    if not m.pop(step_lib.STATE_FINITE):
      raise NonFiniteLossError(
        f"the parameters or optimizer state became NaN/Inf in the update of step "
        f"{step} (its loss was finite, {float(m['loss']):.4g}); stopping without "
        f"saving this state. {_ADVICE}"
      )
  last_step, now = pending[-1][0], time.time()
  rate = (last_step - window_start[0]) / max(now - window_start[1], 1e-9)
  means = {k: float(np.mean([m[k] for _, m in fetched])) for k in fetched[-1][1]}
  writer.write(last_step, "train", means, steps_per_sec=rate)
  pending.clear()
  return last_step, now


@workdir_lib.exclusive_workdir
def train_and_evaluate(
  cfg: Any, workdir: str | Path, *, loss_fn: objective.LossFn | None = None
) -> Result:
  """Trains `cfg` in `workdir` and returns the finished run.

  `loss_fn(outputs, targets) -> per-example losses` replaces the config's loss,
  for library users whose objective is not one function of `losses`.
  """
  t0 = time.time()
  config_lib.validate_training(cfg)
  writers.quiet_library_logs()
  workdir = workdir_lib.prepare(cfg, workdir)

  # ---------------------------------------------------------------------------
  # Model, loss, optimizer, metrics, plots: by name, before any data is read, so
  # that a bad name fails fast.
  # ---------------------------------------------------------------------------
  model = models.get(**cfg.model)
  loss_fn = loss_fn or objective.loss_from_config(cfg.loss)
  optim.OPTIMIZERS.get(cfg.optimizer.name)
  optim.SCHEDULES.get(cfg.schedule.name)
  metric_names = tuple(cfg.metrics)
  for name in metric_names:
    metrics_lib.get(name)
  plot_fns = {name: plots.PLOTS.get(name) for name in cfg.get("plots", ())}
  stopper = early_stopping.from_config(cfg)
  cfg_augment = cfg.get("augment", ())
  augment_lib.mixup_from_config(cfg_augment)  # checks every entry

  # ---------------------------------------------------------------------------
  # Data and the device mesh.
  # ---------------------------------------------------------------------------
  splits = data_lib.load(cfg.data)
  train_batches = data_lib.TrainBatches(
    splits["train"], cfg.batch_size, cfg.seed, jax.process_index(), jax.process_count()
  )
  tx, schedule = optim.make_optimizer(cfg, steps_per_epoch=train_batches.steps_per_epoch)
  cfg_sharding = cfg.get("sharding") or {}
  mesh = mesh_lib.make_mesh(cfg_sharding.get("model_axis", 1))

  # ---------------------------------------------------------------------------
  # State: fresh, then replaced by the latest good checkpoint if there is one.
  # ---------------------------------------------------------------------------
  sample = train_batches(0)
  augment_lib.check_inputs(cfg_augment, sample["inputs"].shape)
  ema_decay = cfg.get("ema_decay", 0.0)
  init = lambda x: step_lib.init_state(model, tx, cfg.seed, x, ema=bool(ema_decay))
  abstract_state = jax.eval_shape(init, sample["inputs"][:1])
  state_sharding = sharding_lib.state_shardings(
    abstract_state,
    mesh,
    mode=cfg_sharding.get("params", "replicated"),
    rules=tuple(cfg_sharding.get("rules", ())),
  )
  if cfg_sharding.get("params", "replicated") != "replicated":
    logging.info("parameter sharding:\n%s", sharding_lib.describe(state_sharding, abstract_state))
  init_jitted = jax.jit(init, out_shardings=state_sharding)
  state = init_jitted(sample["inputs"][:1])
  sanity.check_outputs_fit_labels(model, state, sample, splits)
  sanity.check_loss_fits(model, state, sample, loss_fn, cfg.loss)
  metrics_lib.check_metrics_fit(
    jax.eval_shape(
      lambda: model.apply(
        {"params": state["params"], **state["model_state"]}, sample["inputs"], train=False
      )
    ),
    sample["targets"],
    metric_names,
  )
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  best_checkpointer = (
    Checkpointer(workdir, 1, name="best_checkpoint", best_mode=stopper.mode) if stopper else None
  )
  restored = checkpointer.restore_latest(state)
  state = state if restored is None else restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
  logging.info(
    "model %s: %d parameters; %d device(s); starting at step %d of %d",
    cfg.model.name,
    num_params,
    jax.device_count(),
    start,
    cfg.num_steps,
  )

  # ---------------------------------------------------------------------------
  # Steps: the state is donated, so XLA updates it in place.
  # ---------------------------------------------------------------------------
  explicit = cfg.get("parallel", "jit") == "explicit"
  step_fn = step_lib.make_train_step(
    model,
    tx,
    loss_fn,
    schedule,
    metric_names,
    cfg.get("regularizer"),
    accumulate_steps=cfg.get("accumulate_steps", 1),
    ema_decay=ema_decay,
    axis_name="data" if explicit else None,
    cfg_augment=cfg_augment,
  )
  if explicit:
    step_fn = step_lib.per_device(step_fn, mesh)
  feed = feed_lib.Feed(
    train_batches,
    mesh,
    (cfg.log_every, cfg.eval_every, cfg.checkpoint_every),
    cfg.get("steps_per_call", 1),
    cfg.get("prefetch", 2),
    cfg.get("data_placement", "auto"),
  )
  logging.info(
    "training split on the %s (data_placement=%s)",
    "devices, batches gathered there" if feed.on_device else "host, batches cut each step",
    cfg.get("data_placement", "auto"),
  )
  train_call = feed.jit(step_fn, state_sharding)
  predictor = Predictor(
    model,
    mesh,
    cfg.eval_batch_size,
    {"params": state_sharding["params"], **state_sharding["model_state"]},
  )

  def evaluate_split(state, split: str) -> dict[str, float]:
    outputs = predictor(state, splits[split]["inputs"])
    return evaluate(outputs, splits[split]["targets"], loss_fn, metric_names)

  # ---------------------------------------------------------------------------
  # The loop.
  # ---------------------------------------------------------------------------
  writer = writers.MetricWriter(
    workdir, num_steps=cfg.num_steps, start_step=start, enabled=jax.process_index() == 0
  )
  if start == 0 and cfg.get("check_initial_loss"):
    initial = evaluate_split(state, "train")["loss"]
    writer.write(0, "initial", {"loss": initial})
    sanity.log_initial_loss(initial, cfg, splits["train"]["targets"])
  block_each_step = mesh_lib.must_block_each_step()
  pending: list = []
  window = (start, time.time())
  # a run that stopped early and is re-run stays stopped (its history says so)
  decision = stopper.decide(writer.history) if stopper else None
  end = start if decision and decision.stop else cfg.num_steps
  # read once: a ConfigDict lookup costs 2 us; four a step were 0.7% of a 1.1 ms
  # MLP step on a CPU
  num_steps, log_every, eval_every, checkpoint_every = (
    cfg.num_steps,
    cfg.log_every,
    cfg.eval_every,
    cfg.checkpoint_every,
  )
  try:
    with StopRequests() as stop:
      for first, n, batch in feed(start, end):
        state, metrics = train_call(state, batch)
        if block_each_step:
          jax.block_until_ready(metrics)
        done = first + n
        pending.append((done, n if feed.stacked else 0, metrics))
        is_last = done == num_steps
        evaluate_now = done % eval_every == 0 or is_last
        save_now = done % checkpoint_every == 0 or is_last
        if done % log_every == 0 or evaluate_now or save_now:
          window = _flush(pending, feed, writer, window)
        if evaluate_now:
          for split in cfg.eval_splits:
            writer.write(done, split, evaluate_split(state, split))
            if ema_decay:
              writer.write(
                done,
                f"{split}_ema",
                evaluate_split({**state, "params": state["ema_params"]}, split),
              )
          if stopper and best_checkpointer:
            decision = stopper.decide(writer.history)
            if decision.best_step == done:
              best_checkpointer.save(done, state, metric=decision.best_value)
        stop_early = evaluate_now and decision and decision.stop
        if save_now or stop_early:
          checkpointer.save(done, state)
        writer.advance(done)
        if stop_early:
          end = done
          break
        if stop.requested(done, checkpointer.reached_preemption):
          if pending:
            window = _flush(pending, feed, writer, window)
          if not save_now:
            checkpointer.save(done, state)
          checkpointer.wait()
          assert stop.signum is not None  # requested() is True once it is set
          raise Interrupted(stop.signum, done, str(workdir))
    checkpointer.wait()
    best_state = None
    if best_checkpointer and decision and decision.best_step is not None:
      best_checkpointer.wait()
      best_step = best_checkpointer.best_step()
      if best_step is not None:  # absent if deleted by hand
        best_state = best_checkpointer.restore(best_step, state)
  finally:
    checkpointer.close()
    if best_checkpointer:
      best_checkpointer.close()
    writer.close()

  final = writer.history.final()
  if stopper and decision and decision.best_step is not None:
    logging.info(
      "best evaluation: %s = %.4g at step %d%s",
      stopper.metric,
      decision.best_value,
      decision.best_step,
      f"; {decision.reason}" if decision.stop else "",
    )
    final.update(
      early_stopping.best_values(writer.history, decision.best_step),
      **{"best/step": decision.best_step},
    )
  result = Result(
    cfg=cfg,
    workdir=workdir,
    final=final,
    splits=splits,
    history=writer.history,
    state=state,
    model=model,
    predict=lambda inputs, method=None, state=state: predictor(state, inputs, method),
    steps_per_sec=writer.history.median_steps_per_sec(start),
    start_step=start,
    num_params=num_params,
    stopped_at=end if end < cfg.num_steps else None,
    stop_reason=decision.reason if decision else "",
    best_step=decision.best_step if decision else None,
    best_state=best_state,
    initial_state=lambda: init_jitted(sample["inputs"][:1]),
  )
  return workdir_lib.finish(result, t0, plot_fns)
