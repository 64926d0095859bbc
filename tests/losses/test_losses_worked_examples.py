"""Item 5: the worked examples of notes 001, 002 and 003 (and the sanity
values of note 002) reproduced with the library."""
import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np

import _loss_cases  # noqa: F401  (puts the repository on sys.path)
import losses

# Notes 001/002: three training examples (columns cat, car, frog), three
# classes (rows cat, car, frog) -> one example per row here.
SCORES = jnp.array([[3.2, 5.1, -1.7],    # a cat image
                    [1.3, 4.9, 2.0],     # a car image
                    [2.2, 2.5, -3.1]])   # a frog image
LABELS = jnp.array([0, 1, 2])


def test_multiclass_svm_example_notes_001_002():
  per_example = losses.multiclass_hinge(SCORES, LABELS)
  np.testing.assert_allclose(per_example, [2.9, 0.0, 12.9], atol=1e-5)
  np.testing.assert_allclose(losses.reduce(per_example), 5.27, atol=5e-3)
  # note 001: with W twice as large the car loss is still 0
  assert losses.multiclass_hinge(2 * SCORES[1], LABELS[1]) == 0.0
  # note 001: dL/ds_j = 1[s_j - s_y + 1 > 0] (j != y), dL/ds_y = -their count
  g = jax.grad(lambda s: losses.multiclass_hinge(s, 2))(SCORES[2])
  np.testing.assert_array_equal(g, [1.0, 1.0, -2.0])


def test_svm_sanity_values_note_002():
  for c in (3, 10):
    # scores ~ 0 -> loss C - 1 ("useful for debugging")
    v = losses.multiclass_hinge(jnp.zeros((4, c)), jnp.arange(4) % c)
    np.testing.assert_allclose(v, c - 1)
  # min 0, and changing the car score a little keeps the car loss at 0
  assert losses.multiclass_hinge(SCORES[1] + jnp.array([0.1, -0.1, 0.1]),
                                 1) == 0.0


def test_softmax_vs_svm_example_note_002():
  np.testing.assert_allclose(
      losses.multiclass_hinge(jnp.array([-2.85, 0.86, 0.28]), 2), 1.58,
      atol=1e-5)


def test_softmax_classifier_example_note_002():
  s = SCORES[0]
  # exp -> 24.5, 164.0, 0.18; normalise -> 0.13, 0.87, 0.00
  np.testing.assert_allclose(jnp.exp(s), [24.5, 164.0, 0.18], atol=0.05)
  ce = losses.softmax_cross_entropy_with_integer_labels(s, 0)
  np.testing.assert_allclose(ce, 2.04, atol=5e-3)          # -ln(0.13)
  np.testing.assert_allclose(ce / math.log(10), 0.89, atol=5e-3)  # log10
  # gradient p - onehot recovers the normalised probabilities
  p = jax.grad(losses.softmax_cross_entropy_with_integer_labels)(s, 0)
  np.testing.assert_allclose(p + jnp.array([1.0, 0, 0]), [0.13, 0.87, 0.00],
                             atol=5e-3)


def test_softmax_sanity_ln_c_note_002():
  for c in (3, 10):
    v = losses.softmax_cross_entropy_with_integer_labels(
        jnp.zeros((2, c)), jnp.array([0, c - 1]))
    np.testing.assert_allclose(v, math.log(c), rtol=1e-6)
  np.testing.assert_allclose(math.log(10), 2.3, atol=3e-3)


def test_log_likelihood_example_note_001():
  p = jnp.zeros(10).at[:3].set(jnp.array([0.1, 0.7, 0.2]))
  np.testing.assert_allclose(losses.nll(p, 1), -math.log(0.7), rtol=1e-6)
  # note 001: dL/dp = -1/p_y at y
  g = jax.grad(losses.nll)(p, 1)
  np.testing.assert_allclose(g, jnp.zeros(10).at[1].set(-1 / 0.7), rtol=1e-6)


def test_cross_entropy_example_note_001():
  p = jnp.zeros(10).at[:3].set(jnp.array([0.1, 0.7, 0.2]))
  expected = -math.log(1 - 0.1) - math.log(0.7) - math.log(1 - 0.2)
  z = jax.nn.one_hot(1, 10)
  # on the probabilities: sum_j BCE(p_j, z_j)
  np.testing.assert_allclose(
      losses.binary_cross_entropy(p, z, eps=0.0).sum(), expected, rtol=1e-6)
  # through a softmax: log-probabilities are valid logits
  np.testing.assert_allclose(
      losses.softmax_binary_cross_entropy(jnp.log(p), 1), expected, rtol=1e-6)
  # note 001's dL/dp: -1/p_y at y and 1/(1 - p_j) elsewhere
  g = jax.grad(lambda p: losses.binary_cross_entropy(p, z).sum())(p)
  np.testing.assert_allclose(g[:3], [1 / 0.9, -1 / 0.7, 1 / 0.8], rtol=1e-5)
  # the softmax example: -log(0.13) - log(1 - 0.87) - log(1 - 0.0) = 0.89 * 2
  v = losses.softmax_binary_cross_entropy(SCORES[0], 0)
  np.testing.assert_allclose(v / math.log(10), 0.89 * 2, atol=0.02)


def test_l1_regression_example_note_001():
  y = jnp.array([0.0, 1.0, 0.0])
  s = jnp.array([0.1, 0.7, 0.2])
  np.testing.assert_allclose(losses.absolute_error(s, y).sum(), 0.6,
                             rtol=1e-6)
  # note 001: the L2 loss gradient is -2 (y - s)
  g = jax.grad(lambda s: losses.squared_error(s, y).sum())(s)
  np.testing.assert_allclose(g, -2 * (y - s), rtol=1e-6)
  # note 000: the vector AE is the norm of the difference
  np.testing.assert_allclose(losses.euclidean_error(s, y),
                             jnp.linalg.norm(s - y), rtol=1e-6)


def test_softmax_example_note_003():
  z = jnp.array([2.0, 3.0, 5.0, 0.0])
  g = jax.grad(losses.softmax_cross_entropy)(z, jnp.zeros(4))
  np.testing.assert_allclose(g, 0.0)       # t = 0 -> gradient p * sum(t) - t
  t = jnp.array([0.0, 0.0, 1.0, 0.0])
  p = jax.grad(losses.softmax_cross_entropy)(z, t) + t   # p - t, note 003
  np.testing.assert_allclose(p, [0.04, 0.11, 0.84, 0.01], atol=5e-3)
  np.testing.assert_allclose(p[2], 0.84, atol=5e-3)


def test_sigmoid_bce_vs_mse_paralysis_note_003():
  z, t = jnp.array([-10.0, 0.0, 3.0]), jnp.array([1.0, 1.0, 0.0])
  s = jax.nn.sigmoid(z)
  g_bce = jax.grad(lambda z: losses.sigmoid_binary_cross_entropy(z, t).sum())(z)
  np.testing.assert_allclose(g_bce, s - t, rtol=1e-6)          # sigma - t
  g_mse = jax.grad(lambda z: losses.sigmoid_squared_error(z, t).sum())(z)
  np.testing.assert_allclose(g_mse, 2 * (s - t) * s * (1 - s), rtol=1e-5)
  # a confidently wrong sigmoid: BCE still pushes (~ -1), MSE stalls (~ 1e-4)
  assert abs(g_bce[0]) > 0.99 and abs(g_mse[0]) < 1e-4


def test_ranking_and_detection_note_000():
  # image #2 (87 likes) should outrank image #1 (53 likes)
  z1, z2 = jnp.array(0.3), jnp.array(0.1)
  np.testing.assert_allclose(
      losses.pairwise_margin_ranking(z2, z1, margin=1.0), 1.0 - (0.1 - 0.3),
      rtol=1e-6)
  # no object: only the presence BCE counts, the box is ignored (even NaN)
  pred = jnp.array([0.5, 1.0, -1.0, 0.2, 0.3])
  absent = jnp.array([0.0, jnp.nan, jnp.nan, 0.0, 0.0])
  np.testing.assert_allclose(
      losses.single_object_detection(pred, absent),
      losses.sigmoid_binary_cross_entropy(pred[0], 0.0), rtol=1e-6)


def test_yolo_loss_by_hand_note_004():
  """A 2 x 2 grid (S = 2), B = 2 boxes, C = 3 classes; image 0 has one object
  in cell (row 0, col 1), image 1 none.

  Truth: x = y = 0.5 (cell units), w = h = 0.25 (sqrt 0.5), class 1. In image
  units (x / S) it spans [0.125, 0.375] in x and in y (cell-relative).
  Box 0: x = 0.6, y = 0.5, sqrt_w = 0.5, sqrt_h = 0.6 (w = 0.25, h = 0.36),
    x in [0.175, 0.425], y in [0.07, 0.43]: overlap 0.2 x 0.25 = 0.05, union
    0.0625 + 0.09 - 0.05 = 0.1025, IoU = 0.05 / 0.1025 = 20/41.
  Box 1: centred, sqrt_w = sqrt_h = 0.25 (w = h = 0.0625), inside the truth:
    IoU = 0.0625^2 / 0.25^2 = 1/16 < 20/41, so box 0 is responsible.
  Terms (lambda_coord = 5, lambda_noobj = 0.5):
    coordinates 5 [(0.6 - 0.5)^2 + 0]                    = 0.05
    sizes       5 [(0.5 - 0.5)^2 + (0.6 - 0.5)^2]        = 0.05
    box 0's confidence 0.9 vs IoU: (0.9 - 20/41)^2 = (16.9/41)^2 = 0.1699048
                       vs one: (0.9 - 1)^2               = 0.01
    box 1 (not responsible), confidence 0.4: 0.5 * 0.4^2  = 0.08
    classes [0.2, 0.7, 0.1] vs [0, 1, 0]: 0.04 + 0.09 + 0.01 = 0.14
    empty cell (1, 0), confidences 0.2, -0.4: 0.5 (0.04 + 0.16) = 0.1
    (its boxes and classes, 9s, are ignored; other cells are all 0)
  Total: 0.42 + 0.1699048 = 0.5899048 (IoU target), 0.43 (target one).
  """
  p = np.zeros((2, 2, 2, 13))
  t = np.zeros((2, 2, 2, 8))
  t[0, 0, 1] = [1.0, 0.5, 0.5, 0.25, 0.25, 0.0, 1.0, 0.0]
  p[0, 0, 1] = [0.6, 0.5, 0.5, 0.6, 0.9,  0.5, 0.5, 0.25, 0.25, 0.4,
                0.2, 0.7, 0.1]
  p[0, 1, 0] = [9.0, 9.0, 9.0, 9.0, 0.2,  9.0, 9.0, 9.0, 9.0, -0.4,
                9.0, 9.0, 9.0]
  p[1, 1, 1, [4, 9]] = [1.0, -2.0]            # image 1: 0.5 (1 + 4) = 2.5
  p, t = jnp.asarray(p), jnp.asarray(t)
  iou_term = (0.9 - 20 / 41) ** 2
  np.testing.assert_allclose(iou_term, 0.1699048, rtol=1e-6)
  np.testing.assert_allclose(losses.yolo_loss(p, t),
                             [0.42 + iou_term, 2.5], rtol=1e-6)
  np.testing.assert_allclose(
      losses.yolo_loss(p, t, confidence_target="one"), [0.43, 2.5],
      rtol=1e-6)
  # the lambdas scale their terms: coordinates + sizes 0.1 -> 0.02 at
  # lambda_coord = 1, no-object 0.18 -> 0.36 at lambda_noobj = 1
  np.testing.assert_allclose(
      losses.yolo_loss(p, t, lambda_coord=1.0, lambda_noobj=1.0)[0],
      0.02 + iou_term + 0.36 + 0.14, rtol=1e-6)
  # dL/dP = 2 W (P - T), the IoU target held constant
  g = jax.grad(lambda p: losses.yolo_loss(p, t)[0])(p)
  expected = np.zeros((2, 2, 2, 13))
  expected[0, 0, 1] = [2 * 5 * 0.1, 0.0, 0.0, 2 * 5 * 0.1,
                       2 * (0.9 - 20 / 41), 0.0, 0.0, 0.0, 0.0, 2 * 0.5 * 0.4,
                       0.4, -0.6, 0.2]
  expected[0, 1, 0, [4, 9]] = [2 * 0.5 * 0.2, 2 * 0.5 * -0.4]
  np.testing.assert_allclose(g, expected, atol=1e-6)


def test_regularization_preferences_note_002():
  w1 = jnp.array([1.0, 0.0, 0.0, 0.0])
  w2 = jnp.full(4, 0.25)
  x = jnp.ones(4)
  assert w1 @ x == w2 @ x == 1.0
  # L2 prefers the spread-out weights, L1 does not distinguish them
  assert losses.l2_penalty(w2) < losses.l2_penalty(w1)
  np.testing.assert_allclose(losses.l1_penalty(w1), losses.l1_penalty(w2))


class WorkedExamplesInsideAndOutsideJit(chex.TestCase):
  """The same worked examples with the loss called directly (concrete arrays: label
  checks run eagerly) and inside a caller's `jax.jit` (traced arrays, traced float
  hyperparameters), value and gradient."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_multiclass_svm_notes_001_002(self):
    hinge = self.variant(functools.partial(losses.multiclass_hinge, margin=1.0))
    np.testing.assert_allclose(hinge(SCORES, LABELS), [2.9, 0.0, 12.9], atol=1e-5)
    grad = self.variant(jax.grad(lambda s: losses.multiclass_hinge(s, 2)))
    np.testing.assert_array_equal(grad(SCORES[2]), [1.0, 1.0, -2.0])

  @chex.variants(with_jit=True, without_jit=True)
  def test_softmax_classifier_note_002(self):
    ce = self.variant(losses.softmax_cross_entropy_with_integer_labels)
    value = ce(SCORES, LABELS)
    chex.assert_shape(value, (3,))
    np.testing.assert_allclose(value[0], 2.04, atol=5e-3)   # -ln(0.13)
    grad = self.variant(jax.grad(lambda s: losses.softmax_cross_entropy_with_integer_labels(
        s, 0)))
    np.testing.assert_allclose(grad(SCORES[0]) + jnp.array([1.0, 0, 0]),
                               [0.13, 0.87, 0.00], atol=5e-3)

  @chex.variants(with_jit=True, without_jit=True)
  def test_sigmoid_bce_vs_mse_note_003(self):
    z, t = jnp.array([-10.0, 0.0, 3.0]), jnp.array([1.0, 1.0, 0.0])
    s = jax.nn.sigmoid(z)
    g_bce = self.variant(jax.grad(lambda z: losses.sigmoid_binary_cross_entropy(z, t).sum()))
    g_mse = self.variant(jax.grad(lambda z: losses.sigmoid_squared_error(z, t).sum()))
    np.testing.assert_allclose(g_bce(z), s - t, rtol=1e-6)
    np.testing.assert_allclose(g_mse(z), 2 * (s - t) * s * (1 - s), rtol=1e-5)
