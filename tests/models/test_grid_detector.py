"""GridDetector's `activate_outputs` (notes 004 "YOLO"): the same parameters give
the raw head, or that head through `activate_grid_outputs` (the YOLO loss's layout)."""
from __future__ import annotations

import jax
import numpy as np

from nn_lib import decoding, models


def test_activated_outputs_are_the_raw_head_through_activate_grid_outputs():
  kw = {"grid_size": 2, "boxes_per_cell": 2, "num_classes": 3, "widths": (4,),
        "head_width": 8}
  raw_model = models.get("grid_detector", **kw)
  model = models.get("grid_detector", activate_outputs=True, **kw)
  assert not raw_model.activate_outputs  # the default keeps the raw head
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 1))
  variables = jax.jit(raw_model.init)(jax.random.key(1), x)
  raw = jax.jit(raw_model.apply)(variables, x)
  # No parameter of its own: the raw model's variables are the activated one's.
  out = np.asarray(jax.jit(model.apply)(variables, x))
  assert out.shape == raw.shape == (2, 2, 2, 13)
  np.testing.assert_allclose(
      out, decoding.activate_grid_outputs(raw, num_boxes=2, num_classes=3), rtol=1e-6)
  # By hand, box 1 of cell (0, 0): sigmoid offsets and confidence, sqrt w = exp(log w / 2).
  r = np.asarray(raw)[0, 0, 0]
  np.testing.assert_allclose(out[0, 0, 0, :5],
                             [*1 / (1 + np.exp(-r[:2])), *np.exp(r[2:4] / 2),
                              1 / (1 + np.exp(-r[4]))], rtol=1e-5)
  np.testing.assert_allclose(out[..., 10:].sum(-1), 1.0, rtol=1e-6)
