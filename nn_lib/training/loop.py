"""The training run: config -> data -> model -> jitted steps -> metrics/checkpoints.

Re-running with the same workdir resumes from the latest good checkpoint; a
resumed run ends bit-identical to an uninterrupted one (batches and dropout are
functions of (seed, step)).
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from nn_lib import config as config_lib
from nn_lib import data as data_lib
from nn_lib import metrics as metrics_lib
from nn_lib import models, plots, writers
from nn_lib.training import mesh as mesh_lib
from nn_lib.training import optim, step as step_lib
from nn_lib.training.checkpoint import Checkpointer


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or Inf; the run stops before saving that state."""


# ---------------------------------------------------------------------------
# Workdir and config
# ---------------------------------------------------------------------------

def _write_json_atomic(path: Path, text: str) -> None:
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(text)
  os.replace(tmp, path)


def _prepare_workdir(cfg, workdir: Path) -> None:
  workdir.mkdir(parents=True, exist_ok=True)
  cfg_json = cfg.to_json_best_effort(indent=2, sort_keys=True)
  saved = workdir / "config.json"
  has_checkpoints = any((workdir / "checkpoints").glob("[0-9]*"))
  if saved.exists() and has_checkpoints:
    config_lib.check_resumable(saved.read_text(), cfg_json, workdir)
  if jax.process_index() == 0:
    _write_json_atomic(saved, cfg_json)


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

def predict(predict_step, state, split: data_lib.Split, batch_size: int,
            mesh) -> tuple[np.ndarray, np.ndarray]:
  """Model outputs and per-example losses for a whole split, in order, on the host."""
  outputs, per_row = [], []
  for batch in data_lib.eval_batches(split, batch_size, jax.process_index(),
                                     jax.process_count()):
    out, loss = predict_step(state, mesh_lib.put_batch(batch, mesh))
    if jax.process_count() > 1:
      out, loss = multihost_utils.process_allgather((out, loss), tiled=True)
    outputs.append(np.asarray(out))
    per_row.append(np.asarray(loss))
  n = len(split["targets"])  # drops the final batch's padding
  return np.concatenate(outputs)[:n], np.concatenate(per_row)[:n]


def evaluate(predict_step, state, split: data_lib.Split, batch_size: int, mesh,
             metric_names=()) -> dict[str, float]:
  """Mean loss and every metric over a whole split."""
  outputs, per_row = predict(predict_step, state, split, batch_size, mesh)
  values = {"loss": float(per_row.mean())}
  for name in metric_names:
    values[name] = float(metrics_lib.get(name)(outputs, split["targets"]))
  return values


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def _check_outputs_fit_labels(model, state, sample, targets: np.ndarray) -> None:
  """Integer class labels need at least max(label) + 1 model outputs; otherwise the
  loss would be NaN (or, in other libraries, silently wrong)."""
  if not np.issubdtype(targets.dtype, np.integer) or targets.ndim != 1:
    return
  variables = {"params": state["params"], **state["model_state"]}
  out = jax.eval_shape(lambda: model.apply(variables, sample, train=False))
  if len(out.shape) == 2 and out.shape[-1] > 1 and targets.max() >= out.shape[-1]:
    raise config_lib.ConfigError(
        f"the model emits {out.shape[-1]} outputs per example but the labels go up "
        f"to {targets.max()}; set the model's number of outputs/classes to "
        f"{targets.max() + 1} (e.g. --config.model.num_outputs={targets.max() + 1}).")


def _flush(pending: list, writer, window_start: tuple[int, float]) -> tuple[int, float]:
  """Fetches the queued train metrics, stops on a non-finite loss, logs the mean."""
  fetched = jax.device_get([m for _, m in pending])
  for (step, _), m in zip(pending, fetched):
    if not math.isfinite(float(m["loss"])):
      raise NonFiniteLossError(
          f"training loss is {float(m['loss'])} at step {step}; stopping without "
          "saving this state. Lower the learning rate, clip gradients "
          "(config.optimizer.clip_norm) or check the inputs for NaN/Inf.")
  last_step, now = pending[-1][0], time.time()
  rate = (last_step - window_start[0]) / max(now - window_start[1], 1e-9)
  means = {k: float(np.mean([m[k] for m in fetched])) for k in fetched[-1]}
  writer.write(last_step, "train", means, steps_per_sec=rate)
  pending.clear()
  return last_step, now


def run(cfg: Any, workdir: str | Path, hooks: Any = None) -> dict:
  """Trains `cfg` in `workdir`; returns the final state (a plain dict pytree).

  `hooks` (an experiment module) may provide:
    - `loss_fn(outputs, targets) -> per-example losses`, replacing the config's loss
      (for objectives that are not one `losses` function of outputs and targets);
    - `after_training(state, model, splits, workdir)`, for the experiment's plots;
    - `run(cfg, workdir)`, replacing this loop for training that is different in
      kind (kNN has no gradient step; a sweep trains several models).
  """
  config_lib.validate(cfg)
  writers.quiet_library_logs()
  workdir = Path(workdir)
  _prepare_workdir(cfg, workdir)
  if hasattr(hooks, "run"):
    return hooks.run(cfg, workdir)

  # Model, loss, optimizer: built before any data is read, so a bad name fails fast.
  try:
    model = models.get(**cfg.model)
    loss_fn = getattr(hooks, "loss_fn", None) or step_lib.loss_from_config(cfg.loss)
    tx, schedule = optim.make_optimizer(cfg)
    metric_names = tuple(cfg.metrics)
    for name in metric_names:
      metrics_lib.get(name)
  except (ValueError, TypeError) as e:
    raise config_lib.ConfigError(str(e)) from e

  # Data.
  splits = data_lib.load(cfg.data)
  train_batches = data_lib.TrainBatches(splits["train"], cfg.batch_size, cfg.seed,
                                        jax.process_index(), jax.process_count())
  mesh = mesh_lib.make_mesh()

  # State: fresh, then replaced by the latest good checkpoint if there is one.
  replicated = mesh_lib.replicated(mesh)
  sample = train_batches(0)["inputs"][:1]
  state = jax.jit(lambda s: step_lib.init_state(model, tx, cfg.seed, s),
                  out_shardings=replicated)(sample)
  _check_outputs_fit_labels(model, state, sample, splits["train"]["targets"])
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  restored = checkpointer.restore_latest(state)
  if restored is not None:
    state = restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
  logging.info("model %s: %d parameters; %d device(s); starting at step %d of %d",
               cfg.model.name, num_params, jax.device_count(), start, cfg.num_steps)

  # Steps: the state is donated, so XLA updates it in place.
  batch_sharding = mesh_lib.batch_sharded(mesh)
  train_step = jax.jit(
      step_lib.make_train_step(model, tx, loss_fn, schedule, metric_names,
                               cfg.get("regularizer")),
      in_shardings=(replicated, batch_sharding), out_shardings=(replicated, replicated),
      donate_argnums=0)
  predict_step = jax.jit(step_lib.make_predict_step(model, loss_fn),
                         in_shardings=(replicated, batch_sharding),
                         out_shardings=replicated)

  writer = writers.MetricWriter(workdir, num_steps=cfg.num_steps, start_step=start,
                                enabled=jax.process_index() == 0)
  block_each_step = mesh_lib.must_block_each_step()
  pending: list = []
  window = (start, time.time())
  t0 = time.time()
  try:
    for step in range(start, cfg.num_steps):
      batch = mesh_lib.put_batch(train_batches(step), mesh)
      state, metrics = train_step(state, batch)
      if block_each_step:
        jax.block_until_ready(metrics["loss"])
      done = step + 1
      pending.append((done, metrics))
      is_last = done == cfg.num_steps
      evaluate_now = done % cfg.eval_every == 0 or is_last
      save_now = done % cfg.checkpoint_every == 0 or is_last
      if done % cfg.log_every == 0 or evaluate_now or save_now:
        window = _flush(pending, writer, window)
      if evaluate_now:
        for split in cfg.eval_splits:
          writer.write(done, split, evaluate(predict_step, state, splits[split],
                                             cfg.eval_batch_size, mesh, metric_names))
      if save_now:
        checkpointer.save(done, state)
      writer.advance(done)
    checkpointer.wait()
  finally:
    checkpointer.close()
    writer.close()

  _finish(cfg, workdir, start, t0, num_params)
  if hooks is not None and hasattr(hooks, "after_training"):
    hooks.after_training(state, model, splits, workdir)
  return state


def _finish(cfg, workdir: Path, start: int, t0: float, num_params: int) -> None:
  """summary.json (final metrics, speed) and the curves plot."""
  if jax.process_index() != 0:
    return
  rows = writers.read_metrics(workdir / "metrics.jsonl")
  final = {f"{r['split']}/{r['name']}": r["value"] for r in rows}
  # Training speed: the median logging window after the first (which includes
  # compilation); evaluation and checkpoint pauses fall between windows.
  rates = [r["steps_per_sec"] for r in rows
           if r["split"] == "train" and r["name"] == "loss" and r["step"] > start]
  summary = {"num_steps": cfg.num_steps, "resumed_from_step": start,
             "wall_time_s": time.time() - t0,
             "steps_per_sec": float(np.median(rates[1:])) if len(rates) > 1 else None,
             "num_params": num_params, "devices": jax.device_count(),
             "backend": jax.default_backend(), "final": final}
  _write_json_atomic(workdir / "summary.json", json.dumps(summary, indent=2))
  plots.training_curves(rows, workdir / "plots" / "curves.png")
