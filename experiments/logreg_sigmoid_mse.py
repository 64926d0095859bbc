"""Sigmoid + MSE on "is it a 3?" from a saturated start: the paralysis, next to sigmoid + BCE (notes 000, 003)."""
from __future__ import annotations

import time
from pathlib import Path

import ml_collections

from experiments import _sweep, logreg_binary
from nn_lib.plots import classification as plots

REPORT = dict(task="binary classification (is it a 3?)", output="sigmoid",
              loss="squared error on the sigmoid (counter-example)",
              model="linear f = w.x + b (64 -> 1), saturated start",
              data="digits 8x8 (1437 / 360), target is_class:3, standardized",
              metric="test/binary_accuracy",
              bar="< 0.9, far below bce_reference/test/binary_accuracy (>= 0.96) after "
                  "the same steps")

REFERENCE_LOSS = "sigmoid_binary_cross_entropy"


def get_config(variant=None):
  # Exactly logreg_binary's model, data, initialization and optimizer; only the
  # loss differs: (sigma(z) - t)^2, whose gradient 2 (sigma - t) sigma (1 - sigma)
  # vanishes where the sigmoid saturates, right or wrong (notes 003).
  c = logreg_binary.get_config(variant)
  c.loss = dict(name="sigmoid_squared_error")
  return c


def run(cfg: ml_collections.ConfigDict, workdir: Path) -> dict:
  """Trains this config in `workdir` and the same config with sigmoid + BCE in
  `workdir/bce_reference`; plots/bce_vs_mse.png compares their curves and
  summary.json gains the reference's results under "bce_reference/"."""
  start = time.time()
  workdir = Path(workdir)
  state, _ = _sweep.train(cfg, workdir)
  ref_dir = workdir / "bce_reference"
  _sweep.train(_sweep.derive(cfg, **{"loss.name": REFERENCE_LOSS}), ref_dir)
  runs = {"sigmoid + MSE": workdir, "sigmoid + BCE": ref_dir}
  panels = {
      "train loss": {k: _sweep.curve(d, "train", "loss") for k, d in runs.items()},
      "gradient norm": {k: _sweep.curve(d, "train", "grad_norm") for k, d in runs.items()},
      "test accuracy": {k: _sweep.curve(d, "test", "binary_accuracy")
                        for k, d in runs.items()},
  }
  plots.curve_comparison(panels, workdir / "plots" / "bce_vs_mse.png",
                         log_y=("train loss", "gradient norm"),
                         suptitle=f"same saturated start (init_std = "
                         f"{cfg.model.get('init_std')}), same {cfg.num_steps} SGD steps")
  ref_final = _sweep.read_summary(ref_dir)["final"]
  _sweep.add_to_final(workdir, {f"bce_reference/{k}": v for k, v in ref_final.items()
                                if k.startswith("test/")},
                      wall_time_s=time.time() - start)  # both trainings
  return state
