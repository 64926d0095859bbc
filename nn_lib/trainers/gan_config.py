"""The GAN trainer's configuration: every key it reads checked before training,
with an error naming the key (nn_lib/trainers/gan.py has the trainer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

import losses
from nn_lib import config as config_lib
from nn_lib.registry import ConfigError
from nn_lib.trainers import chunks, gan_data

GENERATOR_LOSSES: dict[str, Callable[..., jax.Array]] = {
  "nonsaturating": losses.gan_generator_nonsaturating,  # -log D(G(z))
  "minimax": losses.gan_generator_minimax,  # log(1 - D(G(z)))
}
_GAN_INT_KEYS = ("latent_dim", "d_steps", "eval_samples", "plot_snapshots")


def validate(cfg: Any) -> None:
  """Every key the GAN trainer reads, with an error naming the key."""
  config_lib.validate_common(cfg)
  chunks.check_loop_keys(
    cfg, "gan", ("generator", "discriminator", "g_optimizer", "d_optimizer", "schedule", "gan")
  )
  for key in _GAN_INT_KEYS:
    if not chunks.positive_int(cfg.gan.get(key)):
      raise ConfigError(f"config.gan.{key} must be a positive integer, got {cfg.gan.get(key)!r}")
  if cfg.gan.get("generator_loss") not in GENERATOR_LOSSES:
    raise ConfigError(
      f"config.gan.generator_loss={cfg.gan.get('generator_loss')!r} is "
      f"not a generator loss; valid: {', '.join(GENERATOR_LOSSES)}"
    )
  r1 = cfg.gan.get("r1_weight", 0.0)
  if isinstance(r1, bool) or not isinstance(r1, (int, float)) or r1 < 0:
    raise ConfigError(f"config.gan.r1_weight must be a number >= 0 (0: no penalty), got {r1!r}")
  t = cfg.gan.get("real_label", 1.0)
  if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.5 < t <= 1:
    raise ConfigError(
      f"config.gan.real_label must be a number in (0.5, 1] (1: no label smoothing), got {t!r}"
    )
  ema = cfg.gan.get("g_ema_decay", 0.0)
  if isinstance(ema, bool) or not isinstance(ema, (int, float)) or not 0 <= ema < 1:
    raise ConfigError(
      f"config.gan.g_ema_decay must be a number in [0, 1) (0: no moving average of G), got {ema!r}"
    )
  grid = cfg.gan.get("grid_samples", 0)
  if isinstance(grid, bool) or not isinstance(grid, int) or grid < 0:
    raise ConfigError(
      f"config.gan.grid_samples must be an integer >= 0 (0: no per-evaluation grid), got {grid!r}"
    )
  gan_data.validate(cfg)
  for part in ("generator", "discriminator", "g_optimizer", "d_optimizer", "schedule"):
    if not cfg[part].get("name"):
      raise ConfigError(f"config.{part}.name is not set")
  for part in ("g_optimizer", "d_optimizer"):
    lr = cfg[part].get("learning_rate")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
      raise ConfigError(f"config.{part}.learning_rate must be a positive number, got {lr!r}")
