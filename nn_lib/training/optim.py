"""Optimizer and learning-rate schedule from config, by name.

Optimizers are every optax function that builds one from a learning rate
(`optax.adam(learning_rate=..., **rest)`), found once at import.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import optax

import losses
from nn_lib.registry import ConfigError, Registry

Schedule = Callable[[Any], Any]


def _optax_optimizers() -> dict[str, Callable[..., optax.GradientTransformation]]:
  """optax functions whose first parameter is `learning_rate`."""
  found = {}
  for name in dir(optax):
    fn = getattr(optax, name)
    if name.startswith("_") or not inspect.isfunction(fn):
      continue
    try:
      params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
      continue
    if next(iter(params), None) == "learning_rate":
      found[name] = fn
  return found


OPTIMIZERS = Registry("optimizer", _optax_optimizers())
SCHEDULES: Registry[Callable[..., Schedule]] = Registry("schedule")


@SCHEDULES.register("constant")
def _constant(lr: float, num_steps: int) -> Schedule:
  del num_steps
  return optax.constant_schedule(lr)


@SCHEDULES.register("cosine")
def _cosine(lr: float, num_steps: int, warmup_steps: int = 0,
            end_fraction: float = 0.0) -> Schedule:
  if not 0 <= warmup_steps < num_steps:
    raise ConfigError(f"schedule.warmup_steps={warmup_steps} must be in [0, num_steps="
                      f"{num_steps}).")
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0 if warmup_steps else lr, peak_value=lr, warmup_steps=warmup_steps,
      decay_steps=num_steps, end_value=lr * end_fraction)


@SCHEDULES.register("exponential")
def _exponential(lr: float, num_steps: int, transition_steps: int | None = None,
                 decay_rate: float = 0.5, staircase: bool = False) -> Schedule:
  """Notes 004's learning-rate decay: alpha0 * decay_rate^(step / transition_steps)."""
  return optax.exponential_decay(
      lr, transition_steps=transition_steps or max(1, num_steps // 10),
      decay_rate=decay_rate, staircase=staircase)


@SCHEDULES.register("linear")
def _linear(lr: float, num_steps: int, end_fraction: float = 0.0) -> Schedule:
  return optax.linear_schedule(lr, lr * end_fraction, transition_steps=num_steps)


def _call_with_config(kind: str, name: str, fn: Callable, *args, **kw):
  """fn(*args, **kw), with a config error naming the keys `fn` does not take."""
  params = inspect.signature(fn).parameters
  if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
    unknown = sorted(set(kw) - set(params))
    if unknown:
      valid = [p for p in params if p not in ("learning_rate", "lr", "num_steps")]
      raise ConfigError(f"{kind} {name!r} does not take {unknown}; it takes {valid}")
  return fn(*args, **kw)


def make_schedule(cfg_schedule: Any, learning_rate: float, num_steps: int) -> Schedule:
  kw = dict(cfg_schedule)
  name = kw.pop("name")
  return _call_with_config("schedule", name, SCHEDULES.get(name), learning_rate,
                           num_steps, **kw)


def make_optimizer(cfg: Any) -> tuple[optax.GradientTransformation, Schedule]:
  """OPTIMIZERS[optimizer.name](learning_rate=schedule, **rest), optionally with
  gradient clipping before it and max-norm projection after it."""
  kw = dict(cfg.optimizer)
  name, lr = kw.pop("name"), kw.pop("learning_rate")
  clip_norm = kw.pop("clip_norm", None)
  optimizer = OPTIMIZERS.get(name)
  schedule = make_schedule(cfg.schedule, lr, cfg.num_steps)
  tx = _call_with_config("optimizer", name, optimizer, learning_rate=schedule, **kw)
  if clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(clip_norm), tx)
  max_norm = cfg.get("regularizer", {}).get("max_norm", 0.0)
  if max_norm:  # notes 001: project every unit's weights back to ||w|| <= c
    tx = optax.chain(tx, losses.max_norm(max_norm))
  return tx, schedule
