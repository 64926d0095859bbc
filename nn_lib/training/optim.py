"""Optimizer and learning-rate schedule from config, by optax name."""
from __future__ import annotations

import inspect
from typing import Any, Callable

import optax

import losses

Schedule = Callable[[Any], Any]


def _schedules(lr: float, num_steps: int, kw: dict) -> dict[str, Callable[[], Schedule]]:
  warmup = kw.pop("warmup_steps", 0)
  if not 0 <= warmup < num_steps:
    raise ValueError(f"schedule.warmup_steps={warmup} must be in [0, num_steps="
                     f"{num_steps}).")
  return {
      "constant": lambda: optax.constant_schedule(lr),
      "cosine": lambda: optax.warmup_cosine_decay_schedule(
          init_value=0.0 if warmup else lr, peak_value=lr, warmup_steps=warmup,
          decay_steps=num_steps, end_value=lr * kw.pop("end_fraction", 0.0)),
      # Notes 004's learning-rate decay: alpha0 * decay_rate^(step / transition_steps).
      "exponential": lambda: optax.exponential_decay(
          lr, transition_steps=kw.pop("transition_steps", max(1, num_steps // 10)),
          decay_rate=kw.pop("decay_rate", 0.5), staircase=kw.pop("staircase", False)),
      "linear": lambda: optax.linear_schedule(
          lr, lr * kw.pop("end_fraction", 0.0), transition_steps=num_steps),
  }




def make_schedule(cfg_schedule: Any, learning_rate: float, num_steps: int) -> Schedule:
  kw = dict(cfg_schedule)
  name = kw.pop("name")
  table = _schedules(learning_rate, num_steps, kw)
  if name not in table:
    raise ValueError(f"unknown schedule {name!r}; valid: {', '.join(table)}")
  schedule = table[name]()
  if kw:
    raise ValueError(f"schedule {name!r} does not take {sorted(kw)}")
  return schedule


def optimizer_names() -> list[str]:
  """optax functions that build an optimizer from a learning rate."""
  names = []
  for name in dir(optax):
    fn = getattr(optax, name)
    if name.startswith("_") or not inspect.isfunction(fn):
      continue
    try:
      params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
      continue
    if next(iter(params), None) == "learning_rate":
      names.append(name)
  return sorted(names)


def make_optimizer(cfg: Any) -> tuple[optax.GradientTransformation, Schedule]:
  """optax.<optimizer.name>(learning_rate=schedule, **rest), optionally clipped."""
  kw = dict(cfg.optimizer)
  name, lr = kw.pop("name"), kw.pop("learning_rate")
  clip_norm = kw.pop("clip_norm", None)
  if name not in optimizer_names():
    raise ValueError(f"unknown optimizer {name!r}; valid optax optimizers include: "
                     "sgd, momentum via sgd(momentum=...), adam, adamw, rmsprop, "
                     f"adagrad, lamb, lion (all: {', '.join(optimizer_names())})")
  schedule = make_schedule(cfg.schedule, lr, cfg.num_steps)
  try:
    tx = getattr(optax, name)(learning_rate=schedule, **kw)
  except TypeError as e:
    raise ValueError(f"optimizer {name!r} rejected its config "
                     f"{sorted(kw)}: {e}") from e
  if clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(clip_norm), tx)
  max_norm = cfg.get("regularizer", {}).get("max_norm", 0.0)
  if max_norm:  # notes 001: project every unit's weights back to ||w|| <= c
    tx = optax.chain(tx, losses.max_norm(max_norm))
  return tx, schedule
