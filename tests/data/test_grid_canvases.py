"""mnist_grid_detect's canvases and YOLO target grids (notes 004 "YOLO"), and the
detection_grid plot's decode -> NMS -> mAP pipeline on perfect predictions."""
from __future__ import annotations

import types

import numpy as np
import pytest

from nn_lib import metrics, models
from nn_lib.data import grid_canvases as gc
from nn_lib.plots import detection_grid
from nn_lib.registry import ConfigError


def _blocks() -> tuple[np.ndarray, np.ndarray]:
  """Fake 28x28 "digits": digit d is a centred 16x12 block of grey level 20 (d + 1),
  so the grey level inside a box tells which digit was drawn there."""
  labels = np.repeat(np.arange(10), 2)
  images = np.zeros((len(labels), 28, 28), np.uint8)
  for i, d in enumerate(labels):
    images[i, 6:22, 8:20] = 20 * (d + 1)
  return images, labels


@pytest.fixture(scope="module")
def drawn():
  images, labels = _blocks()
  x, boxes, classes, valid = gc.grid_detection_canvases(images, labels, n=60, seed=5)
  return x, boxes, classes, valid, gc.target_grids(boxes, classes, valid)


def test_canvases_are_deterministic_and_seeded():
  images, labels = _blocks()
  a = gc.grid_detection_canvases(images, labels, n=10, seed=1)
  b = gc.grid_detection_canvases(images, labels, n=10, seed=1)
  c = gc.grid_detection_canvases(images, labels, n=10, seed=2)
  for u, v in zip(a, b):
    np.testing.assert_array_equal(u, v)
  assert not np.array_equal(a[0], c[0])


def test_one_to_four_objects_of_the_three_classes_each_box_tight_on_its_digit(drawn):
  x, boxes, classes, valid, _ = drawn
  assert x.shape == (60, 64, 64) and x.dtype == np.uint8
  counts = valid.sum(axis=1)
  assert set(counts) == {1, 2, 3, 4}
  assert set(classes[valid]) == {0, 1, 2} and np.all(classes[~valid] == -1)
  for canvas, b_K, c_K, v_K in zip(x, boxes, classes, valid):
    covered = np.zeros(canvas.shape, int)
    for (bx, by, bw, bh), c in zip(b_K[v_K] * 64, c_K[v_K]):
      left, top = round(bx - bw / 2), round(by - bh / 2)
      inside = canvas[top:top + round(bh), left:left + round(bw)]
      # A uniform block resizes to a uniform patch: the box holds exactly the digit
      # of its class, edge to edge.
      assert inside.size and np.all(inside == 20 * (gc.DIGITS[c] + 1))
      covered[top:top + round(bh), left:left + round(bw)] += 1
    assert covered.max() == 1                          # no two boxes overlap
    assert not canvas[covered == 0].any()              # no ink outside the boxes


def test_every_object_has_its_own_cell_holding_its_box(drawn):
  _, boxes, classes, valid, grids = drawn
  assert grids.shape == (60, 4, 4, 8) and grids[..., 0].sum() == valid.sum()
  for grid, b_K, c_K, v_K in zip(grids, boxes, classes, valid):
    for (bx, by, bw, bh), c in zip(b_K[v_K], c_K[v_K]):
      row, col = int(by * 4), int(bx * 4)
      np.testing.assert_allclose(
          grid[row, col], [1, bx * 4 - col, by * 4 - row, bw, bh, *np.eye(3)[c]], atol=1e-6)


def test_ground_truth_decodes_every_cell_back_to_the_box_drawn(drawn):
  _, boxes, classes, valid, grids = drawn
  gt_boxes, gt_classes, gt_valid = gc.ground_truth(grids)
  assert gt_boxes.shape == (60, 16, 4) and gt_valid.sum() == valid.sum()
  for i in range(60):
    drawn_i = sorted(map(tuple, np.c_[boxes[i][valid[i]], classes[i][valid[i]]]))
    decoded = sorted(map(tuple, np.c_[gt_boxes[i][gt_valid[i]], gt_classes[i][gt_valid[i]]]))
    np.testing.assert_allclose(decoded, drawn_i, atol=1e-6)
  # By hand: cell (1, 2) with offsets (0.5, 0.25) is the box centred at
  # ((2 + 0.5) / 4, (1 + 0.25) / 4), slot 1 * 4 + 2 = 6.
  grid = np.zeros((1, 4, 4, 8), np.float32)
  grid[0, 1, 2] = [1, 0.5, 0.25, 0.2, 0.3, 0, 1, 0]
  b, c, v = gc.ground_truth(grid)
  assert np.flatnonzero(v[0]).tolist() == [6] and c[0, 6] == 1
  np.testing.assert_allclose(b[0, 6], [0.625, 0.3125, 0.2, 0.3], atol=1e-6)


def test_perfect_predictions_score_map_1_and_nms_removes_their_duplicates(drawn):
  _, _, _, valid, grids = drawn
  # Each cell's two boxes: the true box (confidence 1) and the same box again
  # (confidence 0.8), which NMS removes (IoU 1 > 0.5); class probabilities one-hot.
  box = np.concatenate([grids[..., 1:3], np.sqrt(grids[..., 3:5])], axis=-1)
  predictions = np.concatenate([box, grids[..., :1], box, 0.8 * grids[..., :1],
                                grids[..., 5:]], axis=-1)
  every, kept = detection_grid.detect(predictions, num_boxes=2, num_classes=3)
  assert every[0].shape == (60, 32, 4) and kept[0].shape == (60, 32, 4)
  def scored(dets):
    return np.sum(dets[3] & (dets[1] > 0))
  assert scored(every) == 2 * valid.sum() and scored(kept) == valid.sum()
  truth = metrics.GroundTruth(*gc.ground_truth(grids))
  kept_boxes = metrics.Detections(*kept)
  assert metrics.map_50(kept_boxes, truth, num_classes=3) == pytest.approx(1.0)
  assert metrics.map_50_95(kept_boxes, truth, num_classes=3) == pytest.approx(1.0)


def test_the_plot_names_what_it_needs_when_the_model_is_no_grid_detector(tmp_path):
  result = types.SimpleNamespace(model=models.get("mlp", num_outputs=10),
                                 splits={"test": {"targets": np.zeros((4,), np.int64)}})
  with pytest.raises(ConfigError, match="'detection_grid' needs a grid detector"):
    detection_grid.detection_grid(result, tmp_path)
