"""cosine_similarity, cosine_distance and ntxent (optax parity, issue 16):
worked values computed by hand, equality with optax (values and gradients,
float64), zero vectors (finite values and gradients), the ``where`` of items,
and clear errors for bad inputs. The generic tests (_cases_similarity.py)
check the rules' first and second derivatives against losses.reference."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import _loss_cases as lc
import losses
from losses import _similarity
from losses import reference

pytestmark = pytest.mark.usefixtures("enable_x64")
enable_x64 = lc.enable_x64

R = np.random.default_rng(16)


def _grads(fn, *args):
  return jax.grad(lambda *a: jnp.sum(fn(*a)), tuple(range(len(args))))(*args)


# --- cosine ------------------------------------------------------------------------
def test_cosine_worked_values_and_gradient():
  a = jnp.array([[1.0, 2.0, 2.0], [1.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
  b = jnp.array([[2.0, 4.0, 4.0], [0.0, 3.0, 0.0], [-2.0, 4.0, -1.0]])
  # parallel, orthogonal, antiparallel
  np.testing.assert_allclose(losses.cosine_similarity(a, b), [1.0, 0.0, -1.0],
                             atol=1e-15)
  np.testing.assert_allclose(losses.cosine_distance(a, b), [0.0, 1.0, 2.0],
                             atol=1e-15)
  # a = (3, 4), b = (1, 0): cos = 3/5; d cos/da = (b_hat - cos a_hat)/||a||
  # = ((1, 0) - 0.6 (0.6, 0.8)) / 5 = (0.128, -0.096);
  # d cos/db = (a_hat - cos b_hat)/||b|| = (0, 0.8)
  a, b = jnp.array([3.0, 4.0]), jnp.array([1.0, 0.0])
  assert losses.cosine_similarity(a, b) == pytest.approx(0.6, abs=1e-15)
  (ga, gb), (ga_d, _) = lc.jit(lambda a, b: (   # both in one program
      _grads(losses.cosine_similarity, a, b),
      _grads(losses.cosine_distance, a, b)))(a, b)
  np.testing.assert_allclose(ga, [0.128, -0.096], atol=1e-15)
  np.testing.assert_allclose(gb, [0.0, 0.8], atol=1e-15)
  np.testing.assert_allclose(ga_d, [-0.128, 0.096], atol=1e-15)


def test_cosine_epsilon_clamps_the_squared_norm_like_optax():
  # ||a||^2 = 0.01 < epsilon = 0.04: n_a = sqrt(0.04) = 0.2, so
  # cos = <a, b> / (0.2 * 5) = 0.3 / 1 = 0.3 (unclamped it would be 0.6), and
  # with the norm constant d cos/da = b / (n_a n_b) = (3, 4) / 1
  a, b = jnp.array([0.1, 0.0]), jnp.array([3.0, 4.0])
  assert losses.cosine_similarity(a, b, epsilon=0.04) == pytest.approx(0.3)
  assert losses.cosine_similarity(a, b) == pytest.approx(0.6)
  assert lc.jit(lambda a, b: optax.losses.cosine_similarity(a, b, epsilon=0.04))(
      a, b) == pytest.approx(0.3)
  ga, gb = lc.jit(lambda a, b: _grads(
      lambda a, b: losses.cosine_similarity(a, b, epsilon=0.04), a, b))(a, b)
  np.testing.assert_allclose(ga, [3.0, 4.0], rtol=1e-14)
  # b is unclamped: (a_hat - cos b_hat) / ||b|| = ((0.5, 0) - 0.3 (0.6, 0.8)) / 5
  np.testing.assert_allclose(gb, [(0.5 - 0.18) / 5, -0.24 / 5], rtol=1e-14)


@pytest.mark.parametrize("epsilon", [0.0, 0.3, 2.0])
@pytest.mark.parametrize("axis", [-1, 0, (0, 2)])
def test_cosine_equals_optax(epsilon, axis):
  a = R.normal(size=(3, 4, 5)) * 0.4
  b = R.normal(size=(3, 4, 5)) * 0.4
  worst = 0.0
  for ours, theirs in ((losses.cosine_similarity, optax.losses.cosine_similarity),
                       (losses.cosine_distance, optax.losses.cosine_distance)):
    f = lambda a, b, fn=ours: fn(a, b, epsilon=epsilon, axis=axis)  # noqa: E731
    g = lambda a, b, fn=theirs: fn(a, b, epsilon=epsilon, axis=axis)  # noqa: E731
    # ours and optax's values and gradients, in one program
    (v, v_ref), (grads, grads_ref) = lc.jit(lambda a, b, f=f, g=g: (
        (f(a, b), g(a, b)), (_grads(f, a, b), _grads(g, a, b))))(a, b)
    assert v.shape == v_ref.shape
    np.testing.assert_allclose(v, v_ref, rtol=1e-13, atol=1e-14)
    for x, y in zip(grads, grads_ref):
      np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)
      worst = max(worst, float(np.abs(x - y).max()))
  assert worst < 1e-13


def test_cosine_zero_vectors_are_finite_and_documented():
  zero, b = jnp.zeros(3), jnp.array([1.0, 2.0, 2.0])
  # epsilon = 0 (optax: NaN): similarity 0, distance 1, zero gradient
  assert np.isnan(lc.jit(optax.losses.cosine_similarity)(zero, b))
  assert losses.cosine_similarity(zero, b) == 0.0
  assert losses.cosine_distance(zero, b) == 1.0
  assert losses.cosine_distance(zero, zero) == 1.0
  for fn in (losses.cosine_similarity, losses.cosine_distance):
    # gradient and Hessian in one program (one compile for the three pairs)
    derivatives = lc.jit(lambda a, c, fn=fn: (
        _grads(fn, a, c), jax.hessian(lambda a, c: fn(a, c), (0, 1))(a, c)))
    for args in ((zero, b), (b, zero), (zero, zero)):
      g, h = derivatives(*args)
      assert all(np.all(x == 0.0) for x in g), (fn, args)
      assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(h))
  # epsilon > 0: the clamp makes it 0 with the finite gradient
  # b / (sqrt(eps) ||b||) = (1, 2, 2) / (0.1 * 3), as optax's
  f = lambda a, c: losses.cosine_similarity(a, c, epsilon=0.01)  # noqa: E731
  (ga, gb), g_ref = lc.jit(lambda zero: (_grads(f, zero, b), jax.grad(
      lambda a: optax.losses.cosine_similarity(a, b, epsilon=0.01))(zero)))(zero)
  np.testing.assert_allclose(ga, np.asarray(b) / 0.3, rtol=1e-14)
  np.testing.assert_array_equal(gb, 0.0)
  np.testing.assert_allclose(ga, g_ref, rtol=1e-14)


def test_cosine_where_masks_examples_over_nan():
  a = jnp.array([[1.0, 0.0], [jnp.nan, 1.0], [3.0, 4.0]])
  b = jnp.array([[1.0, 1.0], [1.0, jnp.nan], [4.0, 3.0]])
  where = jnp.array([True, False, True])
  v = losses.cosine_distance(a, b, where=where, weights=jnp.array([2.0, 5.0, 1.0]))
  np.testing.assert_allclose(v, [2 * (1 - 1 / math.sqrt(2)), 0.0, 1 - 24 / 25],
                             rtol=1e-14)
  ga, gb = lc.jit(lambda a, b: _grads(
      lambda a, b: losses.cosine_distance(a, b, where=where), a, b))(a, b)
  assert np.all(ga[1] == 0) and np.all(gb[1] == 0)
  assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))


def test_cosine_epsilon_derivative_of_the_rule():
  """The rule's epsilon term (the public functions stop it: hyperparameters
  get zero gradient) against autodiff of the reference."""
  a, b = jnp.array([0.1, 0.2]), jnp.array([0.3, -0.1])
  # the rule's and the reference's derivatives, in one program
  both = lc.jit(lambda eps: (
      jax.grad(lambda e: _similarity._cosine(a, b, e))(eps),
      jax.grad(lambda e: reference.cosine_similarity(a, b, e))(eps)))
  for eps in (0.01, 0.07, 0.2):  # none, one, both clamped
    g, g_ref = both(eps)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-15)
  assert jax.grad(lambda e: losses.cosine_similarity(a, b, epsilon=e))(0.07) == 0


# --- ntxent ------------------------------------------------------------------------
# e0 = (1, 0), e1 = (2, 0), e2 = (0, 1), e3 = (-1, 0): cosines S01 = 1,
# S02 = S12 = S23 = 0, S03 = S13 = -1.
E4 = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])  # float64


def test_ntxent_worked_example_by_hand():
  # labels (0, 0, 1, 1), T = 1: each anchor has one positive, A / N = 1.
  # anchor 0: P = {1}, N = {2, 3}: -log(e / (e + 1 + e^-1)) = log(1 + e^-1 + e^-2)
  # anchor 1: the same; anchor 2: P = {3}, N = {0, 1}, all cosines 0: log 3;
  # anchor 3: P = {2} (cos 0), N = {0, 1} (cos -1): log(1 + 2 / e)
  expected = [math.log(1 + math.exp(-1) + math.exp(-2))] * 2 + [
      math.log(3.0), math.log(1 + 2 / math.e)]
  labels = jnp.array([0, 0, 1, 1])
  v = losses.ntxent(E4, labels, temperature=1.0)
  np.testing.assert_allclose(v, expected, rtol=1e-14)
  np.testing.assert_allclose(v, [0.40760596, 0.40760596, 1.09861229, 0.55144471],
                             rtol=1e-7)
  np.testing.assert_allclose(np.mean(np.asarray(v)),
                             lc.jit(optax.losses.ntxent)(E4, labels, 1.0),
                             rtol=1e-14)
  # T = 0.5 doubles every s: anchor 2 is still log 3 (all its cosines are 0)
  v = losses.ntxent(E4, labels, temperature=0.5)
  assert v[2] == pytest.approx(math.log(3.0), rel=1e-14)
  assert v[0] == pytest.approx(math.log(1 + math.exp(-2) + math.exp(-4)), rel=1e-14)


def test_ntxent_unequal_groups_average_over_pairs_like_optax():
  # labels (0, 0, 0, 1): anchor 3 has no positive (0); anchors 0-2 have two
  # positives each: N = 6 pairs, A = 3 anchors, each returns (1/2) sum_j l_ij.
  # anchor 0: P = {1 (cos 1), 2 (cos 0)}, N = {3 (cos -1)}:
  # l_01 = log(1 + e^-2) and l_02 = log(1 + e^-1)
  labels = jnp.array([0, 0, 0, 1])
  v = losses.ntxent(E4, labels, temperature=1.0)
  assert v[3] == 0.0
  assert v[0] == pytest.approx(0.5 * (math.log(1 + math.exp(-2))
                                      + math.log(1 + math.exp(-1))), rel=1e-14)
  np.testing.assert_allclose(
      losses.reduce(v, where=jnp.array([True, True, True, False])),
      lc.jit(optax.losses.ntxent)(E4, labels, 1.0), rtol=1e-14)


@pytest.mark.parametrize("groups, temperature", [
    ([0, 0, 1, 1, 2, 2, 3, 3], 0.07), ([0, 0, 0, 1, 1, 2, 3, 3], 0.5),
    ([5, 5, 5, 5, 1, 1, 1, 9], 0.07)])
def test_ntxent_equals_optax(groups, temperature):
  e = jnp.asarray(R.normal(size=(8, 4)))
  labels = jnp.asarray(R.permutation(groups))
  n_pos = np.sum(np.asarray(labels)[:, None] == np.asarray(labels)[None], 1) - 1
  has = jnp.asarray(n_pos > 0)

  def ours(e):  # the mean over the anchors that have a positive
    return losses.reduce(losses.ntxent(e, labels, temperature=temperature),
                         where=has)

  def theirs(e):
    return optax.losses.ntxent(e, labels, temperature)

  v, g = lc.jit(jax.value_and_grad(ours))(e)
  v_ref, g_ref = lc.jit(jax.value_and_grad(theirs))(e)
  np.testing.assert_allclose(v, v_ref, rtol=1e-13)
  np.testing.assert_allclose(g, g_ref, rtol=1e-11, atol=1e-13)
  # float32: the same epsilon (the dtype's), the same numbers to rounding
  e32 = e.astype(jnp.float32)
  v32, g32 = lc.jit(jax.value_and_grad(ours))(e32)
  v32_ref, g32_ref = lc.jit(jax.value_and_grad(theirs))(e32)
  assert v32.dtype == jnp.float32 and g32.dtype == jnp.float32
  np.testing.assert_allclose(v32, v32_ref, rtol=2e-6)
  np.testing.assert_allclose(g32, g32_ref, rtol=1e-4, atol=1e-5)


def test_ntxent_zero_and_identical_embeddings_are_finite():
  e = R.normal(size=(5, 3))
  e[1], e[3] = 0.0, e[2]                         # a zero vector; a duplicate
  e = jnp.asarray(e)
  labels = jnp.array([0, 0, 1, 1, 2])
  has = jnp.array([True, True, True, True, False])

  @lc.jit
  def run(e):   # everything below in one program
    return (jax.value_and_grad(lambda e: jnp.sum(losses.ntxent(e, labels)))(e),
            (losses.reduce(losses.ntxent(e, labels), where=has),
             optax.losses.ntxent(e, labels)),
            jax.hessian(lambda e: jnp.sum(losses.ntxent(e, labels,
                                                        temperature=0.5)))(e))

  (v, g), (ours, theirs), h = run(e)
  assert np.isfinite(v) and np.all(np.isfinite(g))
  # the zero vector has cosine 0 with everything (clamped norm), like optax
  np.testing.assert_allclose(ours, theirs, rtol=1e-13)
  assert np.all(np.isfinite(h))


def test_ntxent_where_drops_items_like_a_smaller_batch():
  # numpy for the test's own indexing (no tiny eager programs)
  e = R.normal(size=(2, 6, 3))
  labels = np.array([[0, 0, 1, 1, 2, 2], [3, 1, 3, 1, 1, 2]])
  keep = np.array([[True, True, False, True, True, True],
                   [True] * 6])
  poisoned = e.copy()
  poisoned[0, 2] = np.nan
  v = np.asarray(losses.ntxent(jnp.asarray(poisoned), jnp.asarray(labels),
                               where=jnp.asarray(keep), temperature=0.3))
  sub = losses.ntxent(jnp.asarray(e[0, keep[0]]), jnp.asarray(labels[0, keep[0]]),
                      temperature=0.3)
  np.testing.assert_allclose(v[0, keep[0]], sub, rtol=1e-14)
  assert v[0, 2] == 0.0
  np.testing.assert_allclose(v[1], losses.ntxent(jnp.asarray(e[1]),
                                                 jnp.asarray(labels[1]),
                                                 temperature=0.3),
                             rtol=1e-14)
  # a negative label drops the item the same way
  dropped = labels.copy()
  dropped[0, 2] = -1
  np.testing.assert_allclose(
      np.asarray(losses.ntxent(jnp.asarray(e), jnp.asarray(dropped),
                               temperature=0.3))[0], v[0], rtol=1e-14)
  g = lc.jit(jax.grad(lambda x: jnp.sum(losses.ntxent(
      x, jnp.asarray(labels), where=jnp.asarray(keep)))))(jnp.asarray(poisoned))
  assert np.all(g[0, 2] == 0.0) and np.all(np.isfinite(g))


def test_ntxent_temperature_derivative_of_the_rule_and_no_recompile():
  e = jnp.asarray(R.normal(size=(6, 3)))
  labels = jnp.array([0, 0, 0, 1, 1, 2])
  eps = jnp.finfo(e.dtype).eps
  valid = jnp.ones(6, bool)
  g, g_ref = lc.jit(lambda t0: (   # the rule's and the reference's, one program
      jax.grad(lambda t: jnp.sum(
          _similarity._ntxent(e, labels, valid, t, eps)))(t0),
      jax.grad(lambda t: jnp.sum(reference.ntxent(e, labels, t)))(t0)))(0.3)
  np.testing.assert_allclose(g, g_ref, rtol=1e-12)
  losses.ntxent(e, labels, temperature=0.3)
  jitted = _similarity._ntxent_jit  # pylint: disable=protected-access
  size = jitted._cache_size()  # pylint: disable=protected-access
  losses.ntxent(e, labels, temperature=0.9)
  assert jitted._cache_size() == size  # pylint: disable=protected-access


# --- bad inputs -----------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors():
  e, labels = jnp.zeros((4, 3)), jnp.array([0, 0, 1, 1])
  with pytest.raises(ValueError, match="integer"):
    losses.ntxent(e, labels.astype(jnp.float32))
  with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
    losses.ntxent(e, jnp.zeros(5, jnp.int32))
  with pytest.raises(ValueError, match="embeddings"):
    losses.ntxent(jnp.zeros(4), labels)                  # no feature axis
  with pytest.raises(ValueError, match="floating"):
    losses.ntxent(e.astype(jnp.int32), labels)
  for t in (0.0, -0.5):
    with pytest.raises(ValueError, match="temperature must be > 0"):
      losses.ntxent(e, labels, temperature=t)
  with pytest.raises(ValueError, match="where"):
    losses.ntxent(e, labels, where=jnp.ones((4, 2), bool))
  a = jnp.ones((4, 3))
  with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1\)|\(4, 1\).*\(4, 3\)"):
    losses.cosine_distance(a, jnp.ones((4, 1)))          # no broadcasting
  with pytest.raises(ValueError, match="floating"):
    losses.cosine_similarity(a, jnp.ones((4, 3), jnp.int32))
  with pytest.raises(ValueError, match="epsilon must be >= 0"):
    losses.cosine_distance(a, a, epsilon=-1e-3)
