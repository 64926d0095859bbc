"""Optimizer and learning-rate schedule from config, by name.

Optimizers are every optax function that builds one from a learning rate
(`optax.adam(learning_rate=..., **rest)`), found once at import, and notes 004's
`notes_momentum`, `notes_rmsprop`, `notes_adam` (`notes_optimizers`).

Schedules map the step (0, 1, ...) to a learning rate. `constant`, `cosine`,
`exponential`, `linear` count steps; notes 004's decay laws `inverse_time`,
`exponential_epoch`, `inverse_sqrt`, `staircase` count epochs, numbered from 1 as the
notes do: epoch_num = step // steps_per_epoch + 1, so they need `steps_per_epoch`.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Callable, Sequence

import jax.numpy as jnp
import optax

import losses
from nn_lib.registry import ConfigError, Registry
from nn_lib.training import notes_optimizers

Schedule = Callable[[Any], Any]


def _optimizers_in(
  module: Any,
  prefix: str = "",
) -> dict[str, Callable[..., optax.GradientTransformation]]:
  """`module`'s public functions named `prefix...` whose first parameter is
  `learning_rate`."""
  found: dict[str, Callable[..., optax.GradientTransformation]] = {}
  for name in dir(module):
    fn = getattr(module, name)
    if name.startswith("_") or not name.startswith(prefix) or not inspect.isfunction(fn):
      continue
    try:
      params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
      continue
    if next(iter(params), None) == "learning_rate":
      found[name] = fn
  return found


OPTIMIZERS = Registry("optimizer", _optimizers_in(optax))
for _name, _fn in _optimizers_in(notes_optimizers, "notes_").items():
  OPTIMIZERS.add(_name, _fn)  # add, not a dict merge: a clash with optax is an error
SCHEDULES: Registry[Callable[..., Schedule]] = Registry("schedule")


@SCHEDULES.register("constant")
def _constant(lr: float, num_steps: int) -> Schedule:
  del num_steps
  return optax.constant_schedule(lr)


@SCHEDULES.register("cosine")
def _cosine(
  lr: float, num_steps: int, warmup_steps: int = 0, end_fraction: float = 0.0
) -> Schedule:
  if not 0 <= warmup_steps < num_steps:
    raise ConfigError(
      f"schedule.warmup_steps={warmup_steps} must be in [0, num_steps={num_steps})."
    )
  return optax.warmup_cosine_decay_schedule(
    init_value=0.0 if warmup_steps else lr,
    peak_value=lr,
    warmup_steps=warmup_steps,
    decay_steps=num_steps,
    end_value=lr * end_fraction,
  )


@SCHEDULES.register("exponential")
def _exponential(
  lr: float,
  num_steps: int,
  transition_steps: int | None = None,
  decay_rate: float = 0.5,
  staircase: bool = False,
) -> Schedule:
  """Notes 004's learning-rate decay: alpha0 * decay_rate^(step / transition_steps)."""
  return optax.exponential_decay(
    lr,
    transition_steps=transition_steps or max(1, num_steps // 10),
    decay_rate=decay_rate,
    staircase=staircase,
  )


@SCHEDULES.register("linear")
def _linear(lr: float, num_steps: int, end_fraction: float = 0.0) -> Schedule:
  return optax.linear_schedule(lr, lr * end_fraction, transition_steps=num_steps)


# ---------------------------------------------------------------------------
# Notes 004 "Learning rate decay" (1 epoch = 1 pass through the data), in epochs
# numbered from 1: the first epoch already decays (the lecture's example, which the
# notes do not copy: alpha0 = 0.2, decay_rate = 1 give 0.1, 0.067, 0.05, 0.04 in
# epochs 1-4), and k / sqrt(epoch_num) is finite from the start.
# ---------------------------------------------------------------------------
def _require(ok: bool, key: str, value: Any, rule: str) -> None:
  if not ok:
    raise ConfigError(f"schedule.{key}={value!r} {rule}; set --config.schedule.{key} accordingly.")


def _epoch_num(step: Any, steps_per_epoch: int) -> Any:
  """1 during steps [0, steps_per_epoch), 2 during the next epoch, ..."""
  return jnp.asarray(step) // steps_per_epoch + 1


@SCHEDULES.register("inverse_time")
def _inverse_time(
  lr: float, num_steps: int, steps_per_epoch: int, decay_rate: float = 1.0
) -> Schedule:
  """alpha0 / (1 + decay_rate * epoch_num)."""
  del num_steps
  _require(decay_rate >= 0, "decay_rate", decay_rate, "must be >= 0 (0: no decay)")
  return lambda step: lr / (1.0 + decay_rate * _epoch_num(step, steps_per_epoch))


@SCHEDULES.register("exponential_epoch")
def _exponential_epoch(
  lr: float, num_steps: int, steps_per_epoch: int, base: float = 0.95
) -> Schedule:
  """alpha0 * base^epoch_num (the notes' 0.95^epoch_num)."""
  del num_steps
  _require(0 < base <= 1, "base", base, "must be in (0, 1] (1: no decay)")
  return lambda step: lr * base ** _epoch_num(step, steps_per_epoch)


@SCHEDULES.register("inverse_sqrt")
def _inverse_sqrt(lr: float, num_steps: int, steps_per_epoch: int, k: float = 1.0) -> Schedule:
  """alpha0 * k / sqrt(epoch_num)."""
  del num_steps
  _require(k > 0, "k", k, "must be > 0 (1: alpha0 in the first epoch)")
  return lambda step: lr * k / jnp.sqrt(_epoch_num(step, steps_per_epoch))


@SCHEDULES.register("staircase")
def _staircase(
  lr: float,
  num_steps: int,
  steps_per_epoch: int,
  boundaries: Sequence[int] | None = None,
  factor: float = 0.5,
) -> Schedule:
  """Discrete steps: alpha0, times `factor` from each epoch in `boundaries` on
  (epochs numbered from 1, so boundary e starts at step (e - 1) * steps_per_epoch)."""
  del num_steps
  _require(
    isinstance(boundaries, (list, tuple)) and len(boundaries) > 0,
    "boundaries",
    boundaries,
    "must list the epochs at which the rate drops, e.g. (10, 20)",
  )
  epochs = list(boundaries or ())  # None was refused above
  _require(
    all(isinstance(e, numbers.Integral) and e >= 2 for e in epochs)
    and all(a < b for a, b in zip(epochs, epochs[1:])),
    "boundaries",
    boundaries,
    "must be increasing whole epoch numbers >= 2 (epoch 1 is the first)",
  )
  _require(factor > 0, "factor", factor, "must be > 0 (0.5 halves the rate)")
  return optax.piecewise_constant_schedule(
    lr, {(int(e) - 1) * steps_per_epoch: factor for e in epochs}
  )


def _call_with_config(kind: str, name: str, fn: Callable, *args, **kw):
  """fn(*args, **kw), with a config error naming the keys `fn` does not take."""
  params = inspect.signature(fn).parameters
  if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
    unknown = sorted(set(kw) - set(params))
    if unknown:
      valid = [
        p for p in params if p not in ("learning_rate", "lr", "num_steps", "steps_per_epoch")
      ]
      raise ConfigError(f"{kind} {name!r} does not take {unknown}; it takes {valid}")
  return fn(*args, **kw)


def _steps_per_epoch(name: str, steps_per_epoch: int | None) -> int:
  """The trainer knows the epoch's length from the data; the config never says it."""
  if steps_per_epoch is None:
    raise ConfigError(
      f"schedule {name!r} counts epochs, so it needs steps_per_epoch: "
      "pass make_optimizer(cfg, steps_per_epoch=<batches per pass over "
      "the training data>)."
    )
  if not (isinstance(steps_per_epoch, numbers.Integral) and steps_per_epoch >= 1):
    raise ConfigError(
      f"steps_per_epoch={steps_per_epoch!r} must be a whole number >= 1 "
      "(batches per pass over the training data)."
    )
  return int(steps_per_epoch)


def make_schedule(
  cfg_schedule: Any, learning_rate: float, num_steps: int, *, steps_per_epoch: int | None = None
) -> Schedule:
  """SCHEDULES[schedule.name](learning_rate, num_steps, **rest); the epoch schedules
  (those taking `steps_per_epoch`) also get `steps_per_epoch`."""
  kw = dict(cfg_schedule)
  name = kw.pop("name")
  fn = SCHEDULES.get(name)
  if "steps_per_epoch" in inspect.signature(fn).parameters:
    kw["steps_per_epoch"] = _steps_per_epoch(name, steps_per_epoch)
  return _call_with_config("schedule", name, fn, learning_rate, num_steps, **kw)


def make_optimizer(
  cfg: Any,
  *,
  steps_per_epoch: int | None = None,
) -> tuple[optax.GradientTransformation, Schedule]:
  """OPTIMIZERS[optimizer.name](learning_rate=schedule, **rest), optionally with
  gradient clipping before it and max-norm projection after it. `steps_per_epoch`
  (batches per pass over the training data) is needed by the epoch schedules."""
  kw = dict(cfg.optimizer)
  name, lr = kw.pop("name"), kw.pop("learning_rate")
  clip_norm = kw.pop("clip_norm", None)
  optimizer = OPTIMIZERS.get(name)
  schedule = make_schedule(cfg.schedule, lr, cfg.num_steps, steps_per_epoch=steps_per_epoch)
  tx = _call_with_config("optimizer", name, optimizer, learning_rate=schedule, **kw)
  if clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(clip_norm), tx)
  max_norm = cfg.get("regularizer", {}).get("max_norm", 0.0)
  if max_norm:  # notes 001: project every unit's weights back to ||w|| <= c
    tx = optax.chain(tx, losses.max_norm(max_norm))
  return tx, schedule
