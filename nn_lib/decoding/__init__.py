"""Turning a detector's outputs into boxes (notes 004 "Object detection"): YOLO grid
targets and decoding, and non-maximum suppression. Jittable JAX, fixed shapes
(padding + validity masks), so they vmap over a batch of images."""
from nn_lib.decoding.nms import nms
from nn_lib.decoding.yolo import activate_grid_outputs, assign_targets, decode, responsible_box

__all__ = ["activate_grid_outputs", "assign_targets", "decode", "nms", "responsible_box"]
