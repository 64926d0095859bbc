"""Checks before and at the start of training that catch a wrong setup early:
labels the model cannot emit, and notes 002's "initial loss" sanity check."""
from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from absl import logging

from nn_lib.registry import ConfigError


def check_outputs_fit_labels(model, state, sample: dict, targets: np.ndarray) -> None:
  """Integer class labels need at least max(label) + 1 model outputs; otherwise the
  loss would be NaN (or, in other libraries, silently wrong)."""
  if not np.issubdtype(targets.dtype, np.integer) or targets.ndim != 1:
    return
  variables = {"params": state["params"], **state["model_state"]}
  out = jax.eval_shape(lambda: model.apply(variables, sample["inputs"][:1], train=False))
  if len(out.shape) == 2 and out.shape[-1] > 1 and targets.max() >= out.shape[-1]:
    raise ConfigError(
        f"the model emits {out.shape[-1]} outputs per example but the labels go up "
        f"to {targets.max()}; set the model's number of outputs to "
        f"{targets.max() + 1} (--config.model.num_outputs={targets.max() + 1}).")


def check_loss_fits(model, state, sample: dict, loss_fn, cfg_loss: Any) -> None:
  """Calls the loss once on abstract model outputs and targets, so that a misspelt
  hyperparameter or targets of the wrong shape for this loss are a config error
  before anything compiles."""
  variables = {"params": state["params"], **state["model_state"]}
  try:
    jax.eval_shape(lambda: loss_fn(model.apply(variables, sample["inputs"], train=False),
                                   sample["targets"]))
  except (TypeError, ValueError) as e:
    raise ConfigError(f"config.loss {dict(cfg_loss)} does not fit this model and data: "
                      f"{e}") from e


def expected_initial_loss(cfg_loss: Any, num_classes: int) -> float | None:
  """Notes 002's sanity values when the weights are small, so every score is about 0:
  softmax CE = -log(1/C) = ln C; Weston-Watkins hinge = sum over the C - 1 wrong
  classes of max(0, 0 - 0 + margin) = (C - 1) margin. None for other losses."""
  if cfg_loss.name == "softmax_cross_entropy_with_integer_labels":
    return math.log(num_classes)
  if cfg_loss.name == "multiclass_hinge":
    return (num_classes - 1) * cfg_loss.get("margin", 1.0)
  return None


def log_initial_loss(initial: float, cfg: Any, train_targets: np.ndarray) -> None:
  """Logs the loss at the initial parameters next to notes 002's value for it."""
  num_classes = int(train_targets.max()) + 1 if train_targets.ndim == 1 else 0
  expected = expected_initial_loss(cfg.loss, num_classes) if num_classes else None
  if expected is None:
    logging.info("initial loss %.4f", initial)
    return
  logging.info("initial loss %.4f (notes 002's sanity value for small weights: %.4f)",
               initial, expected)
  if abs(initial - expected) > 0.05 * expected:
    logging.warning("initial loss %.4f is far from the sanity value %.4f: are the "
                    "initial weights small?", initial, expected)
