"""Linear multiclass SVM (Weston-Watkins + L2) on CIFAR-10 pixels, prepared TFDS data (notes 002).

Notes 002's linear classifier f = Wx + b on the 3,072 standardized pixels with the
Weston-Watkins multiclass hinge sum_{j != y} max(0, s_j - s_y + 1) and an L2 penalty
on W; plots/templates.png shows the ten rows of W as images (notes 002's "template
matching" view). Reads TFDS `cifar10` prepared as array_record from `data.data_dir`
(or $TFDS_DATA_DIR); the smoke variant runs on TFDS mock data.
"""
import types
from pathlib import Path

import numpy as np

from experiments import _base, _real_data
from nn_lib.plots import images

REPORT = dict(task="multiclass classification (real data)", output="scores (identity)",
              loss="multiclass_hinge (Weston-Watkins) + L2", model="linear",
              data="TFDS cifar10 (prepared, 50k/10k)", metric="test/accuracy",
              bar="≥ 0.35", needs_data="cifar10")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
           "ship", "truck")


def get_config(variant=None):
  c = _base.base_config()
  c.data.name = "cifar10"
  c.data.standardize = True
  c.model = dict(name="linear", num_outputs=10)
  c.loss = dict(name="multiclass_hinge", margin=1.0)
  c.optimizer = dict(name="sgd", learning_rate=1e-4, momentum=0.9)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.regularizer.l2 = 5e-3
  c.num_steps = 4000   # batch 256: ~20 epochs
  c.batch_size = 256
  c.eval_batch_size = 1000
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.metrics = ("accuracy", "f1_macro")
  return _real_data.finish(c, variant)


def run(cfg, workdir):
  return _real_data.run(cfg, workdir, hooks=types.SimpleNamespace(after_training=plot_templates))


def plot_templates(state, model, splits, workdir: Path) -> None:
  """plots/templates.png: each class's row of W reshaped to an image, scaled to [0, 1]."""
  del model
  kernel_DxC = np.asarray(state["params"]["Dense_0"]["kernel"])
  templates = kernel_DxC.T.reshape(-1, *splits["train"]["inputs"].shape[1:])
  axes = tuple(range(1, templates.ndim))
  lo, hi = templates.min(axis=axes, keepdims=True), templates.max(axis=axes, keepdims=True)
  images.image_grid((templates - lo) / np.maximum(hi - lo, 1e-12),
                    Path(workdir) / "plots" / "templates.png", titles=list(CLASSES),
                    ncols=10, suptitle="rows of W as images (each scaled to [0, 1])")
