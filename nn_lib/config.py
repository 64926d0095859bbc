"""Checks an experiment config before anything is compiled or loaded, refuses to
resume a workdir with a different config, and derives sub-configs for studies.

Errors are `ConfigError`s whose message names the offending key and what to do.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jax

from nn_lib.registry import ConfigError

__all__ = ["ConfigError", "check_resumable", "derive", "validate_common",
           "validate_training"]

# Keys that may change between a run and its resumption without changing what the
# checkpoint means (cadence, where data lives, how long to train, what is plotted).
RESUMABLE_CHANGES = ("num_steps", "log_every", "eval_every", "checkpoint_every",
                     "keep_checkpoints", "eval_batch_size", "data.data_dir",
                     "data.embedded_dir", "plots", "check_initial_loss")
TRAINING_KEYS = ("model", "loss", "optimizer", "schedule", "num_steps", "batch_size",
                 "eval_batch_size", "log_every", "eval_every", "checkpoint_every",
                 "keep_checkpoints", "metrics")


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
        f"data mesh; use a multiple of {devices} (e.g. {devices * max(1, cfg[key] // devices)}).")


def validate_common(cfg: Any) -> None:
  """What every trainer reads: seed, data and the splits to evaluate."""
  _require(cfg, ("seed", "data", "eval_splits"))
  if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int):
    raise ConfigError(f"config.seed must be an integer, got {cfg.seed!r}")
  unknown_splits = set(cfg.eval_splits) - {"dev", "test", "train"}
  if unknown_splits:
    raise ConfigError(f"config.eval_splits has unknown split(s) {sorted(unknown_splits)};"
                      " valid: train, dev, test")
  frac = cfg.data.get("dev_fraction", 0.0)
  if not 0.0 <= frac < 1.0:
    raise ConfigError(f"config.data.dev_fraction must be in [0, 1), got {frac!r}")
  if "dev" in cfg.eval_splits and not frac:
    raise ConfigError("config.eval_splits asks for 'dev' but config.data.dev_fraction "
                      "is 0; set a fraction of the training split to hold out.")


def validate_training(cfg: Any) -> None:
  """What a gradient trainer reads on top of `validate_common`."""
  validate_common(cfg)
  _require(cfg, TRAINING_KEYS)
  for key in ("num_steps", "batch_size", "eval_batch_size", "log_every", "eval_every",
              "checkpoint_every", "keep_checkpoints"):
    _positive_int(cfg, key)
  for key in ("batch_size", "eval_batch_size"):
    _divisible_by_devices(cfg, key)
  lr = cfg.optimizer.get("learning_rate")
  if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
    raise ConfigError(f"config.optimizer.learning_rate must be a positive number, "
                      f"got {lr!r}")
  for part in ("model", "loss", "optimizer", "schedule"):
    if not cfg[part].get("name"):
      raise ConfigError(f"config.{part}.name is not set")
  for key, value in (cfg.get("regularizer") or {}).items():
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
      raise ConfigError(f"config.regularizer.{key} must be a number >= 0, got {value!r}")


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


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def check_resumable(saved_json: str, cfg_json: str, workdir: str | Path) -> None:
  """Refuses to resume a workdir whose run had a different config."""
  saved, now = _flatten(json.loads(saved_json)), _flatten(json.loads(cfg_json))
  diffs = [f"{k}: {saved.get(k, '<absent>')!r} -> {now.get(k, '<absent>')!r}"
           for k in sorted(set(saved) | set(now))
           if saved.get(k) != now.get(k) and k not in RESUMABLE_CHANGES]
  if diffs:
    raise ConfigError(
        f"workdir {workdir} holds a run with a different config, so its checkpoints "
        f"cannot be resumed:\n  " + "\n  ".join(diffs) + "\nUse a new --workdir, or "
        "move that directory away to start over (nothing is deleted automatically).")
