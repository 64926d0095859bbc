"""sparsemax, sparsemax_loss, multiclass_sparsemax_loss and
make_fenchel_young_loss (optax parity): worked values by hand, sparsemax
against a brute-force simplex projection, equality with optax (values, first
and second derivatives, float64), ignored / out-of-range labels, bad inputs.
The generic tests (test_losses_gradients.py etc.) run the loss cases of
_cases_sparsemax.py against losses.reference.
"""
import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

import _loss_cases as lc
import losses

enable_x64 = lc.enable_x64
x64 = pytest.mark.usefixtures("enable_x64")

R = np.random.default_rng(16)
Z = R.normal(size=(7, 6)) * 1.5
Y = R.integers(0, 6, size=7)


def _brute_force_projection(z):
  """argmin ||p - z|| over the simplex by trying every support S: on S the
  projection onto the face {sum p = 1} is z_S - (sum z_S - 1) / |S|; the
  answer is the closest of the candidates that are >= 0."""
  best, best_d = None, np.inf
  for k in range(1, len(z) + 1):
    for s in itertools.combinations(range(len(z)), k):
      p = np.zeros_like(z)
      p[list(s)] = z[list(s)] - (z[list(s)].sum() - 1.0) / k
      if p.min() >= 0 and np.sum((p - z) ** 2) < best_d:
        best, best_d = p, np.sum((p - z) ** 2)
  return best


def _optax_projection(z):
  return jax.vmap(optax.projections.projection_simplex)(z)


def _np_softmax(x, axis=-1):
  e = np.exp(x - x.max(axis, keepdims=True))
  return e / e.sum(axis, keepdims=True)


def _gini_max(theta):
  """Omega*(theta) of the Gini regularizer Omega(p) = (||p||^2 - 1) / 2 on the
  simplex: <p, theta> - Omega(p) at p = sparsemax(theta)."""
  p = losses.sparsemax(theta)
  return jnp.dot(p, theta) + 0.5 * (1.0 - jnp.dot(p, p))


# --- worked values by hand --------------------------------------------------------
@x64
def test_worked_example_by_hand():
  z = jnp.array([1.0, 0.5, -2.0])
  # sorted: 1, 0.5, -2; k = 2 is the last k with 1 + k u_k > cumsum
  # (1 + 2 * 0.5 = 2 > 1.5; 1 - 6 < -0.5), tau = (1.5 - 1) / 2 = 0.25
  np.testing.assert_allclose(losses.sparsemax(z), [0.75, 0.25, 0.0], rtol=1e-15)
  # L = 1/2 (1 - 1/16 + 1/4 - 1/16) + 1/2 - z_y = 0.5625 + 0.5 - z_y
  zs = jnp.asarray(np.stack([np.asarray(z)] * 3))
  np.testing.assert_allclose(
      losses.multiclass_sparsemax_loss(zs, jnp.array([0, 1, 2])),
      [0.0625, 0.5625, 3.0625], rtol=1e-14)
  # gradient p - onehot(y), Hessian diag(s) - s s^T / |S| with S = {0, 1}
  f = lambda z: losses.multiclass_sparsemax_loss(z, jnp.array(1))  # noqa: E731
  # the derivatives, all in one program (one compile)
  derivatives = lc.jit(lambda z: (
      jax.grad(f)(z),
      [hess(z) for hess in (jax.hessian(f), jax.jacrev(jax.jacrev(f)),
                            jax.jacfwd(jax.jacfwd(f)))],
      jax.jacobian(losses.sparsemax)(z)))
  grad, hessians, sparsemax_jac = derivatives(z)
  np.testing.assert_allclose(grad, [0.75, -0.75, 0.0], rtol=1e-15)
  jac = [[0.5, -0.5, 0.0], [-0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
  for hess in hessians:
    np.testing.assert_allclose(hess, jac, atol=1e-15)
  np.testing.assert_allclose(sparsemax_jac, jac, atol=1e-15)
  # equal scores: uniform; a dominant score: a one-hot with zero Jacobian
  np.testing.assert_allclose(losses.sparsemax(jnp.full(4, 3.0)), 0.25)
  np.testing.assert_allclose(losses.sparsemax(jnp.array([3.0, 0.0, 0.0])),
                             [1.0, 0.0, 0.0])
  np.testing.assert_allclose(derivatives(jnp.array([3.0, 0.0, 0.0]))[2], 0.0)


@x64
def test_binary_worked_values():
  z = jnp.array([0.0, 0.5, 2.0, -2.0, 3.0, 0.0, -0.5])
  t = jnp.array([1.0, 1.0, 0.0, 1.0, 1.0, 0.5, 0.25])
  # sparse_plus(-0) = 1/4, sparse_plus(-0.5) = 0.5^2/4, sparse_plus(2) = 2,
  # sparse_plus(2) = 2, sparse_plus(-3) = 0; soft: (sparse_sigmoid(z) - t)^2
  # = (0.5 - 0.5)^2 and (0.25 - 0.25)^2 on (-1, 1)
  np.testing.assert_allclose(losses.sparsemax_loss(z, t),
                             [0.25, 0.0625, 2.0, 2.0, 0.0, 0.0, 0.0], atol=1e-15)
  (gz, gt), h = lc.jit(lambda z, t: (
      jax.grad(lambda z, t: jnp.sum(losses.sparsemax_loss(z, t)), (0, 1))(z, t),
      jax.hessian(lambda z: jnp.sum(losses.sparsemax_loss(z, t)))(z)))(z, t)
  # sparse_sigmoid(z) - t and 2 t - 1 - z
  np.testing.assert_allclose(gz, [-0.5, -0.25, 1.0, -1.0, 0.0, 0.0, 0.0],
                             atol=1e-15)
  np.testing.assert_allclose(gt, 2 * np.asarray(t) - 1 - np.asarray(z),
                             atol=1e-15)
  # second derivative in z: 1/2 inside (-1, 1), 0 outside
  np.testing.assert_allclose(np.diag(h), [0.5, 0.5, 0, 0, 0, 0.5, 0.5])


# --- sparsemax: the simplex projection ---------------------------------------------
@x64
@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0])
def test_sparsemax_is_the_euclidean_projection_onto_the_simplex(scale):
  z = np.random.default_rng(int(scale * 10)).normal(size=(20, 6)) * scale
  p = np.asarray(losses.sparsemax(jnp.asarray(z)))
  brute = np.stack([_brute_force_projection(row) for row in z])
  np.testing.assert_allclose(p, brute, rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-14)
  assert p.min() >= 0.0
  if scale == 10.0:   # spread-out scores: most classes exactly 0
    assert np.mean(p == 0.0) > 0.5


@x64
def test_sparsemax_axes_shapes_and_dtypes():
  # the test's own array arithmetic in numpy (no tiny eager programs)
  z_np = R.normal(size=(3, 4, 5)) * 2
  z = jnp.asarray(z_np)
  for axis in (0, 1, -1, (0, 2), (2, 0)):
    p = losses.sparsemax(z, axis=axis)
    assert p.shape == z.shape
    np.testing.assert_allclose(np.sum(np.asarray(p), axis=axis), 1.0, rtol=1e-13)
  # axis 1 == moving it last
  np.testing.assert_allclose(losses.sparsemax(z, axis=1),
                             np.moveaxis(np.asarray(losses.sparsemax(
                                 jnp.asarray(np.moveaxis(z_np, 1, -1)))), -1, 1))
  # a tuple axis is one distribution over the flattened axes, in that order
  flat = jnp.asarray(np.transpose(z_np, (1, 0, 2)).reshape(4, 15))
  np.testing.assert_allclose(
      np.transpose(np.asarray(losses.sparsemax(z, axis=(0, 2))),
                   (1, 0, 2)).reshape(4, 15),
      losses.sparsemax(flat), rtol=1e-14)
  for dt in (jnp.float16, jnp.bfloat16, jnp.float32):
    p = losses.sparsemax(jnp.asarray(z_np, dt))
    assert p.dtype == dt
    np.testing.assert_allclose(np.asarray(p, np.float64),
                               losses.sparsemax(z), atol=1e-2)


def test_sparsemax_float32_is_shift_invariant_at_1e4():
  z = R.normal(size=(4, 6)).astype(np.float32)
  np.testing.assert_allclose(losses.sparsemax(jnp.asarray(z + np.float32(1e4))),
                             losses.sparsemax(jnp.asarray(z)),
                             atol=2e-3)   # the float32 ulp at 1e4 is 1e-3
  # the loss uses differences only: no (1e4)^2 cancellation
  big = jnp.asarray(np.where(np.arange(6) < 3, 1e4, -1e4).astype(np.float32))
  v, g = lc.jit(jax.value_and_grad(lambda z: losses.multiclass_sparsemax_loss(
      z, jnp.array(4))))(big)
  # support {0, 1, 2}, p = 1/3 each: L = <p, z - z_y> + (1 - 1/3) / 2
  np.testing.assert_allclose(v, 2e4 + 1 / 3, rtol=1e-7)
  np.testing.assert_allclose(g, [1 / 3] * 3 + [0, -1, 0], rtol=1e-6)


# --- optax parity (float64) --------------------------------------------------------
@x64
def test_equal_to_optax_values_and_gradients():
  z = jnp.asarray(Z)
  cot = jnp.asarray(R.uniform(0.5, 1.5, size=Z.shape))
  labels = R.integers(0, 2, size=Z.shape)
  labs = (labels, labels.astype(bool), labels.astype(float))
  mine = lambda z: losses.multiclass_sparsemax_loss(z, Y)  # noqa: E731
  theirs = lambda z: optax.losses.multiclass_sparsemax_loss(z, Y)  # noqa: E731

  @lc.jit
  def both(z):   # ours and optax's, in one program
    vjp = lambda f: jax.vjp(f, z)[1](cot)[0]  # noqa: E731
    binary = [(losses.sparsemax_loss(z, lab),
               optax.losses.sparsemax_loss(z, lab),
               jax.grad(lambda z: jnp.sum(losses.sparsemax_loss(z, lab)))(z),
               jax.grad(lambda z: jnp.sum(optax.losses.sparsemax_loss(z, lab)))(z))
              for lab in labs]
    return ((losses.sparsemax(z), _optax_projection(z)),
            (vjp(losses.sparsemax), vjp(_optax_projection)),
            (mine(z), theirs(z)),
            (jax.grad(lambda z: jnp.sum(mine(z)))(z),
             jax.grad(lambda z: jnp.sum(theirs(z)))(z)),
            binary)

  proj, proj_vjp, value, grad, binary = both(z)
  # sparsemax == optax.projections.projection_simplex, and its VJP
  np.testing.assert_allclose(*proj, rtol=1e-13, atol=1e-15)
  np.testing.assert_allclose(*proj_vjp, rtol=1e-12, atol=1e-14)
  # multiclass loss: values and gradients
  np.testing.assert_allclose(*value, rtol=1e-13, atol=1e-14)
  np.testing.assert_allclose(*grad, rtol=1e-12, atol=1e-14)
  # binary loss with 0/1 labels as ints, bools and floats
  for v, v_ref, g, g_ref in binary:
    np.testing.assert_allclose(v, v_ref, rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-13, atol=1e-15)


@x64
def test_hessian_is_the_sparsemax_jacobian():
  z = jnp.asarray(Z[0])
  h, jac, p = lc.jit(lambda z: (
      jax.hessian(lambda z: losses.multiclass_sparsemax_loss(
          z, jnp.array(2)))(z),
      jax.jacobian(_optax_projection)(z[None])[0, :, 0],
      losses.sparsemax(z)))(z)
  np.testing.assert_allclose(h, jac, atol=1e-14)
  s = np.asarray(p) > 0
  expected = np.diag(s * 1.0) - np.outer(s, s) / s.sum()
  np.testing.assert_allclose(h, expected, atol=1e-14)


# --- Fenchel-Young constructor -----------------------------------------------------
@x64
def test_fenchel_young_with_logsumexp_is_softmax_cross_entropy():
  fy = losses.make_fenchel_young_loss(jax.nn.logsumexp)
  z = jnp.asarray(Z)
  onehot = jnp.asarray(np.eye(6)[Y])
  soft = jnp.asarray(_np_softmax(R.normal(size=Z.shape)))
  # values and gradients for both targets, in one program
  both = lc.jit(lambda z, t: (fy(z, t), losses.softmax_cross_entropy(z, t),
                              jax.grad(lambda z: jnp.sum(fy(z, t)))(z),
                              jax.nn.softmax(z) - t))
  for t in (onehot, soft):
    v, v_ce, g, g_want = both(z, t)
    np.testing.assert_allclose(v, v_ce, rtol=1e-13)
    # gradient = softmax(z) - t ("prediction minus target")
    np.testing.assert_allclose(g, g_want, atol=1e-14)
  np.testing.assert_allclose(
      fy(z, onehot), losses.softmax_cross_entropy_with_integer_labels(z, Y),
      rtol=1e-13)


@x64
@pytest.mark.parametrize("max_fn", [jax.nn.logsumexp, _gini_max],
                         ids=["logsumexp", "gini"])
def test_fenchel_young_equals_optax_to_second_order(max_fn):
  mine = losses.make_fenchel_young_loss(max_fn)
  theirs = optax.losses.make_fenchel_young_loss(max_fn)
  z = jnp.asarray(Z)
  t = jnp.asarray(_np_softmax(R.normal(size=Z.shape)))
  cot = jnp.asarray(R.uniform(0.5, 1.5, size=Z.shape[:1]))

  def sq(f):   # sum(c L^2): its Hessian holds first and second derivatives
    return lambda z, t: jnp.sum(cot[:z.shape[0]] * f(z, t) ** 2)

  @lc.jit
  def first_order(z, t):   # ours and optax's, in one program
    # forward mode == transposed reverse mode
    dz, dt = jnp.cos(z), jnp.sin(t)
    _, jv = jax.jvp(mine, (z, t), (dz, dt))
    gz, gt = jax.vjp(mine, z, t)[1](cot)
    return ((mine(z, t), theirs(z, t)),
            (jax.grad(sq(mine), (0, 1))(z, t), jax.grad(sq(theirs), (0, 1))(z, t)),
            (jnp.vdot(cot, jv), jnp.vdot(gz, dz) + jnp.vdot(gt, dt)))

  values, (g_mine, g_theirs), (jv_dot, vjp_dot) = first_order(z, t)
  np.testing.assert_allclose(*values, rtol=1e-13, atol=1e-15)
  for a, b in zip(g_mine, g_theirs):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
  z1, t1 = z[:2], t[:2]
  ref = jax.tree.leaves(jax.jit(jax.hessian(sq(theirs), (0, 1)))(z1, t1))
  for mode in (jax.jacfwd(jax.jacrev(sq(mine), (0, 1)), (0, 1)),
               jax.jacrev(jax.jacrev(sq(mine), (0, 1)), (0, 1)),
               jax.jacfwd(jax.jacfwd(sq(mine), (0, 1)), (0, 1))):
    for a, b in zip(jax.tree.leaves(jax.jit(mode)(z1, t1)), ref):
      np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
  # forward mode == transposed reverse mode
  np.testing.assert_allclose(jv_dot, vjp_dot, rtol=1e-12)


@x64
def test_fenchel_young_check_grads_and_gini_is_multiclass_sparsemax():
  fy = losses.make_fenchel_young_loss(jax.nn.logsumexp)
  z, t = jnp.asarray(Z[:3]), jnp.asarray(_np_softmax(Z[3:6]))
  check_grads(jax.jit(lambda z, t: jnp.sum(fy(z, t) ** 2)), (z, t), order=2,
              modes=("fwd", "rev"), atol=1e-5, rtol=1e-5, eps=1e-5)
  # with the Gini max and one-hot targets: the multiclass sparsemax loss
  gini = losses.make_fenchel_young_loss(_gini_max)
  onehot = jnp.asarray(np.eye(6)[Y])
  np.testing.assert_allclose(gini(jnp.asarray(Z), onehot),
                             losses.multiclass_sparsemax_loss(Z, Y), rtol=1e-13)


@x64
def test_fenchel_young_axes_masks_and_weights():
  fy = losses.make_fenchel_young_loss(jax.nn.logsumexp)
  z = jnp.asarray(R.normal(size=(2, 3, 4)))
  t = jnp.asarray(_np_softmax(R.normal(size=(2, 3, 4)), axis=1))
  np.testing.assert_allclose(fy(z, t, axis=1),
                             losses.softmax_cross_entropy(z, t, axis=1),
                             rtol=1e-13)
  assert fy(z, t, axis=(0, 2)).shape == (3,)
  where = np.array([[True, False, True], [False, True, True]])
  poisoned = jnp.asarray(np.where(where[..., None], np.asarray(z), np.nan))
  v, g = lc.jit(jax.value_and_grad(lambda z: jnp.sum(fy(
      z, t, where=where, weights=2.0))))(poisoned)
  np.testing.assert_allclose(
      v, 2 * np.sum(np.where(where, np.asarray(fy(z, t)), 0.0)), rtol=1e-13)
  assert np.all(g[~where] == 0.0) and np.all(np.isfinite(g))
  half = fy(z.astype(jnp.bfloat16), t.astype(jnp.bfloat16))
  assert half.dtype == jnp.bfloat16


def test_fenchel_young_bad_inputs():
  with pytest.raises(ValueError, match="callable"):
    losses.make_fenchel_young_loss(3.0)
  bad = losses.make_fenchel_young_loss(lambda x: x * 2)   # not a scalar
  with pytest.raises(ValueError, match="scalar"):
    bad(jnp.zeros((2, 3)), jnp.zeros((2, 3)))
  fy = losses.make_fenchel_young_loss(jax.nn.logsumexp)
  with pytest.raises(ValueError, match=re.escape("(2, 3)") + ".*"
                     + re.escape("(2, 1)")):
    fy(jnp.zeros((2, 3)), jnp.zeros((2, 1)))
  with pytest.raises(ValueError, match="floating"):
    fy(jnp.zeros((2, 3), jnp.int32), jnp.zeros((2, 3)))


# --- labels --------------------------------------------------------------------------
def test_multiclass_ignored_and_out_of_range_labels():
  z = jnp.asarray(Z[:3], jnp.float32)
  f = losses.multiclass_sparsemax_loss
  v = f(z, jnp.array([-1, 2, 1]))
  assert v[0] == 0.0 and v[1] > 0.0
  # optax reads -1 as the last class and clamps 6 to it: plausible numbers
  theirs = lc.jit(optax.losses.multiclass_sparsemax_loss)(
      z, jnp.array([-1, 6, 5]))
  np.testing.assert_allclose(theirs, f(z, jnp.array([5, 5, 5])), rtol=1e-6)
  g = lc.jit(jax.grad(lambda z: jnp.sum(f(z, jnp.array([-1, 2, 1])))))(z)
  assert np.all(g[0] == 0.0) and np.any(g[1] != 0.0)
  with pytest.raises(ValueError, match="only 6 classes"):
    f(z, jnp.array([0, 6, 1]))
  v, g = jax.jit(jax.value_and_grad(lambda z, y: jnp.sum(f(z, y))))(
      z, jnp.array([0, 6, 1]))
  assert np.isnan(v) and np.all(np.isnan(g[1]))
  assert np.all(np.isfinite(g[0])) and np.all(np.isfinite(g[2]))
  with pytest.raises(ValueError, match="integer"):
    f(z, jnp.array([0.0, 1.0, 2.0]))
  with pytest.raises(ValueError, match=re.escape("(3, 6)")):
    f(z, jnp.array([[0], [1], [2]]))
  with pytest.raises(ValueError, match="floating"):
    f(z.astype(jnp.int32), jnp.array([0, 1, 2]))


def test_binary_labels_outside_0_1_are_rejected():
  z = jnp.array([0.3, -0.2, 1.5])
  with pytest.raises(ValueError, match=re.escape("[0, 1]")):
    losses.sparsemax_loss(z, jnp.array([1.0, -1.0, 1.0]))   # a +-1 convention
  # ... which optax silently reads as "positive" (any nonzero label is 1)
  np.testing.assert_allclose(
      optax.losses.sparsemax_loss(z, jnp.array([1.0, -1.0, 1.0])),
      losses.sparsemax_loss(z, jnp.ones(3)), rtol=1e-6)
  with pytest.raises(ValueError, match=re.escape("[0, 1]")):
    losses.sparsemax_loss(z, jnp.array([0, 2, 1]))
  # under jit the value cannot be inspected: NaN, never a plausible number
  v = jax.jit(losses.sparsemax_loss)(z, jnp.array([1.0, -1.0, 1.0]))
  assert np.isnan(v[1]) and np.isfinite(v[0]) and np.isfinite(v[2])
  # a masked entry may hold anything
  v = losses.sparsemax_loss(z, jnp.array([1.0, -1.0, 1.0]),
                            where=jnp.array([True, False, True]))
  assert v[1] == 0.0
  with pytest.raises(ValueError, match="floating"):
    losses.sparsemax_loss(jnp.array([1, 2]), jnp.array([0, 1]))
  with pytest.raises(ValueError, match=re.escape("(3,)") + ".*"
                     + re.escape("(3, 1)")):
    losses.sparsemax_loss(z, jnp.zeros((3, 1)))


def test_sparsemax_bad_inputs():
  with pytest.raises(ValueError, match="floating"):
    losses.sparsemax(jnp.array([1, 2, 3]))
  with pytest.raises(ValueError, match="rank"):
    losses.sparsemax(jnp.array(1.0))
  with pytest.raises(ValueError, match="axis"):
    losses.sparsemax(jnp.zeros((2, 3)), axis=2)
  with pytest.raises(ValueError, match="twice"):
    losses.sparsemax(jnp.zeros((2, 3)), axis=(1, -1))
