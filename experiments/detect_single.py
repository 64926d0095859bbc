"""Single-object detection: one MNIST digit or none per 48x48 canvas, (p, x, y, w, h) head (notes 000).

Notes 000 "Detection: One Object": the head emits a presence logit p, centre logits
x, y and log-sizes; the loss is exactly the notes'

    L = BCE(p, I) + I [BCE(x, x^) + BCE(y, y^) + MSE(log w, log w^) + MSE(log h, log h^)]

(`losses.single_object_detection`, all five terms weighted 1). Boxes are canvas
fractions; 20% of the canvases are empty (I = 0), where only the presence term
counts. The plot shows predicted (red) against true (green) boxes on test canvases.
"""
from . import _base

REPORT = dict(task="single-object detection (presence + box)",
              output="sigmoid (p, x, y) + log-size (w, h)", loss="single_object_detection",
              model="single_object_detector", data="mnist_detect (48x48 canvases, 20% empty)",
              metric="test/mean_box_iou", bar="≥ 0.7 (and test/presence_accuracy ≥ 0.95)")


def get_config():
  c = _base.base_config()
  c.data.name = "mnist_detect"
  c.model = dict(name="single_object_detector", num_classes=0, widths=(16, 32, 64),
                 hidden=128)
  c.loss = dict(name="single_object_detection")
  c.optimizer = dict(name="adam", learning_rate=2e-3)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.num_steps = 1000
  c.batch_size = 64
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 500
  c.checkpoint_every = 500
  c.metrics = ("presence_accuracy", "mean_box_iou")
  c.plots = ("detection_boxes",)
  return c

