"""Item 4 for every case: finite values and gradients (and Hessians: once per
loss, and for every focal case) at logits of +-1e4, targets of exactly 0 and
1, all entries masked (even over NaN inputs: exactly 0, with zero gradient and
Hessian),
float16 and bfloat16 inputs (once per loss: the half-precision path is the
same for every hyperparameter setting); plus +-inf logits and identical
embeddings where those are meaningful."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import _loss_cases as lc
import losses
from _loss_cases import CASES, CASE_IDS


def _float_args(case, args):
  return [i for i, a in enumerate(args)
          if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating)]


def _vg(case, args, hessian=False, **extra):
  """value and grads w.r.t. the differentiable args (sum of the loss), and the
  leaves of its Hessian if asked."""
  def f(*xs):
    full = list(args)
    for i, x in zip(case.diff, xs):
      full[i] = x
    v = case.fn(*full, **case.kw, **extra)
    return jnp.sum(v.astype(jnp.float32)), v
  xs = [args[i] for i in case.diff]
  argnums = tuple(range(len(xs)))
  (_, v), g = jax.value_and_grad(f, argnums, has_aux=True)(*xs)
  if hessian:
    g = list(g) + jax.tree.leaves(jax.hessian(lambda *a: f(*a)[0], argnums)(*xs))
  return v, g


# XLA:GPU (jaxlib 0.11.2) compiles this case's program, Hessian included, in 90-150
# s, against 1.4 s on a CPU (docs/benchmarks_gpu.md); marked long, it starts first.
LONG_ON_GPU = ("generalized_dice[multiclass]",)


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=[pytest.mark.long] if c.name in LONG_ON_GPU else [])
    for c in CASES], ids=CASE_IDS)
def test_edge_cases_are_finite(case):
  args = [jnp.asarray(a, jnp.float32) if np.issubdtype(a.dtype, np.floating)
          else jnp.asarray(a) for a in lc.args_for(case, lead=(4,))]
  floats = _float_args(case, args)
  out_shape = jax.eval_shape(lambda *a: lc.call(case, a), *args).shape

  mask_shape = (out_shape if case.where_items is None
                else args[case.where_items].shape)

  # Hessians once per loss, and for the focal losses' every gamma (near 0 their
  # (1 - p_t)^gamma is the delicate term); other variants share the rule
  hessian = case in lc.PRIMARY or "focal" in case.name

  @lc.jit
  def program(args):
    # float32 variants stacked and vmapped: one trace for all of them
    # 0: all entries masked over NaN inputs -> exactly 0, zero gradient
    # 1: logits of +-1e4 (if the first argument is logits)
    # 2: targets of exactly 0 and 1 (if the loss has such targets)
    poisoned = [jnp.full_like(a, jnp.nan) if i in floats else a
                for i, a in enumerate(args)]
    variants = [poisoned, list(args), list(args)]
    if case.logits:
      variants[1][0] = jnp.where(args[0] > 0, 1e4, -1e4).astype(args[0].dtype)
    if case.unit_target is not None:
      k = case.unit_target
      variants[2][k] = jnp.round(args[k])
    stacked = [jnp.stack(v) for v in zip(*variants)]
    where = jnp.stack([jnp.zeros(mask_shape, bool)]
                      + [jnp.ones(mask_shape, bool)] * 2)
    v, g = jax.vmap(lambda a, w: _vg(case, a, hessian=hessian, where=w))(stacked,
                                                                       where)
    res = {"masked": (v[0], [x[0] for x in g]),
           "1e4": (v[1], [x[1] for x in g]),
           "unit targets": (v[2], [x[2] for x in g])}
    for dt in (jnp.float16, jnp.bfloat16) if case in lc.PRIMARY else ():
      half = [a.astype(dt) if i in floats else a for i, a in enumerate(args)]
      res[jnp.dtype(dt).name] = _vg(case, half)
    return res

  res = program(args)
  v, g = res.pop("masked")
  np.testing.assert_array_equal(v, 0.0)
  for gi in g:
    np.testing.assert_array_equal(gi, 0.0)
  for what, (v, g) in res.items():
    assert np.all(np.isfinite(v)), f"{case.name}: {what}: value {v}"
    for gi in g:
      assert np.all(np.isfinite(gi)), f"{case.name}: {what}: derivative {gi}"
    if what in ("float16", "bfloat16"):
      assert v.dtype == jnp.dtype(what)
      assert all(gi.dtype == jnp.dtype(what) for gi in g)


def _finite_vg(fn, *args, **kw):
  v, g = jax.value_and_grad(lambda *a: jnp.sum(fn(*a, **kw)),
                            tuple(range(len(args))))(*args)
  return np.asarray(v), [np.asarray(x) for x in g]


def test_infinite_logits_where_meaningful():
  inf = jnp.inf
  # sigmoid BCE: a logit of +-inf that agrees with its label costs 0
  v, (gz,) = _finite_vg(lambda z: losses.sigmoid_binary_cross_entropy(
      z, jnp.array([1.0, 0.0])), jnp.array([inf, -inf]))
  assert v == 0.0 and np.all(gz == 0.0)
  # ... and one that disagrees costs +inf (not NaN)
  assert np.all(np.isposinf(losses.sigmoid_binary_cross_entropy(
      jnp.array([-inf, inf]), jnp.array([1.0, 0.0]))))
  # softmax CE: impossible classes (logit -inf) with zero target
  z = jnp.array([[0.5, -inf, 1.0], [-inf, 2.0, -inf]])
  t = jnp.array([[0.3, 0.0, 0.7], [0.0, 1.0, 0.0]])
  for fn, tgt in ((losses.softmax_cross_entropy, t),
                  (losses.kl_divergence, t),
                  (losses.softmax_cross_entropy_with_integer_labels,
                   jnp.array([2, 1]))):
    v, (gz,) = _finite_vg(lambda z: fn(z, tgt), z)
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(gz)), fn.__name__
  # GAN: a perfect discriminator has loss 0, gradient 0
  v, g = _finite_vg(losses.gan_discriminator, jnp.array([inf]),
                    jnp.array([-inf]))
  assert v == 0.0 and all(np.all(x == 0) for x in g)
  v, (g,) = _finite_vg(losses.gan_generator_nonsaturating, jnp.array([inf]))
  assert v == 0.0 and np.all(g == 0)


def test_identical_embeddings_have_finite_gradients():
  e = jnp.ones((3, 4))
  for fn, args in (
      (losses.triplet_margin, (e, e, e)),
      (losses.contrastive, (e, e, jnp.array([0.0, 1.0, 0.0]))),
      (losses.euclidean_error, (e, e)),
      (losses.batch_hard_triplet, (e, jnp.array([0, 0, 1]))),
  ):
    n = len(args) if fn is not losses.batch_hard_triplet else 1
    v, g = jax.value_and_grad(lambda *a: jnp.sum(fn(*a, *args[n:])),
                              tuple(range(n)))(*args[:n])
    assert np.isfinite(v) and all(np.all(np.isfinite(x)) for x in g), fn
  # triplet with identical everything: loss = margin, gradient exactly 0
  np.testing.assert_allclose(losses.triplet_margin(e, e, e, margin=0.3), 0.3,
                             rtol=1e-6)


def test_glove_zero_cooccurrence_contributes_nothing():
  w = jnp.ones((2, 3))
  v, g = jax.value_and_grad(lambda w: jnp.sum(losses.glove(
      w, w, jnp.zeros(2), jnp.zeros(2), jnp.array([0.0, 5.0]))))(w)
  assert np.isfinite(v) and np.all(np.isfinite(g))
  assert np.all(g[0] == 0.0)


def test_ctc_infeasible_alignment_is_large_but_finite():
  logits = jnp.zeros((1, 2, 4))
  labels = jnp.array([[1, 2, 3]])   # needs >= 3 frames
  v, g = jax.value_and_grad(lambda z: jnp.sum(losses.ctc(z, labels)))(logits)
  assert v > 1e20 and np.isfinite(v) and np.all(np.isfinite(g))
