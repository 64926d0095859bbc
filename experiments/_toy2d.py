"""Shared config and decision-boundary plot for the 2-D homework experiments
(notes 003's make_moons / make_circles / make_blobs)."""
from __future__ import annotations

from pathlib import Path

import ml_collections
import numpy as np

from experiments import _base, _sweep
from nn_lib.plots import classification as plots

NUM_CLASSES = {"moons": 2, "circles": 2, "blobs": 3}


def config(dataset: str, variant: str | None, *, linear: bool = False
           ) -> ml_collections.ConfigDict:
  """Softmax + cross-entropy on a 2-D embedded dataset; an MLP unless `linear`.

  Inputs are left in data coordinates (the generators' ranges are within about
  +-7), so the decision-boundary plot is drawn in the original plane.
  """
  if dataset not in NUM_CLASSES:
    raise ValueError(f"unknown 2-D dataset {dataset!r}; valid: {', '.join(NUM_CLASSES)}")
  c = _base.base_config()
  c.data.name = dataset
  num_classes = NUM_CLASSES[dataset]
  if linear:
    c.model = dict(name="linear", num_outputs=num_classes)
  else:
    c.model = dict(name="mlp", num_outputs=num_classes, hidden=(32, 32),
                   activation="relu")
  c.loss = dict(name="softmax_cross_entropy_with_integer_labels")
  c.optimizer = dict(name="adam", learning_rate=1e-2)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 600
  c.batch_size = 64
  c.eval_batch_size = 200
  c.log_every = 50
  c.eval_every = 600
  c.checkpoint_every = 600
  c.keep_checkpoints = 1
  return _base.apply_variant(c, variant)


def after_training(state, model, splits, workdir) -> None:
  """plots/decision_boundary.png: predicted regions with the test points."""
  test = splits["test"]
  points = np.concatenate([splits["train"]["inputs"], test["inputs"]])
  xx, yy, grid = plots.grid_2d(points, resolution=200)
  classes = _sweep.predict(model, state, grid).argmax(axis=-1).reshape(xx.shape)
  accuracy = float(np.mean(_sweep.predict(model, state, test["inputs"]).argmax(-1)
                           == test["targets"]))
  plots.decision_boundary(xx, yy, classes, test["inputs"], test["targets"],
                          Path(workdir) / "plots" / "decision_boundary.png",
                          title=f"{type(model).__name__} - test accuracy {accuracy:.3f}")
