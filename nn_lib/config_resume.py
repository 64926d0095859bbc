"""Which config changes a workdir's run survives: `check_resumable` compares the
config a run was started with (config.json) against the one resuming it."""

from __future__ import annotations

import json
from pathlib import Path

from nn_lib.config_help import flatten_keys
from nn_lib.registry import ConfigError

# Keys that may change between a run and its resumption without changing what the
# checkpoint means (cadence, where data lives, how long to train, what is plotted).
RESUMABLE_CHANGES = (
  "num_steps",
  "log_every",
  "eval_every",
  "checkpoint_every",
  "keep_checkpoints",
  "eval_batch_size",
  "data.data_dir",
  "data.embedded_dir",
  "plots",
  "check_initial_loss",
  "steps_per_call",
  "prefetch",
  "data_placement",
  "data_on_device",  # data_placement's boolean predecessor, in older workdirs
  # where arrays live, not what they hold (restores reshard)
  "sharding.model_axis",
  "sharding.params",
  "sharding.rules",
)
# Keys a config may lack, with the value their absence means (added after workdirs
# were first written, or set only when given): a config without one resumes a run
# whose config holds that value, and the other way round.
ADDED_KEYS = {
  "steps_per_call": 1,
  "prefetch": 2,
  "data_placement": "auto",
  "parallel": "jit",
  "accumulate_steps": 1,
  "ema_decay": 0.0,
  "sharding.model_axis": 1,
  "sharding.params": "replicated",
  "sharding.rules": [],
  "regularizer.l2_lambda": 0.0,
  "augment": [],
  "early_stopping.metric": "",
  "early_stopping.mode": "max",
  "early_stopping.patience": 5,
  "early_stopping.min_delta": 0.0,
  # model hyperparameters train.py adds when set on the command line
  "model.dtype": "float32",
  "model.param_dtype": "float32",
}


def check_resumable(saved_json: str, cfg_json: str, workdir: str | Path) -> None:
  """Refuses to resume a workdir whose run had a different config."""
  saved, now = flatten_keys(json.loads(saved_json)), flatten_keys(json.loads(cfg_json))
  for key, default in ADDED_KEYS.items():
    saved.setdefault(key, default)
    now.setdefault(key, default)
  diffs = [
    f"{k}: {saved.get(k, '<absent>')!r} -> {now.get(k, '<absent>')!r}"
    for k in sorted(set(saved) | set(now))
    if saved.get(k) != now.get(k) and k not in RESUMABLE_CHANGES
  ]
  if diffs:
    raise ConfigError(
      f"workdir {workdir} holds a run with a different config, so its checkpoints "
      f"cannot be resumed:\n  " + "\n  ".join(diffs) + "\nUse a new --workdir, or "
      "move that directory away to start over (nothing is deleted automatically)."
    )
