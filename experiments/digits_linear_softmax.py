"""Linear classifier f = Wx + b + softmax cross-entropy on 8x8 digits; initial-loss check, templates."""
from __future__ import annotations

import math
import time
from pathlib import Path

import ml_collections
import numpy as np
from absl import logging

from experiments import _base, _sweep
from nn_lib import data as data_lib
from nn_lib import metrics
from nn_lib.plots import classification as plots

REPORT = dict(task="multiclass classification (10 digits)", output="softmax",
              loss="softmax cross-entropy", model="linear f = Wx + b (64 -> 10)",
              data="digits 8x8 (1437 train / 360 test), standardized",
              metric="test/accuracy", bar=">= 0.95; initial loss about ln 10 = 2.303")


def expected_initial_loss(cfg: ml_collections.ConfigDict) -> float:
  """Notes 002's sanity values when W is small, so every score s is about 0:
  softmax CE = -log(1/C) = ln C; Weston-Watkins hinge = sum over the C - 1 wrong
  classes of max(0, 0 - 0 + margin) = (C - 1) * margin."""
  num_classes = cfg.model.num_outputs
  if cfg.loss.name == "multiclass_hinge":
    return (num_classes - 1) * cfg.loss.get("margin", 1.0)
  if cfg.loss.name == "softmax_cross_entropy_with_integer_labels":
    return math.log(num_classes)
  raise ValueError(f"no sanity value for loss {cfg.loss.name!r}")


def get_config(variant=None):
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  # "normal" is N(0, 0.01^2) (notes 002's W = 0.01 * randn): scores start near 0,
  # which is what the initial-loss sanity check assumes.
  c.model = dict(name="linear", num_outputs=10, kernel_init="normal")
  c.loss = dict(name="softmax_cross_entropy_with_integer_labels")
  c.optimizer = dict(name="adam", learning_rate=1e-2)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 600
  c.batch_size = 128
  c.eval_batch_size = 360
  c.log_every = 50
  c.eval_every = 600
  c.checkpoint_every = 600
  c.keep_checkpoints = 1
  return _base.apply_variant(c, variant)


def run(cfg: ml_collections.ConfigDict, workdir: Path) -> dict:
  """The ordinary loop, plus the initial-loss sanity check (written to
  summary.json as "initial/loss"), the weight templates and a confusion matrix."""
  start = time.time()
  workdir = Path(workdir)
  splits = data_lib.load(cfg.data)
  initial = _sweep.initial_loss(cfg, splits)
  expected = expected_initial_loss(cfg)
  logging.info("initial loss %.4f (notes 002's sanity value for small W: %.4f)",
               initial, expected)
  if abs(initial - expected) > 0.05 * expected:
    logging.warning("initial loss %.4f is far from the sanity value %.4f: are the "
                    "initial weights small?", initial, expected)
  state, model = _sweep.train(cfg, workdir)

  image_shape = splits["train"]["inputs"].shape[1:3]
  kernel_DxK = _sweep.linear_kernel(state)
  templates_KxHxW = kernel_DxK.T.reshape(-1, *image_shape)
  plots.weight_templates(templates_KxHxW, workdir / "plots" / "weight_templates.png",
                         titles=[f"class {k}" for k in range(len(templates_KxHxW))],
                         suptitle=f"{cfg.loss.name}: one template per class")
  test = splits["test"]
  scores_BxK = _sweep.predict(model, state, test["inputs"])
  counts = np.asarray(metrics.confusion_matrix(scores_BxK, test["targets"]))
  plots.confusion_matrix(counts, workdir / "plots" / "confusion_matrix.png",
                         title=f"test accuracy {np.trace(counts) / counts.sum():.3f}")
  _sweep.add_to_final(workdir, {"initial/loss": initial, "initial/expected": expected},
                      wall_time_s=time.time() - start)
  return state
