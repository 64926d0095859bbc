"""The divergences group (optax parity): ``poly_loss_cross_entropy``,
``generalized_kl_divergence`` and ``smooth_labels``.

Hand-computed worked values (and their hand-derived gradients), equality with
optax in float64 (values and gradients, several shapes, an int and a tuple
axis), the special cases that tie them to the rest of the package (epsilon = 0
is softmax CE; normalized measures give kl_divergence; smooth_labels is the
formula behind both ``label_smoothing`` options), the precision of the
generalized KL near its minimum, empty class axes, and bad inputs. The generic
tests (derivatives of every order against ``losses.reference``, edge cases,
masks, dtypes, jit/vmap) run on the cases in ``_cases_divergences.py``.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import _loss_cases as lc
import losses

enable_x64 = lc.enable_x64
x64 = pytest.mark.usefixtures("enable_x64")
R = np.random.default_rng(16)


# --- worked values, by hand ------------------------------------------------------
@x64
def test_poly_loss_worked_value_and_gradient():
  # z = (0, ln 3): p = (1/4, 3/4); one-hot target on class 1, epsilon = 2:
  # L = -ln(3/4) + 2 (1 - 3/4) = 0.2876821 + 0.5
  z, t = jnp.array([0.0, math.log(3.0)]), jnp.array([0.0, 1.0])
  v, (gz, gt) = jax.value_and_grad(losses.poly_loss_cross_entropy, (0, 1))(z, t)
  np.testing.assert_allclose(v, 0.7876820724517809, rtol=1e-14)
  # p - t - eps p (t - p.t): (1/4 + 2 * 3/16, -1/4 - 2 * 3/16)
  np.testing.assert_allclose(gz, [0.625, -0.625], rtol=1e-14)
  # -log p + eps (1 - p): (ln 4 + 3/2, ln(4/3) + 1/2)
  np.testing.assert_allclose(gt, [math.log(4) + 1.5, math.log(4 / 3) + 0.5],
                             rtol=1e-14)
  # epsilon = -1 (the paper's detection setting): -ln(3/4) - 1/4
  np.testing.assert_allclose(losses.poly_loss_cross_entropy(z, t, epsilon=-1.0),
                             0.0376820724517809, rtol=1e-13)


@x64
def test_generalized_kl_worked_value_and_gradient():
  # q = (1, 2, 1/2), t = (2, 0, 1/2): (2 ln 2 - 2 + 1) + (0 + 2) + 0 = 1 + 2 ln 2
  lq = jnp.log(jnp.array([1.0, 2.0, 0.5]))
  t = jnp.array([2.0, 0.0, 0.5])
  v, (glq, gt) = jax.value_and_grad(losses.generalized_kl_divergence,
                                    (0, 1))(lq, t)
  np.testing.assert_allclose(v, 1.0 + 2.0 * math.log(2.0), rtol=1e-14)
  np.testing.assert_allclose(glq, [-1.0, 2.0, 0.0], atol=1e-15)   # q - t
  # log t - log q; 0 at t = 0 exactly (optax's autodiff gives NaN there)
  np.testing.assert_allclose(gt, [math.log(2.0), 0.0, 0.0], atol=1e-15)
  # q = t: zero loss, zero gradient
  v, g = jax.value_and_grad(losses.generalized_kl_divergence)(jnp.log(t + 1), t + 1)
  assert v == 0.0 and np.all(g == 0.0)


def test_smooth_labels_worked_value():
  y = jnp.array([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
  np.testing.assert_allclose(losses.smooth_labels(y, 0.2),
                             [[0.05, 0.85, 0.05, 0.05], [0.85, 0.05, 0.05, 0.05]],
                             rtol=1e-6)
  # a tuple axis is one class axis of 2 * 4 = 8 classes
  np.testing.assert_allclose(losses.smooth_labels(y, 0.4, axis=(0, 1)),
                             0.6 * y + 0.05, rtol=1e-6)
  # bool labels (a comparison) are smoothed into floats
  out = losses.smooth_labels(y > 0, 0.2)
  assert jnp.issubdtype(out.dtype, jnp.floating)
  np.testing.assert_allclose(out[0], [0.05, 0.85, 0.05, 0.05], rtol=1e-6)
  assert losses.smooth_labels(y.astype(jnp.bfloat16), 0.2).dtype == jnp.bfloat16


# --- equality with optax ---------------------------------------------------------
SHAPES_AXES = [((5,), -1), ((3, 7), -1), ((4, 6), 0), ((2, 3, 4), 1),
               ((2, 3, 4), (1, 2)), ((2, 3, 4, 5), (3, 1))]


def _inputs(shape, axis):
  z = R.normal(size=shape) * 2
  t = np.exp(R.normal(size=shape))
  return z, t / np.sum(t, axis=axis, keepdims=True)


def _values_and_grads(ours, theirs, args):
  """Values and gradients (of sum(c * loss), both args) of ours and optax's,
  in one compiled program."""
  @lc.jit
  def run(args, cot):
    res = []
    for fn in (ours, theirs):
      v = fn(*args)
      res.append((v, jax.grad(lambda *a: jnp.sum(cot * fn(*a)), (0, 1))(*args)))
    return res
  out_shape = jax.eval_shape(ours, *args).shape
  return run(args, R.uniform(0.5, 1.5, out_shape))


def _assert_same(res, rtol_v=1e-12, rtol_g=1e-11):
  (v, g), (v_ref, g_ref) = res
  np.testing.assert_allclose(v, v_ref, rtol=rtol_v, atol=1e-13)
  for a, b in zip(g, g_ref):
    np.testing.assert_allclose(a, b, rtol=rtol_g, atol=1e-13)


@x64
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_poly_loss_matches_optax(shape, axis):
  z, t = _inputs(shape, axis)
  for epsilon in (2.0, -1.0, 0.5):
    _assert_same(_values_and_grads(
        lambda z, t: losses.poly_loss_cross_entropy(  # noqa: B023
            z, t, axis=axis, epsilon=epsilon),
        lambda z, t: optax.losses.poly_loss_cross_entropy(  # noqa: B023
            z, t, axis=axis, epsilon=epsilon), (z, t)))


@x64
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_generalized_kl_matches_optax(shape, axis):
  lq = R.normal(size=shape)
  t = R.uniform(0.05, 3.0, size=shape)   # t > 0: optax's t-gradient is NaN at 0
  ours = lambda lq, t: losses.generalized_kl_divergence(lq, t, axis=axis)  # noqa: E731
  theirs = lambda lq, t: optax.losses.generalized_kl_divergence(  # noqa: E731
      lq, t, axis=axis)
  _assert_same(_values_and_grads(ours, theirs, (lq, t)))
  # zero targets: the same value (0 log 0 = 0 in both)
  t0 = np.where(R.uniform(size=shape) < 0.3, 0.0, t)
  np.testing.assert_allclose(*lc.jit(lambda lq, t: (ours(lq, t), theirs(lq, t)))(
      lq, t0), rtol=1e-12, atol=1e-13)


@x64
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_smooth_labels_matches_optax(shape, axis):
  y = (R.uniform(size=shape) < 0.3).astype(float)
  theirs = lc.jit(lambda y, alpha: optax.smooth_labels(y, alpha, axis=axis))
  for alpha in (0.0, 0.1, 0.35, 1.0):
    np.testing.assert_allclose(losses.smooth_labels(y, alpha, axis=axis),
                               theirs(y, alpha), rtol=1e-15, atol=1e-16)
  # differentiable in the labels and, as in optax, in alpha: d/da = 1/K - y
  k = math.prod(shape[a] for a in np.atleast_1d(axis))
  g = lc.jit(jax.grad(lambda a: jnp.sum(losses.smooth_labels(y, a, axis=axis))))(
      0.3)
  np.testing.assert_allclose(g, y.size / k - y.sum(), rtol=1e-12, atol=1e-12)


# --- ties to the rest of the package ---------------------------------------------
@x64
def test_poly_loss_with_epsilon_zero_is_softmax_cross_entropy():
  z, t = _inputs((4, 6), -1)
  z[0, 2] = -np.inf                      # an impossible class ...
  t[0, 2] = 0.0                          # ... with zero target
  poly = lambda z: losses.poly_loss_cross_entropy(z, t, epsilon=0.0)  # noqa: E731
  ce = lambda z: losses.softmax_cross_entropy(z, t)  # noqa: E731
  np.testing.assert_allclose(poly(z), ce(z), rtol=1e-15)
  grad = lambda fn: lc.jit(jax.grad(lambda z: jnp.sum(fn(z))))  # noqa: E731
  np.testing.assert_allclose(grad(poly)(z), grad(ce)(z), rtol=1e-14, atol=1e-16)
  zf = np.where(np.isinf(z), 0.0, z)
  hess = lambda fn: lc.jit(jax.hessian(lambda z: jnp.sum(fn(z))))  # noqa: E731
  np.testing.assert_allclose(hess(poly)(zf), hess(ce)(zf), rtol=1e-12, atol=1e-15)
  # and epsilon adds exactly epsilon * (1 - p.t)
  p = lc._softmax(zf)   # pylint: disable=protected-access
  np.testing.assert_allclose(
      np.asarray(losses.poly_loss_cross_entropy(zf, t, epsilon=3.0))
      - np.asarray(ce(zf)),
      3.0 * np.sum(t * (1.0 - p), -1), rtol=1e-12)   # row 0: sum(t) < 1


@x64
def test_generalized_kl_equals_kl_divergence_for_normalized_measures():
  z, t = _inputs((5, 7), -1)
  lq = jnp.asarray(np.log(lc._softmax(z)))   # pylint: disable=protected-access
  t_pos = t.copy()
  t[1, 3] = 0.0
  t /= t.sum(-1, keepdims=True)
  gkl = losses.generalized_kl_divergence
  np.testing.assert_allclose(gkl(lq, t), losses.kl_divergence(lq, t),
                             rtol=1e-12, atol=1e-15)
  # log q gradient q - t == softmax(log q) sum(t) - t
  g, g_kl = lc.jit(lambda lq: (   # both in one program
      jax.grad(lambda a: jnp.sum(gkl(a, t)))(lq),
      jax.grad(lambda a: jnp.sum(losses.kl_divergence(a, t)))(lq)))(lq)
  np.testing.assert_allclose(g, g_kl, rtol=1e-12, atol=1e-15)
  # target gradients differ by the constant 1 (the -t term), so they agree on
  # tangents that keep t normalized (sum 0 over the classes); t > 0 here, as
  # at t = 0 both take the whole target gradient as 0, constant included
  v = R.normal(size=t.shape)
  v -= v.mean(-1, keepdims=True)
  d, d_kl = lc.jit(lambda t_pos, v: (   # both in one program
      jax.jvp(lambda t: gkl(lq, t), (t_pos,), (v,))[1],
      jax.jvp(lambda t: losses.kl_divergence(lq, t), (t_pos,), (v,))[1]))(t_pos, v)
  np.testing.assert_allclose(d, d_kl, rtol=1e-10, atol=1e-13)
  # q = e^c p unnormalized: KL(t || p) - c + (e^c - 1), the extra
  # sum(q) - sum(t) being what kl_divergence lacks
  c = 0.7
  np.testing.assert_allclose(gkl(lq + c, t),
                             losses.kl_divergence(lq, t) - c + math.expm1(c),
                             rtol=1e-12)
  # homogeneous of degree 1: D(2t || 2q) = 2 D(t || q)
  np.testing.assert_allclose(gkl(lq + math.log(2.0), 2 * t), 2 * gkl(lq, t),
                             rtol=1e-12)


def test_smooth_labels_is_the_formula_of_both_label_smoothing_options():
  z = jnp.asarray(R.normal(size=(6, 5)) * 2, jnp.float32)
  y = jnp.asarray(R.integers(0, 5, 6))
  a = 0.15
  soft = losses.smooth_labels(jax.nn.one_hot(y, 5), a)
  f_int = lambda z: losses.softmax_cross_entropy_with_integer_labels(  # noqa: E731
      z, y, label_smoothing=a)
  f_soft = lambda z: losses.softmax_cross_entropy(z, soft)  # noqa: E731
  np.testing.assert_allclose(f_int(z), f_soft(z), rtol=2e-6)
  np.testing.assert_allclose(jax.grad(lambda z: jnp.sum(f_int(z)))(z),
                             jax.grad(lambda z: jnp.sum(f_soft(z)))(z),
                             rtol=1e-5, atol=1e-7)
  # sigmoid BCE: a probability t is the 2-class target (1 - t, t)
  t = jnp.asarray(R.uniform(size=(6, 5)), jnp.float32)
  two = losses.smooth_labels(jnp.stack([1 - t, t], -1), a)[..., 1]
  np.testing.assert_allclose(
      losses.sigmoid_binary_cross_entropy(z, t, label_smoothing=a),
      losses.sigmoid_binary_cross_entropy(z, two), rtol=1e-6)


# --- numerics --------------------------------------------------------------------
def test_generalized_kl_is_precise_near_its_minimum():
  # t = 1, log q = h: e^h - 1 - h; the plain sum t (log t - log q) - t + q
  # loses it to cancellation (optax: ~1e-4 relative error at h = 1e-6 in
  # float64, ~10% at h = 1e-3 in float32)
  for dtype, h, rtol in ((jnp.float64, 1e-6, 1e-9), (jnp.float32, 1e-3, 1e-3)):
    with jax.enable_x64(dtype == jnp.float64):
      lq, t = jnp.array([h], dtype), jnp.array([1.0], dtype)
      exact = math.expm1(h) - h
      np.testing.assert_allclose(losses.generalized_kl_divergence(lq, t),
                                 exact, rtol=rtol)
      # zero target where q = 0: 0, with finite gradients
      v, g = jax.value_and_grad(lambda a: losses.generalized_kl_divergence(
          a, jnp.zeros(2, dtype)), )(jnp.array([-jnp.inf, 0.0], dtype))
      assert v == 1.0 and np.all(np.isfinite(g))


def test_poly_loss_with_impossible_classes_and_huge_logits_is_finite():
  z = jnp.array([[0.5, -jnp.inf, 1.0], [1e4, -1e4, 0.0]])
  t = jnp.array([[0.3, 0.0, 0.7], [1.0, 0.0, 0.0]])
  v, g = jax.value_and_grad(lambda z: jnp.sum(
      losses.poly_loss_cross_entropy(z, t)))(z)
  assert np.isfinite(v) and np.all(np.isfinite(g))
  # a confident right answer costs 0: CE and 1 - p_y both vanish
  np.testing.assert_allclose(losses.poly_loss_cross_entropy(z, t)[1], 0.0,
                             atol=1e-6)


@pytest.mark.parametrize("fn", [losses.poly_loss_cross_entropy,
                                losses.generalized_kl_divergence])
def test_zero_classes_give_zero_loss_and_gradient(fn):
  for shape in [(0,), (3, 0)]:
    z, t = jnp.zeros(shape), jnp.zeros(shape)
    value, grad = jax.value_and_grad(lambda z: jnp.sum(fn(z, t)))(z)
    np.testing.assert_array_equal(fn(z, t), np.zeros(shape[:-1]))
    assert value == 0.0 and grad.shape == shape


def test_epsilon_and_alpha_are_traced_not_recompiled():
  z, t = jnp.zeros((2, 3)), jnp.full((2, 3), 1 / 3)
  fn = losses.poly_loss_cross_entropy
  fn(z, t, epsilon=1.0)
  size = fn._cache_size()  # pylint: disable=protected-access
  fn(z, t, epsilon=2.0)
  fn(z, t, epsilon=-1.0)
  assert fn._cache_size() == size  # pylint: disable=protected-access
  # alpha under an outer jit: traced, no range check, right value
  out = jax.jit(lambda a: losses.smooth_labels(t * 3, a))(0.3)
  np.testing.assert_allclose(out, 0.7 + 0.1, rtol=1e-6)


def test_where_masks_examples_and_weights_scale_them():
  z = jnp.asarray(R.normal(size=(3, 4)), jnp.float32)
  t = jax.nn.softmax(jnp.asarray(R.normal(size=(3, 4)), jnp.float32))
  for fn in (losses.poly_loss_cross_entropy, losses.generalized_kl_divergence):
    full = fn(z, t)
    bad = z.at[1].set(jnp.nan)
    v, g = jax.value_and_grad(lambda z: jnp.sum(fn(
        z, t, where=jnp.array([True, False, True]),
        weights=jnp.array([2.0, 5.0, 1.0]))))(bad)
    np.testing.assert_allclose(v, 2 * full[0] + full[2], rtol=1e-6)
    assert np.all(g[1] == 0.0) and np.all(np.isfinite(g))


# --- bad inputs ------------------------------------------------------------------
def test_bad_inputs_give_clear_errors():
  z, t = jnp.zeros((4, 3)), jnp.full((4, 3), 1 / 3)
  for fn, names in ((losses.poly_loss_cross_entropy, ("logits", "target_probs")),
                    (losses.generalized_kl_divergence,
                     ("log_predictions", "targets"))):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 3, 1\)"):
      fn(z, t[..., None])
    with pytest.raises(ValueError, match=f"{names[0]} must be floating"):
      fn(z.astype(jnp.int32), t)
    with pytest.raises(ValueError, match="names an axis twice"):
      fn(z, t, axis=(1, -1))
    with pytest.raises(ValueError, match="out of range"):
      fn(z, t, axis=2)
    with pytest.raises(ValueError, match="where shape"):
      fn(z, t, where=jnp.ones((4, 3), bool))
  with pytest.raises(ValueError, match="epsilon must be a scalar"):
    losses.poly_loss_cross_entropy(z, t, epsilon=jnp.ones(3))
  # a negative target has no generalized KL: NaN, never a plausible number
  assert np.isnan(losses.generalized_kl_divergence(
      jnp.zeros(2), jnp.array([0.5, -0.5])))
  for alpha in (-0.1, 1.5, float("nan")):
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
      losses.smooth_labels(t, alpha)
  with pytest.raises(ValueError, match="alpha must be a scalar"):
    losses.smooth_labels(t, jnp.full(3, 0.1))
  with pytest.raises(ValueError, match="labels must be real"):
    losses.smooth_labels(t.astype(jnp.complex64), 0.1)
  with pytest.raises(ValueError, match="rank >= 1"):
    losses.smooth_labels(jnp.array(1.0), 0.1)
