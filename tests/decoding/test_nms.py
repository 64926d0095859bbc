"""Non-maximum suppression against a plain numpy greedy NMS and the notes' example
(notes 004 "Object detection", "Non-Maximum Suppression")."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib.decoding import nms

N, M = 16, 8  # one input and output size for every test: one compilation
_nms = jax.jit(nms, static_argnames=("max_boxes",))


def _run(boxes, scores, classes, valid=None, iou=0.5, score_threshold=-1.0):
  valid = np.ones(len(scores), bool) if valid is None else valid
  out = _nms(jnp.asarray(boxes, jnp.float32), jnp.asarray(scores, jnp.float32),
             jnp.asarray(classes, jnp.int32), jnp.asarray(valid), iou_threshold=iou,
             score_threshold=score_threshold, max_boxes=M)
  return [np.asarray(o) for o in out]


def _iou(a, b) -> float:
  """Corner-form IoU, written independently of box_iou."""
  ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
  bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
  inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
  return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _reference(boxes, scores, classes, valid, iou, score_threshold, max_boxes):
  """Textbook greedy NMS: visit by decreasing score (equal scores: lower index
  first), keep a box unless a kept box of its class overlaps it by IoU > iou."""
  kept = []
  for i in sorted(range(len(scores)), key=lambda i: (-scores[i], i)):
    if not valid[i] or scores[i] < score_threshold:
      continue
    if all(classes[j] != classes[i] or _iou(boxes[i], boxes[j]) <= iou for j in kept):
      kept.append(i)
  return kept[:max_boxes]


def _random_case(seed: int):
  rng = np.random.default_rng(seed)
  # Centres packed together so that many boxes overlap; scores on a coarse grid so
  # that equal scores happen and the tie rule matters.
  boxes = np.concatenate([rng.uniform(0.3, 0.7, (N, 2)), rng.uniform(0.1, 0.4, (N, 2))], 1)
  scores = rng.integers(1, 6, N) / 5
  classes = rng.integers(0, 3, N)
  valid = rng.random(N) < 0.85
  return boxes, scores, classes, valid


@pytest.mark.parametrize("seed", range(6))
def test_matches_numpy_greedy_nms(seed):
  boxes, scores, classes, valid = _random_case(seed)
  assert len(set(scores.tolist())) < N  # ties present
  for iou, score_threshold in ((0.5, -1.0), (0.2, 0.4)):
    out_boxes, out_scores, out_classes, out_valid = _run(boxes, scores, classes, valid,
                                                         iou, score_threshold)
    kept = _reference(boxes, scores, classes, valid, iou, score_threshold, M)
    k = len(kept)
    assert out_valid.tolist() == [True] * k + [False] * (M - k)
    np.testing.assert_allclose(out_boxes[:k], boxes[kept], rtol=1e-6)
    np.testing.assert_allclose(out_scores[:k], scores[kept], rtol=1e-6)
    assert out_classes[:k].tolist() == classes[kept].tolist()
    # Padding is 0 / -1 so that it can never pass for a box.
    assert not out_boxes[k:].any() and not out_scores[k:].any()
    assert (out_classes[k:] == -1).all()


def test_equal_scores_keep_the_earlier_box():
  boxes = np.zeros((N, 4))
  boxes[:, :] = [0.5, 0.5, 0.2, 0.2]
  boxes[1, 0] = 0.51  # IoU(box 0, box 1) = 0.19 * 0.2 / (0.08 - 0.038) = 0.905
  scores = np.full(N, 0.7)
  valid = np.zeros(N, bool)
  valid[:2] = True
  out_boxes, _, _, out_valid = _run(boxes, scores, np.zeros(N), valid)
  assert out_valid.sum() == 1
  np.testing.assert_allclose(out_boxes[0], boxes[0])
  valid[0] = False  # without box 0, box 1 survives
  out_boxes, _, _, out_valid = _run(boxes, scores, np.zeros(N), valid)
  np.testing.assert_allclose(out_boxes[0], boxes[1], rtol=1e-6)


def _notes_boxes():
  """The notes' three boxes (scores 0.6, 0.9, 0.55), padded to N with invalid boxes.
  Box 2 = (0.5, 0.5, 0.4, 0.4), area 0.16. Box 1 shifted 0.05 left: overlap
  0.35 x 0.4 = 0.14, IoU(1, 2) = 0.14 / (0.32 - 0.14) = 7/9 = 0.778. Box 3 shifted
  0.1 down: overlap 0.4 x 0.3 = 0.12, IoU(2, 3) = 0.12 / 0.2 = 0.6."""
  boxes = np.tile([0.1, 0.1, 0.05, 0.05], (N, 1))
  boxes[:3] = [[0.45, 0.5, 0.4, 0.4], [0.5, 0.5, 0.4, 0.4], [0.5, 0.6, 0.4, 0.4]]
  scores = np.zeros(N)
  scores[:3] = [0.6, 0.9, 0.55]
  valid = np.arange(N) < 3
  assert _iou(boxes[0], boxes[1]) == pytest.approx(7 / 9)
  assert _iou(boxes[1], boxes[2]) == pytest.approx(0.6)
  return boxes, scores, valid


def test_notes_example_keeps_box_2():
  boxes, scores, valid = _notes_boxes()
  # alpha = 0.5: IoU(1, 2) and IoU(2, 3) > alpha, so boxes 1 and 3 are removed.
  out_boxes, out_scores, out_classes, out_valid = _run(boxes, scores, np.zeros(N), valid)
  assert out_valid.tolist() == [True] + [False] * (M - 1)
  np.testing.assert_allclose(out_boxes[0], boxes[1])
  assert out_scores[0] == pytest.approx(0.9) and out_classes[0] == 0
  # alpha = 0.7: only IoU(1, 2) = 0.778 exceeds it; box 3 (IoU 0.6) stays.
  _, out_scores, _, out_valid = _run(boxes, scores, np.zeros(N), valid, iou=0.7)
  np.testing.assert_allclose(out_scores[out_valid], [0.9, 0.55])
  # Another class is not suppressed: box 1 of class 1 survives at alpha = 0.5.
  classes = np.zeros(N)
  classes[0] = 1
  _, out_scores, out_classes, out_valid = _run(boxes, scores, classes, valid)
  np.testing.assert_allclose(out_scores[out_valid], [0.9, 0.6])
  assert out_classes[out_valid].tolist() == [0, 1]


def test_more_survivors_than_max_boxes_keeps_the_best():
  centres = (np.arange(4) + 0.5) / 4  # a 4 x 4 grid of disjoint boxes
  boxes = np.array([[x, y, 0.1, 0.1] for y in centres for x in centres])
  scores = np.random.default_rng(0).permutation(N) / N
  out_boxes, out_scores, _, out_valid = _run(boxes, scores, np.zeros(N))
  assert out_valid.all()
  best = np.argsort(-scores)[:M]
  np.testing.assert_allclose(out_scores, scores[best], rtol=1e-6)
  np.testing.assert_allclose(out_boxes, boxes[best], rtol=1e-6)


def test_vmap_over_a_batch_equals_per_image():
  cases = [_random_case(seed) for seed in (10, 11, 12)]
  boxes, scores, classes, valid = (np.stack(field) for field in zip(*cases))
  batched = jax.jit(jax.vmap(functools.partial(nms, iou_threshold=0.4, max_boxes=M)))
  out = [np.asarray(o) for o in batched(jnp.asarray(boxes, jnp.float32),
                                        jnp.asarray(scores, jnp.float32),
                                        jnp.asarray(classes), jnp.asarray(valid))]
  assert out[0].shape == (3, M, 4) and out[3].shape == (3, M)
  for i, case in enumerate(cases):
    kept = _reference(*case, 0.4, -np.inf, M)
    k = len(kept)
    assert out[3][i].tolist() == [True] * k + [False] * (M - k)
    np.testing.assert_allclose(out[1][i, :k], case[1][kept], rtol=1e-6)
    assert out[2][i, :k].tolist() == case[2][kept].tolist()


def test_bad_inputs_say_what_is_wrong():
  boxes, scores = jnp.zeros((N, 4)), jnp.zeros(N)
  with pytest.raises(ValueError, match="boxes N x 4 .* for one image.*vmap"):
    nms(boxes[None], scores[None], max_boxes=M)
  with pytest.raises(ValueError, match=r"classes must have shape \(16,\)"):
    nms(boxes, scores, jnp.zeros(N - 1), max_boxes=M)
  with pytest.raises(ValueError, match="max_boxes must be a positive Python int"):
    nms(boxes, scores, max_boxes=0)
  with pytest.raises(ValueError, match=r"iou_threshold is an IoU, in \[0, 1\]"):
    nms(boxes, scores, iou_threshold=50, max_boxes=M)
