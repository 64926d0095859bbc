"""Checks an experiment config before anything is compiled or loaded, and derives
sub-configs for studies. What each key means is in `config_help` (re-exported
here); refusing to resume a workdir with a different config, in `config_resume`.

Errors are `ConfigError`s whose message names the offending key and what to do.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import jax
import numpy as np

from nn_lib.config_help import KEY_HELP, RENAMED_KEYS, describe, flatten_keys
from nn_lib.registry import ConfigError

__all__ = [
  "ConfigError",
  "KEY_HELP",
  "derive",
  "describe",
  "flatten_keys",
  "validate_common",
  "validate_training",
]

PARALLEL_MODES = ("jit", "explicit")
DATA_PLACEMENTS = ("auto", "device", "host")  # nn_lib.training.feed.split_on_device
_FLOAT32_MAX = float(np.finfo(np.float32).max)
TRAINING_KEYS = (
  "model",
  "loss",
  "optimizer",
  "schedule",
  "num_steps",
  "batch_size",
  "eval_batch_size",
  "log_every",
  "eval_every",
  "checkpoint_every",
  "keep_checkpoints",
  "metrics",
)


def _require(cfg: Any, keys) -> None:
  missing = [k for k in keys if k not in cfg]
  if missing:
    raise ConfigError(f"config lacks required key(s) {missing}")


def _positive_int(cfg, key: str) -> int:
  value = cfg[key]
  if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
    raise ConfigError(f"config.{key} must be a positive integer, got {value!r}")
  return value


def _divisible_by_devices(cfg, key: str) -> None:
  devices = jax.device_count()
  if cfg[key] % devices:
    raise ConfigError(
      f"config.{key}={cfg[key]} is not divisible by the {devices} devices of the "
      f"data mesh; use a multiple of {devices} (e.g. {devices * max(1, cfg[key] // devices)})."
    )


def validate_common(cfg: Any) -> None:
  """What every trainer reads: seed, data and the splits to evaluate."""
  _require(cfg, ("seed", "data", "eval_splits"))
  if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int):
    raise ConfigError(f"config.seed must be an integer, got {cfg.seed!r}")
  if not cfg.eval_splits:
    # Nothing would be evaluated: the run would end with no test metric in its
    # Result or summary.json, which is never what a user asking for a run means.
    raise ConfigError(
      "config.eval_splits is empty, so no split would be evaluated "
      "and the run would report no metric; name at least one of train, "
      "dev, test, e.g. --config.eval_splits=\"('test',)\"."
    )
  unknown_splits = set(cfg.eval_splits) - {"dev", "test", "train"}
  if unknown_splits:
    raise ConfigError(
      f"config.eval_splits has unknown split(s) {sorted(unknown_splits)}; valid: train, dev, test"
    )
  frac = cfg.data.get("dev_fraction", 0.0)
  if not 0.0 <= frac < 1.0:
    raise ConfigError(f"config.data.dev_fraction must be in [0, 1), got {frac!r}")
  split_seed = cfg.data.get("split_seed", 0)
  if isinstance(split_seed, bool) or not isinstance(split_seed, int) or split_seed < 0:
    # numpy's default_rng only takes non-negative seeds; refuse it here, not mid-load.
    raise ConfigError(
      f"config.data.split_seed must be a non-negative integer, got "
      f"{split_seed!r}; set --config.data.split_seed to e.g. 0."
    )
  if "dev" in cfg.eval_splits and not frac:
    raise ConfigError(
      "config.eval_splits asks for 'dev' but config.data.dev_fraction "
      "is 0; set a fraction of the training split to hold out."
    )


def validate_training(cfg: Any) -> None:
  """What a gradient trainer reads on top of `validate_common`."""
  validate_common(cfg)
  _require(cfg, TRAINING_KEYS)
  for key in (
    "num_steps",
    "batch_size",
    "eval_batch_size",
    "log_every",
    "eval_every",
    "checkpoint_every",
    "keep_checkpoints",
  ):
    _positive_int(cfg, key)
  # eval_batch_size needs no multiple: evaluation pads each batch to one (predict.py).
  _divisible_by_devices(cfg, "batch_size")
  _check_scale_out(cfg)
  lr = cfg.optimizer.get("learning_rate")
  if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
    raise ConfigError(f"config.optimizer.learning_rate must be a positive number, got {lr!r}")
  if not math.isfinite(lr) or lr > _FLOAT32_MAX:
    # The step computes in float32: a larger rate is Inf there and every update NaN.
    raise ConfigError(
      f"config.optimizer.learning_rate={lr!r} is not finite in float32 "
      f"(the largest float32 is {_FLOAT32_MAX:.4g}); use a learning rate "
      "such as 1e-3."
    )
  for part in ("model", "loss", "optimizer", "schedule"):
    if not cfg[part].get("name"):
      raise ConfigError(f"config.{part}.name is not set")
  _check_optimizer_values(cfg.optimizer)
  _check_warmup(cfg.schedule, cfg.num_steps)
  known = ("l2", "l1", "max_norm", "l2_lambda")
  for key, value in (cfg.get("regularizer") or {}).items():
    if key not in known:
      raise ConfigError(f"config.regularizer.{key} is not a regularizer; valid: {', '.join(known)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
      raise ConfigError(f"config.regularizer.{key} must be a number >= 0, got {value!r}")


def _check_scale_out(cfg: Any) -> None:
  for old in RENAMED_KEYS:
    if old in cfg:
      raise ConfigError(f"{RENAMED_KEYS[old]}.")
  placement = cfg.get("data_placement", "auto")
  if placement not in DATA_PLACEMENTS:
    raise ConfigError(
      f"config.data_placement={placement!r} is not a placement; valid: "
      f"{', '.join(DATA_PLACEMENTS)} (auto: on the devices where the split fits)."
    )
  parallel = cfg.get("parallel", "jit")
  if parallel not in PARALLEL_MODES:
    raise ConfigError(
      f"config.parallel={parallel!r} is not a parallel mode; valid: {', '.join(PARALLEL_MODES)}."
    )
  k = cfg.get("accumulate_steps", 1)
  if isinstance(k, bool) or not isinstance(k, int) or k < 1:
    raise ConfigError(
      f"config.accumulate_steps must be a positive integer (1 = no accumulation), got {k!r}."
    )
  rows = cfg.batch_size // jax.device_count()
  if rows % k:
    raise ConfigError(
      f"config.accumulate_steps={k} must divide the {rows} rows each device gets "
      f"(batch_size={cfg.batch_size} over {jax.device_count()} devices); use a "
      f"divisor of {rows}, or a batch_size that is a multiple of "
      f"{k * jax.device_count()}."
    )
  for key in ("steps_per_call", "prefetch"):
    value = cfg.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < (key == "steps_per_call"):
      raise ConfigError(
        f"config.{key} must be an integer >= {int(key == 'steps_per_call')}, got {value!r}."
      )
  decay = cfg.get("ema_decay", 0.0)
  if not (_is_number(decay) and 0 <= decay < 1):
    raise ConfigError(
      f"config.ema_decay must be in [0, 1) (0 = no moving average; e.g. 0.999), got {decay!r}."
    )
  params = cfg.get("sharding", {}).get("params", "replicated")
  if parallel == "explicit" and params != "replicated":
    raise ConfigError(
      f"config.parallel='explicit' replicates the parameters on every "
      f"device, so config.sharding.params={params!r} cannot apply; use "
      "parallel='jit' to shard them."
    )


def _is_number(value: Any) -> bool:
  return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


# optax arguments that are decay factors of a running average: 1 (or more) never
# forgets (adam's bias correction then divides by 0), a negative one oscillates.
_DECAY_FACTORS = ("momentum", "b1", "b2")


def _check_optimizer_values(cfg_optimizer: Any) -> None:
  """Values optax accepts silently but that make training wrong or NaN."""
  clip_norm = cfg_optimizer.get("clip_norm")
  if clip_norm is not None and not (_is_number(clip_norm) and clip_norm > 0):
    raise ConfigError(
      f"config.optimizer.clip_norm must be a positive number (the "
      f"largest gradient norm kept) or None for no clipping, got "
      f"{clip_norm!r}; set e.g. --config.optimizer.clip_norm=1.0."
    )
  for key in _DECAY_FACTORS:
    value = cfg_optimizer.get(key)
    if value is not None and not (_is_number(value) and 0 <= value < 1):
      raise ConfigError(
        f"config.optimizer.{key} must be in [0, 1), got {value!r} "
        f"(optimizer {cfg_optimizer.get('name')!r}); set e.g. "
        f"--config.optimizer.{key}=0.9."
      )
  weight_decay = cfg_optimizer.get("weight_decay")
  if weight_decay is not None and not (_is_number(weight_decay) and weight_decay >= 0):
    raise ConfigError(
      f"config.optimizer.weight_decay must be a number >= 0 (a negative "
      f"one grows the weights), got {weight_decay!r}; set e.g. "
      f"--config.optimizer.weight_decay=1e-4."
    )


def _check_warmup(cfg_schedule: Any, num_steps: int) -> None:
  warmup = cfg_schedule.get("warmup_steps")
  if warmup is None:
    return
  if isinstance(warmup, bool) or not isinstance(warmup, int) or not 0 <= warmup < num_steps:
    raise ConfigError(
      f"config.schedule.warmup_steps={warmup!r} must be an integer in "
      f"[0, num_steps={num_steps}); set --config.schedule.warmup_steps "
      f"below config.num_steps (0 = no warmup)."
    )


def derive(cfg: Any, **updates: Any) -> Any:
  """A copy of `cfg` with dotted keys replaced: derive(c, **{"loss.name": "x"}).

  Only existing keys may change (a typo is an error naming the key), so a derived
  config differs from its parent in exactly the named ways.
  """
  sub = copy.deepcopy(cfg)
  for dotted, value in updates.items():
    *parents, leaf = dotted.split(".")
    node = sub
    for key in parents:
      node = node[key]
    if leaf not in node:
      raise ConfigError(f"cannot derive a config: it has no key {dotted!r}")
    with node.unlocked():
      node[leaf] = value
  return sub
