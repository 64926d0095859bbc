"""The config's loss, looked up by name in `losses.LOSSES` (the package's public
table of losses; penalties and reducers are not in it)."""

from __future__ import annotations

from typing import Any, Callable

import jax

import losses
from nn_lib.registry import Registry

# (outputs, targets) -> per-example loss values (not reduced over the batch).
LossFn = Callable[[jax.Array, jax.Array], jax.Array]

LOSSES: Registry[Callable[..., jax.Array]] = Registry("loss", losses.LOSSES)


def loss_from_config(cfg_loss: Any) -> LossFn:
  """`LOSSES[loss.name]` with the remaining `loss.*` keys as its hyperparameters."""
  kw = dict(cfg_loss)
  fn = LOSSES.get(kw.pop("name"))

  def loss_fn(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    return fn(outputs, targets, **kw)

  return loss_fn
