"""Detection, ranking and reconstruction metrics against hand-computed values."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from nn_lib import metrics

LOG = math.log


# --- boxes (notes 004: IoU = area of overlap / area of union) -----------------------

@pytest.mark.parametrize("a, b, iou", [
    ((0.5, 0.5, 0.2, 0.2), (0.5, 0.5, 0.2, 0.2), 1.0),          # identical
    ((0.5, 0.5, 0.2, 0.2), (0.6, 0.5, 0.2, 0.2), 0.02 / 0.06),  # half shifted: 1/3
    ((0.5, 0.5, 0.4, 0.4), (0.5, 0.5, 0.2, 0.2), 0.04 / 0.16),  # contained: 1/4
    ((0.2, 0.2, 0.2, 0.2), (0.8, 0.8, 0.2, 0.2), 0.0),          # disjoint
    ((0.3, 0.5, 0.2, 0.2), (0.5, 0.5, 0.2, 0.2), 0.0),          # touching edges
    ((0.5, 0.5, 0.0, 0.0), (0.5, 0.5, 0.0, 0.0), 0.0),          # empty boxes: no NaN
    # 0.4 x 0.2 box vs 0.2 x 0.4 box with the same centre: overlap 0.2 x 0.2.
    ((0.5, 0.5, 0.4, 0.2), (0.5, 0.5, 0.2, 0.4), 0.04 / (0.08 + 0.08 - 0.04)),
])
def test_box_iou_by_hand(a, b, iou):
  got = metrics.box_iou(jnp.array([a]), jnp.array([b]))
  assert got.shape == (1,)
  assert float(np.asarray(got)[0]) == pytest.approx(iou, abs=1e-6)
  assert float(metrics.box_iou(jnp.array(b), jnp.array(a))) == pytest.approx(iou, abs=1e-6)


def test_box_iou_rejects_bad_shapes():
  with pytest.raises(ValueError, match=r"box_iou: needs two \.\.\. x 4 arrays"):
    metrics.box_iou(jnp.zeros((3, 4)), jnp.zeros((3, 5)))


def test_decode_boxes_applies_sigmoid_and_exp():
  outputs = jnp.array([[0.0, 0.0, LOG(3.0), LOG(0.2), LOG(0.5)]])
  p, boxes = map(np.asarray, metrics.decode_boxes(outputs))
  assert float(p[0]) == pytest.approx(0.5)
  np.testing.assert_allclose(boxes[0], [0.5, 0.75, 0.2, 0.5], rtol=1e-6)


def _detector_outputs(p_logit, box):
  """The logits/log-sizes a detector would emit for presence logit p and a box."""
  x, y, w, h = box
  logit = lambda v: LOG(v / (1 - v))
  return [p_logit, logit(x), logit(y), LOG(w), LOG(h)]


def test_presence_accuracy_and_mean_box_iou_by_hand():
  outputs = jnp.array([
      _detector_outputs(3.0, (0.5, 0.5, 0.2, 0.2)),    # present, exact box: IoU 1
      _detector_outputs(-1.0, (0.6, 0.5, 0.2, 0.2)),   # present but p < 0.5: IoU 1/3
      _detector_outputs(-2.0, (0.5, 0.5, 0.9, 0.9)),   # absent, correctly: box ignored
      _detector_outputs(2.0, (0.1, 0.1, 0.1, 0.1)),    # absent, wrongly present
  ])
  targets = jnp.array([[1, 0.5, 0.5, 0.2, 0.2], [1, 0.5, 0.5, 0.2, 0.2],
                       [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]], jnp.float32)
  assert float(metrics.get("presence_accuracy")(outputs, targets)) == pytest.approx(0.5)
  assert float(metrics.get("mean_box_iou")(outputs, targets)) == pytest.approx(
      (1 + 1 / 3) / 2, abs=1e-5)
  # Inside jit (as in the train step) the values are the same.
  assert float(jax.jit(metrics.mean_box_iou)(outputs, targets)) == pytest.approx(
      (1 + 1 / 3) / 2, abs=1e-5)
  # No canvas with an object: the mean IoU is 0, not NaN.
  absent = [jnp.asarray(np.asarray(a)[2:]) for a in (outputs, targets)]  # sliced on the host
  assert float(metrics.mean_box_iou(*absent)) == 0.0


def test_detection_metrics_reject_wrong_shapes():
  with pytest.raises(ValueError, match="presence_accuracy: needs outputs B x"):
    metrics.presence_accuracy(jnp.zeros((4, 5)), jnp.zeros((4,)))
  with pytest.raises(ValueError, match="mean_box_iou: needs outputs B x"):
    metrics.mean_box_iou(jnp.zeros((4, 4)), jnp.zeros((4, 5)))


# --- ranking -------------------------------------------------------------------------

def test_kendall_tau_by_hand():
  # 6 pairs; only (3, 4) is swapped: P = 5, Q = 1, tau = (5 - 1) / 6.
  scores, relevance = jnp.array([1.0, 2.0, 3.0, 4.0]), jnp.array([1.0, 2.0, 4.0, 3.0])
  assert float(metrics.kendall_tau(scores, relevance)) == pytest.approx(4 / 6)
  assert float(metrics.kendall_tau(scores, scores)) == pytest.approx(1.0)
  assert float(metrics.kendall_tau(-scores, scores)) == pytest.approx(-1.0)
  # Shapes B x 1 (a scorer's output and the likes targets) are accepted.
  assert float(metrics.kendall_tau(scores[:, None], relevance[:, None])) == pytest.approx(4 / 6)
  # A constant list has no order: 0, not NaN.
  assert float(metrics.kendall_tau(jnp.ones(4), relevance)) == 0.0


def test_kendall_tau_b_with_ties_by_hand():
  # s = (1, 1, 2), t = (1, 2, 3): pairs (0,1) tied in s; (0,2) and (1,2) concordant.
  # tau_b = (2 - 0) / sqrt((3 - 1) (3 - 0)) = 2 / sqrt(6).
  got = metrics.kendall_tau(jnp.array([1.0, 1.0, 2.0]), jnp.array([1.0, 2.0, 3.0]))
  assert float(got) == pytest.approx(2 / math.sqrt(6))


@pytest.mark.parametrize("n, ties", [(7, False), (600, False), (600, True)])
def test_kendall_tau_matches_scipy(n, ties):
  # n = 600 spans several row blocks of the blockwise pair count.
  rng = np.random.default_rng(n)
  s, t = rng.normal(size=n), rng.normal(size=n)
  if ties:
    s, t = np.round(s), np.round(t * 2)
  want = scipy.stats.kendalltau(s, t).statistic
  assert float(metrics.kendall_tau(s, t)) == pytest.approx(want, abs=1e-5)


def test_pairwise_accuracy_by_hand():
  # Pairs with t_i > t_j: 6. The scores order 5 of them and tie the last (t=4 vs t=3).
  scores, relevance = jnp.array([1.0, 2.0, 3.0, 3.0]), jnp.array([1.0, 2.0, 3.0, 4.0])
  assert float(metrics.pairwise_accuracy(scores, relevance)) == pytest.approx(5.5 / 6)
  # Equal relevance is no pair: (t=1, t=1) is left out; 2 pairs, 1 ordered right.
  assert float(metrics.pairwise_accuracy(jnp.array([0.0, 1.0, 2.0]),
                                         jnp.array([1.0, 1.0, 0.5]))) == pytest.approx(0.0)
  assert float(metrics.pairwise_accuracy(jnp.array([3.0, 1.0, 2.0]),
                                         jnp.array([1.0, 1.0, 0.5]))) == pytest.approx(0.5)
  assert float(metrics.pairwise_accuracy(jnp.zeros(5), jnp.arange(5.0))) == 0.5
  assert float(metrics.pairwise_accuracy(jnp.arange(3.0), jnp.ones(3))) == 0.0
  assert float(jax.jit(metrics.pairwise_accuracy)(scores, relevance)) == pytest.approx(5.5 / 6)


def test_ranking_metrics_reject_mismatched_lists():
  with pytest.raises(ValueError, match="kendall_tau: needs one score and one relevance"):
    metrics.kendall_tau(jnp.zeros(4), jnp.zeros(5))
  with pytest.raises(ValueError, match="pairwise_accuracy: needs one score"):
    metrics.pairwise_accuracy(jnp.zeros((4, 2)), jnp.zeros((4, 2)))


# --- reconstruction ------------------------------------------------------------------

def test_reconstruction_mse_by_hand():
  # sigma(0) = 0.5 against pixels 0 and 1: 0.25 each; sigma(log 3) = 0.75 vs 1: 0.0625.
  logits = jnp.array([[[0.0, 0.0], [LOG(3.0), LOG(3.0)]]])
  pixels = jnp.array([[[0.0, 1.0], [1.0, 1.0]]])
  want = (0.25 + 0.25 + 0.0625 + 0.0625) / 4
  assert float(metrics.get("reconstruction_mse")(logits, pixels)) == pytest.approx(want)
  with pytest.raises(ValueError, match="reconstruction_mse: logits"):
    metrics.reconstruction_mse(logits, pixels[..., None])


def test_task_metrics_are_registered():
  for name in ("presence_accuracy", "mean_box_iou", "kendall_tau", "pairwise_accuracy",
               "reconstruction_mse"):
    assert metrics.get(name) is getattr(metrics, name)
