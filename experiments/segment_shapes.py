"""Semantic segmentation of synthetic shapes: a narrow U-Net, softmax CE per pixel (notes 004).

Notes 004 "Segmentation": every pixel gets a class (background, disc, square,
triangle), so the network is fully convolutional and outputs B x H x W x C logits;
the U-Net's skip connections bring back the encoder's fine detail for sharp
boundaries. The loss is softmax cross-entropy per pixel, averaged over the image.
Reported: test mean IoU (over the 4 classes, the background included), pixel
accuracy, mean Dice, and the recall of small objects (< 100 px, each object counted
once: `metrics.segmentation.small_object_recall`). plots/segmentation.png overlays
the true and predicted class maps on test images.

Every class takes its colour from the same hues and the background is striped
noise, so shape is the only cue to the class.

Measured on this 2-core CPU (`launch/run_all.py`, 300 s with data preparation and
compilation): test mean IoU 0.8745. The learning curve has a plateau (background
only, IoU ~0.35) for the first ~250 steps.
"""
from __future__ import annotations

import ml_collections

from nn_lib.data import shapes

from . import _base

REPORT = {"task": "semantic segmentation (4 classes per pixel)",
          "output": "per-pixel softmax (B x H x W x 4 logits)",
          "loss": "softmax_cross_entropy_with_integer_labels (per pixel)",
          "model": "unet (width 8, depth 3, batch norm), Adam",
          "data": "shapes_seg (64x64 RGB, 2-4 shapes on textured backgrounds)",
          "metric": "test/mean_iou", "bar": "≥ 0.85"}


def get_config() -> ml_collections.ConfigDict:
  c = _base.base_config()
  c.data.name = "shapes_seg"
  c.data.class_names = shapes.CLASS_NAMES
  c.data.small_object_area = 100   # pixels: "small" for small_object_recall
  c.model = {"name": "unet", "num_outputs": shapes.NUM_CLASSES, "depth": 3, "width": 8}
  # Targets are B x H x W class maps; the loss reduces the class axis of the logits.
  c.loss = {"name": "softmax_cross_entropy_with_integer_labels"}
  c.optimizer = {"name": "adam", "learning_rate": 5e-3}
  c.schedule = {"name": "cosine", "warmup_steps": 50}
  c.num_steps = 1000
  c.batch_size = 16
  c.eval_batch_size = 250
  c.log_every = 100
  c.eval_every = 500
  c.checkpoint_every = 500
  c.metrics = ("mean_iou", "pixel_accuracy", "mean_dice")
  c.plots = ("segmentation_masks",)
  return c


def _smoke(c: ml_collections.ConfigDict) -> None:
  # A shallower U-Net on a few images: compiling it is most of the cost. Without
  # batch norm: eval mode reads running averages that 6 steps barely move, so the
  # evaluated loss would not show what the steps learned.
  c.data.train_split = "train[:256]"
  c.data.test_split = "test[:32]"
  c.model.depth = 2
  c.model.batch_norm = False
  c.eval_batch_size = 32
  c.metrics = ("mean_iou",)   # each metric is a compile of its own


VARIANTS = {"smoke": _smoke}
