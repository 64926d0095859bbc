"""Checks before and at the start of training that catch a wrong setup early:
labels the model cannot emit, and notes 002's "initial loss" sanity check."""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax
import numpy as np
from absl import logging

from nn_lib.registry import ConfigError


# The hyperparameter that sets how many B x C scores a model emits (every classifier
# of the zoo has it). Models without it (embedding nets, detectors, autoencoders)
# emit no class scores, so labels above their output width are no error.
_OUTPUT_WIDTH_KEY = "num_outputs"


def output_width_key(model) -> str | None:
  """The config key (`model.<key>`) that sets `model`'s number of class scores."""
  fields = getattr(type(model), "__dataclass_fields__", {})
  return _OUTPUT_WIDTH_KEY if _OUTPUT_WIDTH_KEY in fields else None


def _class_labels(targets: np.ndarray | Mapping[str, dict]) -> dict[str, np.ndarray]:
  per_split = (
    {"train": targets}
    if isinstance(targets, np.ndarray)
    else {name: split["targets"] for name, split in targets.items()}
  )
  return {
    name: t
    for name, t in per_split.items()
    if np.issubdtype(t.dtype, np.integer) and t.ndim == 1 and t.size
  }


def check_outputs_fit_labels(
  model, state, sample: dict, targets: np.ndarray | Mapping[str, dict]
) -> None:
  """Integer class labels need at least max(label) + 1 model outputs; otherwise the
  loss would be NaN (or, in other libraries, silently wrong).

  `targets` is every split ({"train": {"targets": ...}, "test": ...}), or one
  array (the training labels, the older call) which leaves the other splits to
  the data's own check (labels above the training split's are a DataError).
  """
  labels = _class_labels(targets)
  key = output_width_key(model)
  if not labels or key is None:
    return
  variables = {"params": state["params"], **state["model_state"]}
  out = jax.eval_shape(lambda: model.apply(variables, sample["inputs"][:1], train=False))
  if len(out.shape) != 2 or out.shape[-1] <= 1:  # one sigmoid/regression output
    return
  width = out.shape[-1]
  top = max(int(t.max()) for t in labels.values())
  if top >= width:
    where = [name for name, t in labels.items() if t.max() >= width]
    raise ConfigError(
      f"the model emits {width} outputs per example but the labels go up to {top} "
      f"(split(s) {', '.join(where)}); set the model's number of outputs to "
      f"{top + 1} (--config.model.{key}={top + 1}), or relabel the data 0..{width - 1}."
    )


def check_loss_fits(model, state, sample: dict, loss_fn, cfg_loss: Any) -> None:
  """Calls the loss once on abstract model outputs and targets, so that a misspelt
  hyperparameter or targets of the wrong shape for this loss are a config error
  before anything compiles."""
  variables = {"params": state["params"], **state["model_state"]}
  targets = sample["targets"]
  try:
    jax.eval_shape(lambda: loss_fn(model.apply(variables, sample["inputs"], train=False), targets))
  except (TypeError, ValueError) as e:
    hint = ""
    if np.issubdtype(targets.dtype, np.integer) and targets.shape[1:] == (1,):
      # The data keeps N x 1 integer targets (valid 0/1 targets of the sigmoid
      # losses), so a class-label loss is where they are refused.
      hint = (
        " The targets are integers of shape (N, 1); class labels need shape "
        "(N,): save them as a 1-D array (y.ravel())."
      )
    raise ConfigError(
      f"config.loss {dict(cfg_loss)} does not fit this model and data: {e}{hint}"
    ) from e


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
  logging.info(
    "initial loss %.4f (notes 002's sanity value for small weights: %.4f)", initial, expected
  )
  if abs(initial - expected) > 0.05 * expected:
    logging.warning(
      "initial loss %.4f is far from the sanity value %.4f: are the initial weights small?",
      initial,
      expected,
    )
