"""Vector-to-vector regression (R^8 -> R^4), squared error vs Euclidean error with glitched targets (notes 000)."""
from __future__ import annotations

import time
from pathlib import Path

import ml_collections
import numpy as np

from experiments import _base, _sweep
from nn_lib import data as data_lib
from nn_lib.plots import classification as plots

REPORT = dict(task="regression (vector -> vector)", output="identity",
              loss="squared error ||y - y^||^2 vs Euclidean error ||y - y^||",
              model="linear f = Wx + b (8 -> 4)",
              data="vector_regression: 800 train (10% glitched targets) / 200 clean test",
              metric="euclidean_error/test/euclidean",
              bar="below squared_error/test/euclidean (robust to the glitched 10%)")

VALID_LOSSES = ("squared_error", "euclidean_error")


def get_config(variant=None):
  c = _base.base_config()
  c.data.name = "vector_regression"
  c.model = dict(name="linear", num_outputs=4)
  c.loss = dict(name="squared_error")  # replaced by each entry of `losses`
  c.losses = VALID_LOSSES  # one sub-run each, identical otherwise
  c.optimizer = dict(name="adam", learning_rate=1e-2)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 400  # both losses have converged by step 200
  c.batch_size = 80
  c.eval_batch_size = 200
  c.log_every = 25
  c.eval_every = 50
  c.checkpoint_every = 400
  c.keep_checkpoints = 1
  c.metrics = ("mse",)
  return _base.apply_variant(c, variant)


def errors(pred_BxN: np.ndarray, target_BxN: np.ndarray) -> dict[str, float]:
  """Notes 000's two vector errors, averaged over examples:
  SE = ||y - y^||_2^2 and AE = ||y - y^||_2 (the Euclidean error)."""
  if pred_BxN.shape != target_BxN.shape or pred_BxN.ndim != 2:
    raise ValueError(f"need matching B x N arrays, got {pred_BxN.shape} and "
                     f"{target_BxN.shape}")
  sq_B = np.sum((pred_BxN - target_BxN) ** 2, axis=1)
  return {"squared": float(sq_B.mean()), "euclidean": float(np.sqrt(sq_B).mean())}


def run(cfg: ml_collections.ConfigDict, workdir: Path) -> dict:
  """Trains the same model once per loss (sub-workdirs named after the loss) and
  compares their clean-test errors: summary.json and plots/comparison.png."""
  start = time.time()
  workdir = Path(workdir)
  unknown = set(cfg.losses) - set(VALID_LOSSES)
  if unknown or not cfg.losses:
    raise ValueError(f"config.losses must name some of {VALID_LOSSES}, got {cfg.losses}")
  test = data_lib.load(cfg.data)["test"]
  final, test_mse, train_loss = {}, {}, {}
  for name in cfg.losses:
    sub_dir = workdir / name
    state, model = _sweep.train(_sweep.derive(cfg, **{"loss.name": name}), sub_dir)
    for kind, value in errors(_sweep.predict(model, state, test["inputs"]),
                              test["targets"]).items():
      final[f"{name}/test/{kind}"] = value
    test_mse[name] = _sweep.curve(sub_dir, "test", "mse")
    train_loss[name] = _sweep.curve(sub_dir, "train", "loss")
  # The headline loss: the Euclidean-trained model's Euclidean test error.
  last = cfg.losses[-1]
  final["test/loss"] = final[f"{last}/test/euclidean"]
  plots.curve_comparison(
      {"train loss (each its own loss)": train_loss,
       "clean test MSE per component": test_mse},
      workdir / "plots" / "comparison.png", log_y=("clean test MSE per component",),
      suptitle="linear 8 -> 4, 10% of training targets glitched (+5 offset)")
  _sweep.write_summary(workdir, final, time.time() - start)
  return final
