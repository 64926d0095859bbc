"""Cases of the generic loss tests for grid detection (see _loss_cases.py):
``yolo_loss`` on a 2 x 2 grid, 2 boxes per cell, 3 classes."""
import numpy as np

from _loss_cases import Case, _n, _u


def _yolo_make(num_boxes=2, classes=3, grid=2):
  def make(r, lead):
    cells = lead + (grid, grid)
    # predicted boxes near the true ones' sizes, so IoUs are mostly > 0 and
    # the responsible box is a clear choice (no ties within a step of 1e-6)
    boxes = np.concatenate([_u(r, cells + (num_boxes, 2), 0.1, 0.9),
                            _u(r, cells + (num_boxes, 2), 0.3, 0.8),
                            _n(r, cells + (num_boxes, 1))], -1)
    pred = np.concatenate([boxes.reshape(cells + (5 * num_boxes,)),
                           _n(r, cells + (classes,))], -1)
    has = r.integers(0, 2, cells + (1,)).astype(float)
    has[..., 0, 0, :] = 1.0                    # every image holds an object
    # empty cells keep their random boxes: the loss must ignore them
    target = np.concatenate([has, _u(r, cells + (2,), 0.1, 0.9),
                             _u(r, cells + (2,), 0.1, 0.6),
                             np.eye(classes)[r.integers(0, classes, cells)]],
                            -1)
    return [pred, target]
  return make


CASES: list = [
    # the paper's IoU confidence target is a constant for differentiation
    # (stop_gradient) but moves with the box in a finite difference: no
    # finite-difference check, the reference (with stop_gradient) decides.
    # The first case of a loss gets four Hessians: predictions only there,
    # the targets' derivatives in the second case (one Hessian mode)
    Case("yolo_loss", _yolo_make(), diff=(0,), fd_diff=()),
    Case("yolo_loss[one]", _yolo_make(),
         kw={"confidence_target": "one", "lambda_coord": 2.0,
             "lambda_noobj": 0.25}, fn_name="yolo_loss"),
]
