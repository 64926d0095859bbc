"""The dice options and ``generalized_dice`` of optax parity (float64):

* equality (values and gradients) with ``optax.losses.dice_loss`` for every
  option and with ``multiclass_generalized_dice_loss``, with the documented
  conversions: optax's ``smooth`` is ours / 2, and optax pools the generalized
  Dice weights over the batch (ours are per example: equal for one example);
* worked values computed by hand;
* the ValueErrors for inputs that are not probabilities and bad options;
* unreduced (per-class) output averaged equals the reduced loss, and its
  per-class ``where``.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import _loss_cases as lc
import losses
from losses import _region

pytestmark = pytest.mark.usefixtures("enable_x64")
enable_x64 = lc.enable_x64

CW = np.array([0.5, 1.0, 2.0])


def _inputs(seed=0, shape=(3, 4, 5, 3)):
  r = np.random.default_rng(seed)
  z = r.normal(size=shape) * 2.0
  t = np.eye(shape[-1])[r.integers(0, shape[-1], shape[:-1])]
  return jnp.asarray(z), jnp.asarray(t)


def _value_and_grad(fn, z):
  v = fn(z)
  return v, jax.grad(lambda z: jnp.sum(fn(z) * jnp.linspace(0.5, 1.5, v.size)
                                       .reshape(v.shape)))(z)


# (our name, our options, optax options)
OPTIONS = {
    "plain": ("dice", {}, {}),
    "class_weights": ("dice", {"class_weights": CW}, {"class_weights": CW}),
    "ignore_background": ("dice", {"ignore_background": True},
                          {"ignore_background": True}),
    "weights+background": (
        "dice", {"class_weights": CW, "ignore_background": True},
        {"class_weights": CW, "ignore_background": True}),
    "unreduced": ("dice", {"reduce_classes": False}, {"reduction": "none"}),
    "unreduced+weights+background": (
        "dice", {"reduce_classes": False, "class_weights": CW,
                 "ignore_background": True},
        {"reduction": "none", "class_weights": CW, "ignore_background": True}),
    "tversky+weights": ("tversky", {"alpha": 0.3, "beta": 0.7,
                                    "class_weights": CW},
                        {"alpha": 0.3, "beta": 0.7, "class_weights": CW}),
    "jaccard+background": ("jaccard", {"ignore_background": True},
                           {"alpha": 1.0, "beta": 1.0,
                            "ignore_background": True}),
}


# every option once from logits and once from probabilities, alternating (the
# probability path skips only the activation, the same for every option)
@pytest.mark.parametrize("option,probs", [
    (option, i % 2 == 1) for i, option in enumerate(OPTIONS)] + [
    ("plain", True), (list(OPTIONS)[1], False)])
def test_dice_options_equal_optax(option, probs):
  name, ours_kw, optax_kw = OPTIONS[option]
  z, t = _inputs()
  x = jax.nn.softmax(z) if probs else z
  ours = lambda x: getattr(losses, name)(  # noqa: E731
      x, t, smooth=1.0, from_logits=not probs, **ours_kw)
  # dice smooths (2I + s)/(P + T + s): optax's smooth is s / 2; tversky and
  # jaccard have optax's form (I + s)/(...) and the same s
  theirs = lambda x: optax.losses.dice_loss(  # noqa: E731
      x, t, smooth=0.5 if name == "dice" else 1.0, apply_softmax=not probs,
      **optax_kw)
  if probs:   # optax checks the probabilities' values: eager
    (v, g), (v_ref, g_ref) = _value_and_grad(ours, x), _value_and_grad(theirs, x)
  else:       # ours and optax's in one program
    (v, g), (v_ref, g_ref) = lc.jit(lambda x: (
        _value_and_grad(ours, x), _value_and_grad(theirs, x)))(x)
  assert v.shape == v_ref.shape
  np.testing.assert_allclose(v, v_ref, rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-14)
  # the options change the value (the comparison is not vacuous)
  if option != "plain":
    plain = losses.dice(x, t, from_logits=not probs)
    assert v.shape != plain.shape or np.max(np.abs(v - plain)) > 1e-3


@pytest.mark.parametrize("kw", [{}, {"ignore_background": True},
                                {"from_logits": False}],
                         ids=["plain", "ignore_background", "probs"])
def test_generalized_dice_equals_optax_per_example(kw):
  z, t = _inputs(1)
  t = np.array(t)
  t[0, ..., 2], t[0, ..., 1] = 0.0, 1.0 - t[0, ..., 0]  # class 2 absent
  t = jnp.asarray(t)
  softmax_z = jax.nn.softmax(z)
  x = softmax_z if kw.get("from_logits") is False else z
  opt_kw = {"ignore_background": kw.get("ignore_background", False),
            "apply_softmax": kw.get("from_logits", True)}
  fn = lambda x, t: losses.generalized_dice(x, t, smooth=1.0, **kw)  # noqa: E731
  v = fn(x, t)
  g = lc.jit(jax.grad(lambda x: jnp.sum(fn(x, t))))(x)
  # optax's value and gradient for one example, in one program
  theirs = lambda xb, tb: optax.losses.multiclass_generalized_dice_loss(  # noqa: E731
      xb, tb, smooth=0.5, **opt_kw)
  theirs_vg = jax.value_and_grad(theirs)
  if opt_kw["apply_softmax"]:   # (optax checks probabilities' values: eager)
    theirs_vg = lc.jit(theirs_vg)
  for b in range(z.shape[0]):
    v_ref, g_ref = theirs_vg(x[b:b + 1], t[b:b + 1])
    np.testing.assert_allclose(v[b], v_ref, rtol=1e-12)
    np.testing.assert_allclose(g[b:b + 1], g_ref, rtol=1e-9, atol=1e-15)
  # the absent class carries ~all the weight: its loss 1 - s / (P_2 + s)
  p2 = np.sum(np.asarray(softmax_z if x is z else x)[0, ..., 2])
  if not kw.get("ignore_background"):
    np.testing.assert_allclose(v[0], 1.0 - 1.0 / (p2 + 1.0), rtol=1e-6)


def test_generalized_dice_pools_per_example_not_per_batch():
  # optax pools T_c over the batch; ours keeps examples independent, so a
  # batch mean differs from optax's scalar unless the examples' frequencies
  # agree (documented difference)
  z, t = _inputs(2)
  ours = float(jnp.mean(losses.generalized_dice(z, t, smooth=1.0)))
  theirs = float(optax.losses.multiclass_generalized_dice_loss(z, t, smooth=0.5))
  assert abs(ours - theirs) > 1e-3
  # the same example three times: the pooled weights are the same
  zz, tt = jnp.repeat(z[:1], 3, 0), jnp.repeat(t[:1], 3, 0)
  np.testing.assert_allclose(
      jnp.mean(losses.generalized_dice(zz, tt, smooth=1.0, eps=0.0)),
      optax.losses.multiclass_generalized_dice_loss(zz, tt, smooth=0.5),
      rtol=1e-7)


# --- worked values, by hand ---------------------------------------------------------
# two pixels (spatial_dims=1), three classes, probabilities:
# class 0: I = 0.7, P = 0.8, T = 1 -> 1 - 2.4/2.8 = 1/7
# class 1: I = 0.6, P = 0.8, T = 1 -> 1 - 2.2/2.8 = 3/14
# class 2: I = 0,   P = 0.4, T = 0 -> 1 - 1/1.4  = 2/7
P2 = np.array([[[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]])
T2 = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])


def test_dice_worked_values():
  kw = {"spatial_dims": 1, "from_logits": False}
  np.testing.assert_allclose(losses.dice(P2, T2, **kw), [3 / 14], rtol=1e-14)
  np.testing.assert_allclose(losses.dice(P2, T2, reduce_classes=False, **kw),
                             [[1 / 7, 3 / 14, 2 / 7]], rtol=1e-14)
  # weights (1, 2, 0.5), background dropped: (2 * 3/14 + 0.5 * 2/7) / 2
  np.testing.assert_allclose(
      losses.dice(P2, T2, class_weights=jnp.array([1.0, 2.0, 0.5]),
                  ignore_background=True, **kw), [2 / 7], rtol=1e-14)
  # binary: p = (0.9, 0.2; 0.6, 0.1), t = (1, 0; 1, 0): I = 1.5, P = 1.8,
  # T = 2 -> 1 - 4/4.8 = 1/6
  p = np.array([[0.9, 0.2], [0.6, 0.1]])
  t = np.array([[1.0, 0.0], [1.0, 0.0]])
  np.testing.assert_allclose(losses.dice(p, t, mode="binary",
                                         from_logits=False), 1 / 6, rtol=1e-14)


def test_generalized_dice_worked_values():
  # 4 pixels, classes (0, 0, 1, 2), uniform p = 1/3: T = (2, 1, 1),
  # u = (1/4, 1, 1), w = 3 u / 2.25 = (1/3, 4/3, 4/3); per-class losses
  # 1 - (4/3 + 1)/(4/3 + 3) = 6/13, 1 - (5/3)/(10/3) = 1/2, 1/2
  # -> (2/13 + 2/3 + 2/3) / 3 = 58/117
  t = jnp.asarray(np.eye(3)[np.array([[0, 0, 1, 2]])])
  p = jnp.asarray(np.full((1, 4, 3), 1 / 3))
  v = losses.generalized_dice(p, t, spatial_dims=1, from_logits=False, eps=0.0)
  np.testing.assert_allclose(v, [58 / 117], rtol=1e-14)
  # background dropped after normalizing: (2/3 + 2/3) / 2
  v = losses.generalized_dice(p, t, spatial_dims=1, from_logits=False,
                              eps=0.0, ignore_background=True)
  np.testing.assert_allclose(v, [2 / 3], rtol=1e-14)
  # logits: the same probabilities from equal logits
  np.testing.assert_allclose(
      losses.generalized_dice(jnp.zeros((1, 4, 3)), t, spatial_dims=1,
                              eps=0.0), [58 / 117], rtol=1e-14)


# --- errors -------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [losses.dice, losses.jaccard, losses.tversky,
                                losses.generalized_dice],
                         ids=lambda f: f.__name__)
def test_non_probabilities_are_rejected(fn):
  z, t = _inputs()
  with pytest.raises(ValueError, match=r"\[0, 1\].*from_logits=True"):
    fn(z, t, from_logits=False)                      # logits, not probs
  p = jax.nn.softmax(z)
  with pytest.raises(ValueError, match="sum to 1.*mode='multilabel'"):
    fn(p * 0.9, t, from_logits=False)                # rows sum to 0.9
  # per-class probabilities are fine as multilabel; softmax rows as multiclass
  fn(p * 0.9, t, from_logits=False, mode="multilabel")
  fn(p, t, from_logits=False)
  # masked examples are not inspected (they may hold anything)
  bad = p.at[0].set(jnp.nan).at[1].set(5.0)
  v = fn(bad, t, from_logits=False, where=jnp.array([False, False, True]))
  assert np.all(v[:2] == 0.0) and np.isfinite(v[2])
  # under jit the values are not concrete: no error, no check
  jax.jit(lambda x: fn(x, t, from_logits=False))(z)


def test_bad_options_are_rejected():
  z, t = _inputs()
  with pytest.raises(ValueError, match="class_weights.*\\(3,\\)"):
    losses.dice(z, t, class_weights=jnp.ones(4))
  with pytest.raises(ValueError, match="ignore_background"):
    losses.dice(z[..., 0], t[..., 0], mode="binary", ignore_background=True)
  with pytest.raises(ValueError, match="where"):
    losses.dice(z, t, reduce_classes=False, ignore_background=True,
                where=jnp.ones((3, 3), bool))       # (3, 2) expected


# --- unreduced output ---------------------------------------------------------------
@pytest.mark.parametrize("name,mode,kw", [
    ("dice", "multiclass", {"class_weights": CW, "ignore_background": True}),
    ("jaccard", "multilabel", {"ignore_background": True}),
    ("tversky", "multiclass", {"alpha": 0.2, "beta": 0.8,
                               "class_weights": CW}),
])
def test_unreduced_mean_equals_reduced(name, mode, kw):
  z, t = _inputs(3)
  fn = getattr(losses, name)
  per_class = fn(z, t, mode=mode, reduce_classes=False, **kw)
  assert per_class.shape == (3, 3 - int(kw.get("ignore_background", False)))
  reduced = fn(z, t, mode=mode, **kw)
  np.testing.assert_allclose(jnp.mean(per_class, -1), reduced, rtol=1e-13)
  g1 = jax.grad(lambda z: jnp.sum(fn(z, t, mode=mode, reduce_classes=False,
                                     **kw)))(z)
  g2 = jax.grad(lambda z: jnp.sum(fn(z, t, mode=mode, **kw)))(z)
  np.testing.assert_allclose(g1, per_class.shape[-1] * g2, rtol=1e-10)


def test_unreduced_where_masks_single_classes():
  z, t = _inputs(4)
  keep = jnp.array([[True, False, True]] * 3)
  # multilabel: a masked class's inputs are never read (NaN stays out)
  zn = np.array(z)
  zn[..., 1] = np.nan
  zn = jnp.asarray(zn)
  f = lambda z: losses.dice(z, t, mode="multilabel", reduce_classes=False,  # noqa: E731
                            where=keep)
  v, g = lc.jit(jax.value_and_grad(lambda z: jnp.sum(f(z))))(zn)
  assert np.isfinite(v)
  np.testing.assert_array_equal(f(zn)[:, 1], 0.0)
  np.testing.assert_array_equal(g[..., 1], 0.0)
  assert np.all(np.isfinite(g))
  np.testing.assert_allclose(f(zn)[:, [0, 2]], losses.dice(
      z, t, mode="multilabel", reduce_classes=False)[:, [0, 2]], rtol=1e-14)


def test_class_weights_are_traced():
  z, t = _inputs()
  losses.dice(z, t, class_weights=CW)
  size = _region._region_jit._cache_size()  # pylint: disable=protected-access
  losses.dice(z, t, class_weights=2 * CW)
  losses.dice(z, t, class_weights=CW[::-1].copy())
  assert _region._region_jit._cache_size() == size  # pylint: disable=protected-access
  # and get zero gradient (a hyperparameter)
  g = jax.grad(lambda w: jnp.sum(losses.dice(z, t, class_weights=w)))(CW)
  np.testing.assert_array_equal(g, 0.0)
