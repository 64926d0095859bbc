"""Segmentation loss study (notes 004): the same U-Net trained with CE, Dice, Dice+CE, focal and Tversky.

Notes 004 "Loss and Metrics" for segmentation: per-pixel cross-entropy is dominated
by the many easy background pixels; the region losses score each class's overlap
as a whole (Dice 2|A n B| / (|A| + |B|), Tversky with false negatives weighted
beta = 0.7 above false positives alpha = 0.3), and the focal loss (gamma = 2)
down-weights the pixels already classified well. Every run trains the
`segment_shapes` U-Net on `shapes_seg` with the same optimizer, steps and seed;
only the loss differs. The targets are one-hot maps (`one_hot`), which every
one of these losses takes (plain CE as `softmax_cross_entropy`).

The runs are short (400 steps, 40% of `segment_shapes`' budget): the comparison of
the losses at one budget is the point, not each run's best IoU. The summary
tabulates per run test/mean_iou, pixel accuracy, mean Dice and
test/small_object_recall (objects under 100 px found by at least half their pixels).

Measured on this 2-core CPU (`launch/run_all.py`, 506 s for the five runs):

  loss      mean IoU  pixel acc.  mean Dice  small-object recall
  ce          0.564     0.954       0.637      0.284
  dice        0.757     0.972       0.854      0.628
  dice_ce     0.743     0.973       0.840      0.576
  focal       0.610     0.954       0.721      0.435
  tversky     0.734     0.969       0.836      0.603

At this budget the per-pixel losses (CE, focal) are still leaving the
"all background" plateau that `segment_shapes` shows for its first ~250 steps;
the region losses leave it sooner, since every class's overlap weighs the same
whatever its pixel count. Tversky's beta > alpha (misses cost more than false
alarms) did not buy small-object recall over plain Dice at this budget.
"""
from __future__ import annotations

import ml_collections

from nn_lib.data import shapes

from . import _base, segment_shapes

REPORT = {"task": "study: segmentation losses", "output": "per-pixel softmax",
          "loss": "CE, dice, dice_cross_entropy, softmax_focal, tversky",
          "model": "unet (width 8, depth 3), Adam", "data": "shapes_seg (64x64 RGB)",
          "metric": "dice_ce/test/mean_iou",
          "bar": "≥ ce/test/mean_iou (region terms should help the small classes)",
          "table": ("test/mean_iou", "test/pixel_accuracy", "test/mean_dice",
                    "test/small_object_recall")}

_RUNS = (
    ("ce", {"name": "softmax_cross_entropy"}),
    ("dice", {"name": "dice", "mode": "multiclass", "spatial_dims": 2}),
    ("dice_ce", {"name": "dice_cross_entropy", "mode": "multiclass", "spatial_dims": 2}),
    ("focal", {"name": "softmax_focal", "gamma": 2.0}),
    ("tversky", {"name": "tversky", "mode": "multiclass", "spatial_dims": 2, "alpha": 0.3,
                 "beta": 0.7}),
)


def get_config() -> ml_collections.ConfigDict:
  c = segment_shapes.get_config()
  # One-hot class maps B x H x W x 4: the region losses need them, and the
  # segmentation metrics read them as class maps.
  c.data.target_transform = {"name": "one_hot", "num_classes": shapes.NUM_CLASSES}
  c.num_steps = 400
  c.eval_every = 400
  c.checkpoint_every = 400
  c.log_every = 50
  c.study = "compare"
  c.compare = {"runs": tuple((name, (("loss", loss),)) for name, loss in _RUNS),
               "panels": ("train/loss", "test/mean_iou"),
               "title": "same U-Net, Adam, 400 steps of 16 images; loss per run"}
  return c


def _smoke(c: ml_collections.ConfigDict) -> None:
  segment_shapes.VARIANTS["smoke"](c)
  _base.only_runs("dice_ce")(c)


VARIANTS = {"smoke": _smoke}
