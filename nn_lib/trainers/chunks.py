"""The outer loop the trainers that are not `supervised` share: jitted chunks of
steps between log / eval / checkpoint boundaries, each followed by the same
bookkeeping (finiteness check, train metrics, evaluation, checkpoint, preemption).

A trainer brings what differs in kind (how a chunk of steps trains, how a split is
evaluated); this module owns when those run, so every trainer logs, evaluates,
saves and stops at exactly the same steps and a resumed run repeats them.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nn_lib import writers
from nn_lib.registry import ConfigError
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.loop import NonFiniteLossError
from nn_lib.training.preemption import Interrupted, StopRequests

# (state, num_steps) -> (state, {name: host value(s) of those steps}); values may be
# one number (already a mean) or one per step (their mean is logged).
TrainChunk = Callable[[Any, int], "tuple[Any, Mapping[str, Any]]"]
# (state, step, split) -> {metric: value} for `split`
Evaluate = Callable[[Any, int, str], Mapping[str, float]]


# the keys `run` reads: how long to train and when to log, evaluate and save
LOOP_KEYS = (
  "num_steps",
  "batch_size",
  "eval_batch_size",
  "log_every",
  "eval_every",
  "checkpoint_every",
  "keep_checkpoints",
)


def positive_int(v: Any) -> bool:
  return isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) > 0


def is_number(v: Any) -> bool:
  """A real number, not a bool (which Python counts as an int)."""
  return isinstance(v, numbers.Real) and not isinstance(v, bool)


def need(ok: bool, key: str, value: Any, rule: str) -> None:
  """The trainers' config checks: a ConfigError naming `config.key`, its value and
  the rule it breaks, unless `ok`."""
  if not ok:
    raise ConfigError(f"config.{key}={value!r}: {rule}")


def check_loop_keys(cfg: Any, trainer: str, required: Sequence[str]) -> None:
  """`required` and LOOP_KEYS are in cfg, the loop's counts are positive integers
  and the seed (if required) an integer; else a ConfigError naming the key."""
  missing = [k for k in (*required, *LOOP_KEYS) if k not in cfg]
  if missing:
    raise ConfigError(f"the {trainer} trainer needs config key(s) {missing}")
  for key in LOOP_KEYS:
    if not positive_int(cfg[key]):
      raise ConfigError(f"config.{key} must be a positive integer, got {cfg[key]!r}")
  if "seed" in required:
    need(
      isinstance(cfg.seed, int) and not isinstance(cfg.seed, bool),
      "seed",
      cfg.seed,
      "must be an integer",
    )


def check_optimizer(cfg: Any) -> None:
  """config.optimizer and config.schedule name their function, and the learning
  rate is a positive number; else a ConfigError naming the key."""
  for part in ("optimizer", "schedule"):
    need(bool(cfg[part].get("name")), f"{part}.name", cfg[part].get("name"), "is not set")
  lr = cfg.optimizer.get("learning_rate")
  need(is_number(lr) and lr > 0, "optimizer.learning_rate", lr, "must be a positive number")


class Trained(NamedTuple):
  state: Any
  history: writers.History
  steps_per_sec: float | None  # median over chunks after the first (which compiles)


def epoch_rows(key: jax.Array, step: jax.Array, n: int, batch_size: int) -> jax.Array:
  """The B = batch_size rows of n examples that step `step` trains on: slice
  step mod (n // B) of the permutation drawn for epoch step // (n // B) from
  fold_in(key, epoch). Jittable, and a function of the step, so a resumed run
  reads what the uninterrupted one read."""
  per_epoch = n // batch_size
  order_N = jax.random.permutation(jax.random.fold_in(key, step // per_epoch), n)
  return jax.lax.dynamic_slice(order_N, ((step % per_epoch) * batch_size,), (batch_size,))


def jit_gradient_steps(
  loss_fn: Callable, tx: optax.GradientTransformation, dropout_key: jax.Array, batch_at: Callable
) -> Callable:
  """jit(state, k, *data) -> (state after k steps, summed loss, summed gradient
  norm): k optimizer steps in one fori_loop, the state {step, params, opt_state}
  donated. Step s descends loss_fn(params, *batch_at(s, *data), fold_in(dropout_key,
  s)): its batch and dropout are functions of s, as resuming needs."""

  def steps(state, k, *data):
    def one_step(_, acc):
      state, loss_sum, norm_sum = acc
      step = state["step"]
      loss, grads = jax.value_and_grad(loss_fn)(
        state["params"], *batch_at(step, *data), jax.random.fold_in(dropout_key, step)
      )
      updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
      new = {
        "step": step + 1,
        "params": optax.apply_updates(state["params"], updates),
        "opt_state": opt_state,
      }
      return new, loss_sum + loss, norm_sum + optax.tree.norm(grads)

    zero = jnp.zeros((), jnp.float32)
    return jax.lax.fori_loop(0, k, one_step, (state, zero, zero))

  return jax.jit(steps, donate_argnums=0)


def next_boundary(done: int, cfg: Any) -> int:
  """The next step (after `done`) at which the loop logs, evaluates or saves."""
  nxt = [(done // e + 1) * e for e in (cfg.log_every, cfg.eval_every, cfg.checkpoint_every)]
  return min(*nxt, cfg.num_steps)


def run(
  cfg: Any,
  state: Any,
  *,
  start: int,
  workdir: Path,
  checkpointer: Checkpointer,
  train_chunk: TrainChunk,
  evaluate: Evaluate,
  fix_hint: str,
  train_extra: Callable[[dict[str, float]], dict[str, float]] | None = None,
) -> Trained:
  """Trains from step `start` to cfg.num_steps.

  Every chunk ends at a boundary: its train metrics are logged (after
  `train_extra`, which may add derived ones), each of cfg.eval_splits is evaluated
  every cfg.eval_every steps and at the end, the state is saved every
  cfg.checkpoint_every steps and at the end. A non-finite train metric stops the
  run before that state is saved (`fix_hint` says what to change); SIGTERM/SIGINT
  or a preemption notice saves the current step and raises `Interrupted`.
  """
  writer = writers.MetricWriter(
    workdir, num_steps=cfg.num_steps, start_step=start, enabled=jax.process_index() == 0
  )
  done, rates = start, []
  try:
    with StopRequests() as stop:
      while done < cfg.num_steps:
        n, t_chunk = next_boundary(done, cfg) - done, time.time()
        state, values = train_chunk(state, n)
        values = jax.device_get(values)
        done += n
        for name, value in values.items():
          if not np.all(np.isfinite(value)):
            raise NonFiniteLossError(
              f"{name} is not finite in steps {done - n + 1}..{done}; "
              f"stopping without saving this state. {fix_hint}"
            )
        rates.append(n / max(time.time() - t_chunk, 1e-9))
        means = {k: float(np.mean(v)) for k, v in values.items()}
        writer.write(
          done, "train", train_extra(means) if train_extra else means, steps_per_sec=rates[-1]
        )
        is_last = done == cfg.num_steps
        if done % cfg.eval_every == 0 or is_last:
          for split in cfg.eval_splits:
            writer.write(done, split, evaluate(state, done, split))
        save_now = done % cfg.checkpoint_every == 0 or is_last
        if save_now:
          checkpointer.save(done, state)
        writer.advance(done)
        if stop.requested(done, checkpointer.reached_preemption):
          if not save_now:
            checkpointer.save(done, state)
          checkpointer.wait()
          assert stop.signum is not None  # requested() is True once it is set
          raise Interrupted(stop.signum, done, str(workdir))
    checkpointer.wait()
  finally:
    checkpointer.close()
    writer.close()
  return Trained(state, writer.history, float(np.median(rates[1:])) if len(rates) > 1 else None)
