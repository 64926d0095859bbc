"""Multi-object detection: 1-4 digits (0, 2, 4) per 64x64 canvas, a YOLO v1 grid detector (notes 004).

Notes 004 "YOLO": the canvas is cut into S x S = 4 x 4 cells; every cell predicts
B = 2 boxes [x, y, sqrt w, sqrt h, confidence] and C = 3 class probabilities,
S x S x (5B + C). The grid detector applies the sigmoids, exp(log w / 2) and the
softmax itself (`activate_outputs`), so its outputs are the layout of the YOLO loss
(Redmon et al. 2016, eq. (3)), a sum of squares with lambda_coord = 5 (the boxes'
coordinates) and lambda_noobj = 0.5 (the many empty boxes' confidences), the
paper's values. The headline is test mAP@0.5 over the 1,000 test canvases: decode
-> per-class NMS (IoU > 0.5) -> all-point AP per class, averaged over the classes
(plot `detection_grid`, which also reports mAP@[.5:.95] and draws the boxes before
and after NMS).
"""
from . import _base

REPORT = {"task": "multi-object detection (YOLO grid, 3 classes)",
          "output": "S x S x (5B + C): sigmoid x, y, conf; sqrt sizes; softmax classes",
          "loss": "yolo_loss (lambda_coord 5, lambda_noobj 0.5)",
          "model": "grid_detector (4x4 grid, 2 boxes per cell)",
          "data": "mnist_grid_detect (64x64 canvases, 1-4 digits of 0/2/4)",
          "metric": "test/map_50", "bar": "≥ 0.8 (also test/map_50_95)"}


def get_config():
  c = _base.base_config()
  c.data.name = "mnist_grid_detect"
  c.data.class_names = ("0", "2", "4")
  c.model = {"name": "grid_detector", "grid_size": 4, "boxes_per_cell": 2, "num_classes": 3,
             "widths": (16, 32, 64, 128), "head_width": 128, "activate_outputs": True}
  c.loss = {"name": "yolo_loss", "num_boxes": 2, "lambda_coord": 5.0, "lambda_noobj": 0.5}
  c.optimizer = {"name": "adam", "learning_rate": 2e-3}
  c.schedule = {"name": "cosine", "warmup_steps": 100}
  c.num_steps = 800
  c.batch_size = 64
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 400
  c.checkpoint_every = 400
  # mAP needs decoding, NMS and matching over the whole split (host numpy): it is
  # the plot's number, not a metric traced in the train step.
  c.metrics = ()
  c.plots = ("detection_grid",)
  return c


def _smoke(c):
  # The plot decodes, suppresses and matches every test canvas on the host: 64 of
  # them keep the smoke run short.
  c.data.test_split = "test[:64]"


VARIANTS = {"smoke": _smoke}
