"""Package-level tests: what ``import losses`` pulls in, the public API, the
conventions of ``losses.reduce``, no recompiles for float hyperparameters, and
the regularizers (items 1-7 in their pytree form) including ``max_norm`` as an
optax-compatible projection."""
import inspect
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import _loss_cases as lc
import losses
from losses import reference

CATALOGUE = """squared_error absolute_error euclidean_error huber smooth_l1 log_cosh
sigmoid_binary_cross_entropy binary_cross_entropy sigmoid_squared_error
softmax_cross_entropy softmax_cross_entropy_with_integer_labels nll
softmax_binary_cross_entropy kl_divergence binary_hinge multiclass_hinge
crammer_singer_hinge single_object_detection pairwise_margin_ranking
pairwise_logistic listwise_pairs triplet_margin batch_hard_triplet contrastive
dice jaccard tversky sigmoid_focal softmax_focal dice_cross_entropy ctc
negative_sampling glove gan_discriminator gan_generator_nonsaturating
gan_generator_minimax poly_loss_cross_entropy generalized_kl_divergence
cosine_distance ntxent sparsemax_loss multiclass_sparsemax_loss generalized_dice
yolo_loss l2_penalty l1_penalty elastic_net max_norm reduce""".split()
# public helpers that are not losses: a transform, a similarity, a projection,
# a constructor and the CTC variant that also returns the forward variables
HELPERS = """smooth_labels cosine_similarity sparsemax make_fenchel_young_loss
ctc_with_forward_probs""".split()


def test_import_pulls_in_no_framework():
  code = ("import sys; import losses; "
          "bad = [m for m in ('flax', 'optax', 'tensorflow', "
          "'tensorflow_datasets', 'torch', 'haiku') if m in sys.modules]; "
          "print(','.join(bad))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, cwd=lc._ROOT, check=True, timeout=120)
  assert out.stdout.strip() == "", out.stdout


def test_catalogue_is_public_documented_and_has_a_reference():
  for name in CATALOGUE:
    fn = getattr(losses, name)
    assert name in losses.__all__
    assert fn.__doc__ and len(fn.__doc__) > 80, name
    if name not in ("max_norm", "reduce"):
      assert hasattr(reference, name), name
  for name in HELPERS:
    assert name in losses.__all__ and len(getattr(losses, name).__doc__) > 80
  # the common keyword-only signature
  for name in losses.LOSSES:
    params = inspect.signature(getattr(losses, name)).parameters
    assert params["where"].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert "weights" in params, name


def test_loss_table_names_every_loss_and_nothing_else():
  penalties_and_reducers = {"l2_penalty", "l1_penalty", "elastic_net", "max_norm", "reduce"}
  assert set(losses.LOSSES) == set(CATALOGUE) - penalties_and_reducers
  for name, fn in losses.LOSSES.items():
    assert fn is getattr(losses, name), name
  with pytest.raises(TypeError):
    losses.LOSSES["mine"] = losses.huber  # read-only: extend it in your own code


def test_float_hyperparameters_do_not_recompile():
  x, y = jnp.ones(4), jnp.zeros(4)
  for fn, kw in ((losses.huber, "delta"), (losses.binary_hinge, "margin"),
                 (losses.sigmoid_focal, "gamma")):
    fn(x, y, **{kw: 0.5})
    size = fn._cache_size()  # pylint: disable=protected-access
    fn(x, y, **{kw: 0.7})
    fn(x, y, **{kw: 1.3})
    assert fn._cache_size() == size, fn.__name__  # pylint: disable=protected-access


# --- reduce ----------------------------------------------------------------------
def test_reduce_modes_and_masks():
  v = jnp.array([1.0, 2.0, 3.0, 4.0])
  w = jnp.array([1.0, 0.0, 2.0, 1.0])
  m = jnp.array([True, True, False, True])
  assert losses.reduce(v) == 2.5
  assert losses.reduce(v, how="sum") == 10.0
  np.testing.assert_allclose(losses.reduce(v, where=m), 7.0 / 3)
  np.testing.assert_allclose(losses.reduce(v, weights=w), (1 + 6 + 4) / 4)
  np.testing.assert_allclose(losses.reduce(v, weights=w, how="weighted_mean"),
                             11.0 / 4)
  np.testing.assert_allclose(
      losses.reduce(v, weights=w, where=m, how="weighted_mean"), 5.0 / 2)
  # 2-D values with a per-row mask broadcasting over columns
  np.testing.assert_allclose(
      losses.reduce(jnp.ones((2, 3)), where=jnp.array([[True], [False]])), 1.0)
  with pytest.raises(ValueError, match="how"):
    losses.reduce(v, how="median")
  with pytest.raises(ValueError, match="where"):
    losses.reduce(v, where=jnp.ones((2, 4), bool))


def test_reduce_all_masked_and_nans():
  v = jnp.array([jnp.nan, 1.0, jnp.inf])
  none = jnp.zeros(3, bool)
  val, g = jax.value_and_grad(lambda v: losses.reduce(v, where=none))(v)
  assert val == 0.0 and np.all(g == 0.0)
  val, g = jax.value_and_grad(lambda v: losses.reduce(
      v, weights=jnp.zeros(3), where=jnp.array([False, True, False]),
      how="weighted_mean"))(v)
  assert val == 0.0 and np.all(g == 0.0)
  # masked NaN/inf are dropped; an unmasked NaN is genuine and kept
  keep = jnp.array([False, True, False])
  val, g = jax.value_and_grad(lambda v: losses.reduce(v, where=keep))(v)
  assert val == 1.0 and np.all(g == jnp.array([0.0, 1.0, 0.0]))
  assert np.isnan(losses.reduce(v))


def test_where_and_weights_in_a_loss_then_reduce():
  z = jnp.array([[0.0, 1.0], [2.0, jnp.nan]])
  y = jnp.array([0, -1])
  per = losses.softmax_cross_entropy_with_integer_labels(
      z, y, where=jnp.array([True, False]), weights=jnp.array([2.0, 1.0]))
  assert per[1] == 0.0
  mean, g = jax.value_and_grad(lambda z: losses.reduce(
      losses.softmax_cross_entropy_with_integer_labels(z, y),
      where=y >= 0))(jnp.nan_to_num(z))
  np.testing.assert_allclose(per[0], 2 * mean)
  assert np.all(g[1] == 0.0)


# --- regularizers -------------------------------------------------------------------
PARAMS = {"dense": {"kernel": np.random.default_rng(1).normal(size=(4, 3)),
                    "bias": np.random.default_rng(2).normal(size=(3,))},
          "conv": np.random.default_rng(3).normal(size=(2, 2, 3, 5))}
NO_BIAS = {"dense": {"kernel": True, "bias": False}, "conv": True}


@pytest.mark.parametrize("name,kw", [("l2_penalty", {}), ("l1_penalty", {}),
                                     ("elastic_net", {"beta": 0.3})])
def test_regularizers_gradients_and_masks(name, kw):
  fn, ref = getattr(losses, name), getattr(reference, name)
  with lc.x64():
    p = jax.tree_util.tree_map(jnp.asarray, PARAMS)
    v, g = jax.value_and_grad(lambda p: fn(p, **kw))(p)
    v_ref, g_ref = jax.value_and_grad(lambda p: ref(p, **kw))(p)
    np.testing.assert_allclose(v, v_ref, rtol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(g),
                    jax.tree_util.tree_leaves(g_ref)):
      np.testing.assert_allclose(a, b, rtol=1e-6)            # item 1
    flat, unravel = jax.flatten_util.ravel_pytree(p)
    f = lambda x: fn(unravel(x), **kw)  # noqa: E731
    eps = 1e-6
    basis = jnp.eye(flat.size) * eps
    num = (jax.vmap(f)(flat + basis) - jax.vmap(f)(flat - basis)) / (2 * eps)
    ana = jax.flatten_util.ravel_pytree(g)[0]
    rel = jnp.linalg.norm(num - ana) / (jnp.linalg.norm(num)
                                        + jnp.linalg.norm(ana))
    assert rel < 1e-7                                         # item 2
  # item 3: jit == eager; masks skip biases (dict or callable)
  with jax.disable_jit():
    np.testing.assert_allclose(fn(PARAMS, **kw), jax.jit(
        lambda p: fn(p, **kw))(PARAMS), rtol=1e-5)
  masked = fn(PARAMS, mask=NO_BIAS, **kw)
  no_bias = {"dense": {"kernel": PARAMS["dense"]["kernel"]},
             "conv": PARAMS["conv"]}
  np.testing.assert_allclose(masked, fn(no_bias, **kw), rtol=1e-6)
  np.testing.assert_allclose(fn(PARAMS, mask=lambda p: NO_BIAS, **kw),
                             masked, rtol=1e-6)
  g = jax.grad(lambda p: fn(p, mask=NO_BIAS, **kw))(PARAMS)
  assert np.all(g["dense"]["bias"] == 0.0)
  # item 4: half precision and zeros stay finite
  half = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.bfloat16), PARAMS)
  assert np.isfinite(fn(half, **kw))
  assert np.all(np.isfinite(jax.flatten_util.ravel_pytree(jax.grad(
      lambda p: fn(p, **kw))(jax.tree_util.tree_map(jnp.zeros_like,
                                                    PARAMS)))[0]))
  # item 7: bad inputs
  with pytest.raises(ValueError, match="floating"):
    fn({"w": jnp.arange(3)}, **kw)
  with pytest.raises(ValueError, match="structure"):
    fn(PARAMS, mask={"dense": True}, **kw)


def test_max_norm_composes_in_optax_chain():
  params = jax.tree_util.tree_map(jnp.asarray, PARAMS)
  tx = optax.chain(optax.sgd(0.5), losses.max_norm(1.0))
  state = tx.init(params)
  grads = jax.tree_util.tree_map(lambda x: -3.0 * x, params)

  @jax.jit
  def step(params, state):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  new, state = step(params, state)
  k = new["dense"]["kernel"]
  np.testing.assert_array_less(jnp.linalg.norm(k, axis=0), 1.0 + 1e-5)
  c = new["conv"].reshape(-1, 5)
  np.testing.assert_array_less(jnp.linalg.norm(c, axis=0), 1.0 + 1e-5)
  # biases are not projected (default mask: ndim >= 2); plain sgd applies
  np.testing.assert_allclose(new["dense"]["bias"],
                             params["dense"]["bias"] * 2.5, rtol=1e-6)
  # matches the reference projection of the plain sgd step
  expected = reference.max_norm_project(
      jax.tree_util.tree_map(lambda p, g: p - 0.5 * g, params, grads), 1.0)
  for a, b in zip(jax.tree_util.tree_leaves(new),
                  jax.tree_util.tree_leaves(expected)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  # weights already inside the ball are left alone
  small = jax.tree_util.tree_map(lambda x: 1e-3 * x, params)
  upd, _ = losses.max_norm(1.0).update(
      jax.tree_util.tree_map(jnp.zeros_like, small), losses.MaxNormState(),
      small)
  assert all(np.allclose(u, 0.0) for u in jax.tree_util.tree_leaves(upd))
  with pytest.raises(ValueError, match="params"):
    losses.max_norm(1.0).update(grads, losses.MaxNormState())
