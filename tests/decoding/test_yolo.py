"""YOLO grid targets and decoding (notes 004 "Object detection", "YOLO") against
hand-computed cells. Convention: row follows y (down), column follows x (right)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib.decoding import activate_grid_outputs, assign_targets, decode, responsible_box

S, C, B, K = 4, 3, 2, 4  # one shape for every assign_targets call: one compilation
# Jitted: one compilation each is cheaper than eager op-by-op dispatch.
_assign = jax.jit(assign_targets, static_argnames=("grid_size", "num_classes"))
_decode = jax.jit(decode, static_argnames=("num_boxes", "num_classes"))


def _targets(boxes, classes, valid=None):
  boxes, classes = np.asarray(boxes, np.float32), np.asarray(classes)
  valid = np.ones(len(boxes), bool) if valid is None else np.asarray(valid)
  pad = K - len(boxes)  # fixed K: pad with invalid objects
  boxes = np.concatenate([boxes, np.full((pad, 4), 0.5, np.float32)])
  classes = np.concatenate([classes, np.full(pad, -1, classes.dtype)])
  valid = np.concatenate([valid, np.zeros(pad, bool)])
  return np.asarray(_assign(boxes, classes, valid, grid_size=S, num_classes=C))


def test_hand_computed_cells():
  # (0.55, 0.3) on a 4 x 4 grid: x S = 2.2, y S = 1.2 -> row 1, column 2, offsets
  # (0.2, 0.2). (0.1, 0.9): x S = 0.4, y S = 3.6 -> row 3, column 0, offsets (0.4, 0.6).
  # A centre on the right edge, x = 1: column 3 with offset 1. The invalid object
  # and the one centred outside the image are in no cell.
  target = _targets([[0.55, 0.3, 0.2, 0.1], [0.1, 0.9, 0.3, 0.4], [1.0, 0.0, 0.1, 0.1],
                     [1.2, 0.5, 0.1, 0.1]], [1, 2, 0, 0], [True, True, True, True])
  assert target.shape == (S, S, 5 + C)
  np.testing.assert_allclose(target[1, 2], [1, 0.2, 0.2, 0.2, 0.1, 0, 1, 0], atol=1e-6)
  np.testing.assert_allclose(target[3, 0], [1, 0.4, 0.6, 0.3, 0.4, 0, 0, 1], atol=1e-6)
  np.testing.assert_allclose(target[0, 3], [1, 1.0, 0.0, 0.1, 0.1, 1, 0, 0], atol=1e-6)
  assert sorted(map(tuple, np.argwhere(target[..., 0]))) == [(0, 3), (1, 2), (3, 0)]
  assert np.count_nonzero(target) == np.count_nonzero(target[[1, 3, 0], [2, 0, 3]])
  invalid = _targets([[0.55, 0.3, 0.2, 0.1]], [1], [False])
  assert not invalid.any()


def test_two_objects_in_one_cell_the_larger_wins():
  small, large = [0.55, 0.3, 0.2, 0.1], [0.6, 0.4, 0.3, 0.3]  # both in row 1, column 2
  for boxes, classes in (([small, large], [0, 2]), ([large, small], [2, 0])):
    cell = _targets(boxes, classes)[1, 2]
    np.testing.assert_allclose(cell, [1, 0.4, 0.6, 0.3, 0.3, 0, 0, 1], atol=1e-6)
  # An invalid larger object does not take the cell.
  cell = _targets([small, large], [0, 2], [True, False])[1, 2]
  np.testing.assert_allclose(cell, [1, 0.2, 0.2, 0.2, 0.1, 1, 0, 0], atol=1e-6)
  # Equal areas: the earlier object wins.
  same_area = [0.7, 0.45, 0.1, 0.2]
  cell = _targets([small, same_area], [0, 1])[1, 2]
  np.testing.assert_allclose(cell[[0, 5, 6]], [1, 1, 0])
  cell = _targets([same_area, small], [1, 0])[1, 2]
  np.testing.assert_allclose(cell, [1, 0.8, 0.8, 0.1, 0.2, 0, 1, 0], atol=1e-6)


def _perfect_prediction(target):
  """The prediction a perfect YOLO net makes for `target`: box 0 of an object's
  cell is the truth with confidence 1, box 1 has confidence 0, and the class
  probabilities are the one-hot class."""
  pred = np.zeros((S, S, 5 * B + C), np.float32)
  pred[..., 0:2] = target[..., 1:3]
  pred[..., 2:4] = np.sqrt(target[..., 3:5])
  pred[..., 4] = target[..., 0]
  pred[..., 5:10] = [0.3, 0.7, 0.5, 0.5, 0.0]  # a wrong box that nobody trusts
  pred[..., 5 * B:] = np.where(target[..., :1] > 0, target[..., 5:], 1 / C)
  return pred


def test_decode_inverts_assign_targets():
  rng = np.random.default_rng(0)
  cells = rng.choice(S * S, K, replace=False)  # distinct cells: every object kept
  centres = (np.stack([cells % S, cells // S], 1) + rng.uniform(0.05, 0.95, (K, 2))) / S
  boxes = np.concatenate([centres, rng.uniform(0.05, 0.6, (K, 2))], 1).astype(np.float32)
  classes = rng.integers(0, C, K)
  target = _targets(boxes, classes)
  out_boxes, scores, out_classes = (np.asarray(o) for o in
                                    _decode(_perfect_prediction(target), num_boxes=B,
                                           num_classes=C))
  assert out_boxes.shape == (S * S * B, 4) and scores.shape == out_classes.shape == (S * S * B,)
  found = np.flatnonzero(scores > 0.5)
  # Box index (row S + column) B + b, b = 0: the object's cell.
  assert sorted(found.tolist()) == sorted((cells * B).tolist())
  order = np.argsort(cells)
  np.testing.assert_allclose(out_boxes[found], boxes[order], atol=1e-6)
  assert out_classes[found].tolist() == classes[order].tolist()
  np.testing.assert_allclose(scores[found], 1.0)
  assert not scores[np.setdiff1d(np.arange(S * S * B), found)].any()


def test_decode_by_hand_and_with_a_batch_axis():
  pred = np.zeros((2, S, S, 5 * B + C), np.float32)
  # Image 1, cell (row 2, column 1), box 1: centre ((1 + 0.5) / 4, (2 + 0.25) / 4),
  # size (0.6^2, 0.2^2); confidence 0.8 and class probabilities (0.1, 0.6, 0.3)
  # -> class 1 with score 0.8 x 0.6 = 0.48.
  pred[1, 2, 1, 5:10] = [0.5, 0.25, 0.6, 0.2, 0.8]
  pred[1, 2, 1, 10:] = [0.1, 0.6, 0.3]
  out_boxes, scores, classes = (np.asarray(o) for o in _decode(pred, num_boxes=B,
                                                             num_classes=C))
  assert out_boxes.shape == (2, S * S * B, 4)
  i = (2 * S + 1) * B + 1
  np.testing.assert_allclose(out_boxes[1, i], [0.375, 0.5625, 0.36, 0.04], atol=1e-6)
  assert scores[1, i] == pytest.approx(0.48) and classes[1, i] == 1
  assert np.count_nonzero(scores) == 1


def test_rectangular_grid_rows_follow_y():
  # 2 rows x 4 columns: (0.55, 0.3) -> x S_c = 2.2, y S_r = 0.6: row 0, column 2,
  # offsets (0.2, 0.6); decoding puts it back.
  boxes = np.array([[0.55, 0.3, 0.2, 0.1]] + [[0.5] * 4] * (K - 1), np.float32)
  target = np.asarray(_assign(boxes, np.array([1, 0, 0, 0]), np.arange(K) < 1,
                              grid_size=(2, 4), num_classes=C))
  assert target.shape == (2, 4, 5 + C)
  np.testing.assert_allclose(target[0, 2], [1, 0.2, 0.6, 0.2, 0.1, 0, 1, 0], atol=1e-6)
  assert np.count_nonzero(target[..., 0]) == 1
  pred = np.zeros((2, 4, 5 * B + C), np.float32)
  pred[0, 2, :5] = [0.2, 0.6, np.sqrt(0.2), np.sqrt(0.1), 1.0]
  pred[0, 2, 10:] = [0, 1, 0]
  out_boxes, scores, classes = map(np.asarray, _decode(pred, num_boxes=B, num_classes=C))
  i = (0 * 4 + 2) * B
  np.testing.assert_allclose(out_boxes[i], boxes[0], atol=1e-6)
  assert scores[i] == 1 and classes[i] == 1 and np.count_nonzero(scores) == 1


def test_activate_grid_outputs():
  raw = np.zeros((S, S, 5 * B + C), np.float32)
  raw[0, 0, 2:4] = np.log([0.25, 0.09])  # log sizes -> sqrt sizes 0.5, 0.3
  raw[0, 0, 10:] = [0.0, np.log(2.0), np.log(5.0)]  # softmax: (1, 2, 5) / 8
  activate = jax.jit(activate_grid_outputs, static_argnames=("num_boxes", "num_classes"))
  act = np.asarray(activate(raw, num_boxes=B, num_classes=C))
  np.testing.assert_allclose(act[0, 0], [0.5, 0.5, 0.5, 0.3, 0.5, 0.5, 0.5, 1, 1, 0.5,
                                         1 / 8, 2 / 8, 5 / 8], rtol=1e-6)
  boxes = np.asarray(_decode(act, num_boxes=B, num_classes=C)[0])
  np.testing.assert_allclose(boxes[0], [0.125, 0.125, 0.25, 0.09], rtol=1e-6)


def test_responsible_box_uses_image_scale_iou():
  # Target (0.5, 0.5, 0.25, 0.25) in cell units = (0.125, 0.125, 0.25, 0.25) in image
  # units on a 4 x 4 grid. Box A (0.5, 0.5, 0.5, 0.5) contains it: IoU 0.0625 / 0.25
  # = 0.25. Box B (0.9, 0.5, 0.25, 0.25) is shifted by 0.4 cell = 0.1 image: overlap
  # 0.15 x 0.25 = 0.0375, IoU 0.0375 / 0.0875 = 0.43, so B is responsible. (Read as
  # image units, the shift 0.4 would leave no overlap and A would win.)
  pred = np.zeros((S, S, B, 4), np.float32)
  target = np.zeros((S, S, 4), np.float32)
  pred[3, 1] = [[0.5, 0.5, 0.5, 0.5], [0.9, 0.5, 0.25, 0.25]]
  target[3, 1] = [0.5, 0.5, 0.25, 0.25]
  one_hot = np.asarray(jax.jit(responsible_box)(pred, target))
  assert one_hot.shape == (S, S, B)
  assert one_hot[3, 1].tolist() == [0, 1]
  assert one_hot[0, 0].tolist() == [1, 0]  # all IoUs 0: the first box


def test_bad_inputs_say_what_is_wrong():
  with pytest.raises(ValueError, match=r"S x S x 13 \(B = 2 boxes, C = 3 classes\); got "
                     r"\(4, 4, 12\)"):
    decode(jnp.zeros((S, S, 12)), num_boxes=B, num_classes=C)
  # Padding's class (-1 here) is not checked, only the valid objects' ([3]).
  with pytest.raises(ValueError, match=r"classes of valid objects must be in \[0, 3\); "
                     r"got \[3\]"):
    assign_targets(np.full((3, 4), 0.5), np.array([3, -1, 3]), np.array([True, False, False]),
                   grid_size=S, num_classes=C)
  with pytest.raises(ValueError, match="grid_size must be a positive Python int"):
    assign_targets(jnp.full((1, 4), 0.5), jnp.array([0]), grid_size=0, num_classes=C)
  with pytest.raises(ValueError, match="boxes K x 4"):
    assign_targets(jnp.full((1, 3), 0.5), jnp.array([0]), grid_size=S, num_classes=C)
