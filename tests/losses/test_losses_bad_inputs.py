"""Item 7: bad inputs raise the documented errors (at trace time, naming the
shapes): shape mismatches (no silent broadcasting), float labels, integer
predictions, wrong rank, labels out of range (ValueError when concrete, NaN
under jit), a ``where`` that would enlarge the output."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import _loss_cases as lc
import losses
from _loss_cases import CASES, CASE_IDS

INT_LABEL_LOSSES = [
    losses.softmax_cross_entropy_with_integer_labels, losses.nll,
    losses.softmax_binary_cross_entropy, losses.multiclass_hinge,
    losses.crammer_singer_hinge]


def _trace(case, args, **extra):
  """Tracing is enough: every check runs before compilation."""
  return jax.eval_shape(lambda *a: case.fn(*a, **case.kw, **extra), *args)


@pytest.mark.parametrize("case", [c for c in CASES if len(c.make(
    lc.rng_for(c.name), (4,))) > 1], ids=lambda c: c.name)
def test_shape_mismatch_names_both_shapes(case):
  args = [jnp.asarray(a) for a in lc.args_for(case, lead=(4,))]
  bad = list(args)
  bad[1] = args[1][..., None]          # (4, ...) vs (4, ..., 1): no broadcast
  with pytest.raises(ValueError) as e:
    _trace(case, bad)
  msg = str(e.value)
  assert str(tuple(bad[1].shape)) in msg, msg
  assert str(tuple(args[0].shape)) in msg or str(
      tuple(args[0].shape[:-1])) in msg, msg


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_integer_predictions_and_enlarging_where_rejected(case):
  args = [jnp.asarray(a) for a in lc.args_for(case, lead=(4,))]
  as_int = [args[0].astype(jnp.int32)] + args[1:]
  with pytest.raises(ValueError, match="floating|dtype"):
    _trace(case, as_int)
  out = _trace(case, args)
  base = (args[case.where_items].shape if case.where_items is not None
          else out.shape)
  with pytest.raises(ValueError, match="where"):
    _trace(case, args, where=jnp.ones(base + (2,), bool))


def test_huber_refuses_optax_style_broadcast():
  with pytest.raises(ValueError, match=re.escape("(4,)") + ".*" +
                     re.escape("(4, 1)")):
    losses.huber(jnp.zeros(4), jnp.zeros((4, 1)))


@pytest.mark.parametrize("fn", INT_LABEL_LOSSES, ids=lambda f: f.__name__)
def test_integer_label_checks(fn):
  z = jnp.asarray(np.random.default_rng(0).uniform(0.1, 0.9, (3, 4)))
  with pytest.raises(ValueError, match="integer"):
    fn(z, jnp.array([0.0, 1.0, 2.0]))                 # float labels
  with pytest.raises(ValueError, match=re.escape("(3, 4)")):
    fn(z, jnp.array([[0], [1], [2]]))                 # wrong rank
  with pytest.raises(ValueError):
    fn(z[0, 0], jnp.array(0))                         # rank-0 logits
  # label >= C: ValueError when concrete ...
  with pytest.raises(ValueError, match="only 4 classes"):
    fn(z, jnp.array([0, 4, 1]))
  # ... NaN (value and gradient) under jit, never a plausible number
  v, g = jax.jit(jax.value_and_grad(
      lambda z, y: jnp.sum(fn(z, y)), argnums=0))(z, jnp.array([0, 4, 1]))
  assert np.isnan(v) and np.all(np.isnan(g[1])) and np.all(np.isfinite(g[0]))
  # a negative label is ignored: loss 0, gradient 0
  v = fn(z, jnp.array([-1, 2, 1]))
  assert v[0] == 0.0
  g = jax.grad(lambda z: jnp.sum(fn(z, jnp.array([-1, 2, 1]))))(z)
  assert np.all(g[0] == 0.0)


def test_ctc_and_detection_specific_errors():
  with pytest.raises(ValueError, match="only 5 classes"):
    losses.ctc(jnp.zeros((2, 6, 5)), jnp.array([[1, 5], [1, -1]]))
  with pytest.raises(ValueError, match="labels"):
    losses.ctc(jnp.zeros((2, 6, 5)), jnp.array([[1.0, 2.0], [1.0, 0.0]]))
  with pytest.raises(ValueError, match="size 5"):
    losses.single_object_detection(jnp.zeros((2, 4)), jnp.zeros((2, 4)))
  with pytest.raises(ValueError, match="mode"):
    losses.dice(jnp.zeros((1, 2, 2, 3)), jnp.zeros((1, 2, 2, 3)), mode="x")
  with pytest.raises(ValueError, match="pair_loss"):
    losses.listwise_pairs(jnp.zeros(3), jnp.zeros(3), pair_loss="hinge")
  with pytest.raises(ValueError, match="squared"):
    losses.triplet_margin(jnp.zeros(3), jnp.zeros(3), jnp.zeros(3), p=1,
                          squared=True)


def test_yolo_specific_errors():
  # 3 classes: targets 5 + 3 = 8, predictions 5 * 2 + 3 = 13 (num_boxes=2)
  with pytest.raises(ValueError, match=re.escape(
      "yolo_loss: predictions shape (1, 2, 2, 13) and targets shape "
      "(1, 2, 2, 8) do not fit num_boxes=3: targets need 5 + C channels")):
    losses.yolo_loss(_YP, _YT, num_boxes=3)
  with pytest.raises(ValueError, match=re.escape("do not fit num_boxes=2")):
    losses.yolo_loss(_YP[..., :12], _YT)                 # one class short
  with pytest.raises(ValueError, match=re.escape("do not fit num_boxes=2")):
    losses.yolo_loss(jnp.zeros((1, 2, 2, 9)), jnp.zeros((1, 2, 2, 4)))
  with pytest.raises(ValueError, match=re.escape(
      "yolo_loss: predictions shape (1, 2, 2, 13) and targets shape "
      "(1, 3, 3, 8) must agree in every axis but the last")):
    losses.yolo_loss(_YP, jnp.zeros((1, 3, 3, 8)))       # another grid
  with pytest.raises(ValueError, match=re.escape(
      "yolo_loss: predictions must have rank >= 3, got shape (13,).")):
    losses.yolo_loss(_YP[0, 0, 0], _YT[0, 0, 0])
  with pytest.raises(ValueError, match="num_boxes must be a positive int"):
    losses.yolo_loss(_YP, _YT, num_boxes=0)
  with pytest.raises(ValueError, match=re.escape(
      "confidence_target must be 'iou' or 'one', got 'IoU'")):
    losses.yolo_loss(_YP, _YT, confidence_target="IoU")
  # concrete target values: has_object 0/1, an object's w, h >= 0 ...
  with pytest.raises(ValueError, match=re.escape(
      "yolo_loss: targets[..., 0] (has_object) must be 0 or 1, got values in "
      "[0, 0.5].")):
    losses.yolo_loss(_YP, _YT.at[0, 0, 0, 0].set(0.5))
  with pytest.raises(ValueError, match=re.escape(
      "(w, h of an object) must be >= 0 fractions of the image, got -0.2.")):
    losses.yolo_loss(_YP, _YT.at[0, 0, 0, 4].set(-0.2))
  # ... except in a masked image and in an empty cell's unused box
  losses.yolo_loss(_YP, _YT.at[0, 0, 0, 0].set(0.5), where=jnp.array([False]))
  assert np.isfinite(losses.yolo_loss(_YP, _YT.at[0, 1, 1, 3].set(-1.0)))
  # ... and unchecked under jit (traced)
  jax.jit(losses.yolo_loss)(_YP, _YT.at[0, 0, 0, 0].set(0.5))


# --- hyperparameter ranges and probability values -----------------------------
# Concrete values are checked in Python before the jitted loss runs; traced
# values (jit arguments) cannot be inspected and are unchecked.
_V = jnp.linspace(-1.0, 1.0, 4)          # scores / predictions
_PM1 = jnp.array([1.0, -1.0, 1.0, -1.0])  # +-1 labels
_U = jnp.array([0.0, 1.0, 1.0, 0.0])      # 0/1 labels
_Z = jnp.asarray(np.random.default_rng(1).normal(size=(3, 4)), jnp.float32)
_P = jax.nn.softmax(_Z)
_Y = jnp.array([0, 3, 1])
_E = jnp.asarray(np.random.default_rng(2).normal(size=(4, 3)), jnp.float32)
_IMG = jnp.asarray(np.random.default_rng(3).normal(size=(1, 2, 2, 3)),
                   jnp.float32)
_OH = jax.nn.one_hot(jnp.array([[[0, 1], [2, 1]]]), 3)
# YOLO: one image, a 2 x 2 grid, 2 boxes of 5 + 3 classes; an object in a cell
_YP = jnp.full((1, 2, 2, 13), 0.5)
_YT = jnp.zeros((1, 2, 2, 8)).at[0, 0, 0].set(
    jnp.array([1.0, 0.5, 0.5, 0.3, 0.2, 0.0, 1.0, 0.0]))

# (loss, its arguments, hyperparameter, its allowed range, a refused value,
# the valid boundary values)
HYPER = [
    ("huber", (_V, _U), "delta", "> 0", -1.0, ()),
    ("huber", (_V, _U), "delta", "> 0", 0.0, ()),
    ("smooth_l1", (_V, _U), "beta", ">= 0", -0.5, (0.0,)),
    ("binary_hinge", (_V, _PM1), "margin", ">= 0", -1.0, (0.0,)),
    ("multiclass_hinge", (_Z, _Y), "margin", ">= 0", -1.0, (0.0,)),
    ("crammer_singer_hinge", (_Z, _Y), "margin", ">= 0", -1.0, (0.0,)),
    ("pairwise_margin_ranking", (_V, _U), "margin", ">= 0", -1.0, (0.0,)),
    ("listwise_pairs", (_V, _U), "margin", ">= 0", -1.0, (0.0,)),
    ("triplet_margin", (_E, _E[::-1], _E + 1.0), "margin", ">= 0", -1.0,
     (0.0,)),
    ("batch_hard_triplet", (_E, jnp.array([0, 0, 1, 1])), "margin", ">= 0",
     -1.0, (0.0,)),
    ("contrastive", (_E, _E[::-1], _U), "margin", ">= 0", -1.0, (0.0,)),
    ("sigmoid_focal", (_V, _U), "gamma", ">= 0", -1.0, (0.0,)),
    ("sigmoid_focal", (_V, _U), "alpha", "in [0, 1]", 2.0, (0.0, 1.0)),
    ("sigmoid_focal", (_V, _U), "alpha", "in [0, 1]", -0.25, ()),
    ("softmax_focal", (_Z, _P), "gamma", ">= 0", -0.5, (0.0,)),
    ("softmax_focal", (_Z, _P), "alpha", ">= 0", -1.0, (0.0, 2.0)),
    ("sigmoid_binary_cross_entropy", (_V, _U), "label_smoothing", "in [0, 1]",
     1.5, (0.0, 1.0)),
    ("sigmoid_binary_cross_entropy", (_V, _U), "pos_weight", ">= 0", -1.0,
     (0.0,)),
    ("softmax_cross_entropy_with_integer_labels", (_Z, _Y), "label_smoothing",
     "in [0, 1]", -0.1, (0.0, 1.0)),
    ("dice", (_IMG, _OH), "smooth", ">= 0", -1.0, (0.0,)),
    ("dice", (_IMG, _OH), "class_weights", ">= 0", np.array([1.0, 1.0, -1.0]),
     (np.zeros(3),)),
    ("jaccard", (_IMG, _OH), "smooth", ">= 0", -1.0, (0.0,)),
    ("tversky", (_IMG, _OH), "alpha", ">= 0", -0.5, (0.0,)),
    ("tversky", (_IMG, _OH), "beta", ">= 0", -0.5, (0.0,)),
    ("generalized_dice", (_IMG, _OH), "eps", ">= 0", -1e-7, (0.0,)),
    ("dice_cross_entropy", (_IMG, _OH), "ce_weight", ">= 0", -1.0, (0.0,)),
    ("single_object_detection", (jnp.zeros((2, 5)), jnp.ones((2, 5))),
     "component_weights", ">= 0", -np.ones(5), (np.zeros(5),)),
    ("glove", (_E, _E, _V, _V, jnp.array([0.0, 1.0, 5.0, 500.0])), "x_max",
     "> 0", 0.0, ()),
    ("yolo_loss", (_YP, _YT), "lambda_coord", ">= 0", -5.0, (0.0,)),
    ("yolo_loss", (_YP, _YT), "lambda_noobj", ">= 0", -0.5, (0.0,)),
    ("glove", (_E, _E, _V, _V, jnp.array([0.0, 1.0, 5.0, 500.0])), "alpha",
     ">= 0", -0.75, (0.0,)),
]


def _hyper_id(row):
  return f"{row[0]}-{row[2]}={np.ravel(row[4])[-1]}"


@pytest.mark.parametrize("row", HYPER, ids=map(_hyper_id, HYPER))
def test_out_of_range_hyperparameter_is_refused(row):
  name, args, hyper, allowed, bad, valid = row
  fn = getattr(losses, name)
  with pytest.raises(ValueError, match=re.escape(
      f"{name}: {hyper} must be {allowed}")) as e:
    fn(*args, **{hyper: bad})
  assert f"got {float(np.ravel(bad)[-1])}" in str(e.value), str(e.value)
  # the allowed boundary values work and give finite losses
  for value in valid:
    assert np.all(np.isfinite(fn(*args, **{hyper: value}))), (name, value)
  # under jit the value is traced: no check, no recompile per value
  jax.eval_shape(lambda h: fn(*args, **{hyper: h}), jnp.asarray(bad))


def test_hyperparameter_messages_say_what_to_do():
  with pytest.raises(ValueError, match=re.escape(
      "huber: delta must be > 0 (the |error| where the loss turns linear), "
      "got -1.0.")):
    losses.huber(_V, _U, delta=-1.0)
  with pytest.raises(ValueError, match=re.escape(
      "sigmoid_focal: alpha must be in [0, 1] (it weights positives and "
      "1 - alpha negatives; alpha=None turns the weighting off), got 2.0.")):
    losses.sigmoid_focal(_V, _U, alpha=2.0)
  with pytest.raises(ValueError, match=re.escape(
      "softmax_focal: alpha must be >= 0 (per-class weights), got -1.0 "
      "(1 of its 4 entries).")):
    losses.softmax_focal(_Z, _P, alpha=jnp.array([1.0, -1.0, 0.5, 2.0]))
  with pytest.raises(ValueError, match="must be >= 0.*got nan"):
    losses.binary_hinge(_V, _PM1, margin=float("nan"))    # NaN is refused too
  # alpha=None (no weighting) is an option, not a value to check
  assert np.all(np.isfinite(losses.sigmoid_focal(_V, _U, alpha=None)))


def test_hyperparameters_stay_traced_and_unchecked_under_jit():
  # a jit argument is traced: unchecked (the loss computes what it is told),
  # and one compiled program serves every value
  f = jax.jit(lambda d: losses.huber(_V, _U, delta=d))
  assert np.all(np.isfinite(f(-1.0)))
  # a Python number inside jit is concrete at trace time: checked
  with pytest.raises(ValueError, match="margin must be >= 0"):
    jax.jit(lambda s: losses.binary_hinge(s, _PM1, margin=-1.0))(_V)


# (loss, arguments with the probabilities at `at`, the message's lead)
PROBS = [
    ("binary_cross_entropy", (_P[0], _U), 0,
     "binary_cross_entropy: probs must be probabilities in [0, 1]"),
    ("binary_cross_entropy", (_P[0], _U), 1,
     "binary_cross_entropy: labels must be 0/1 or soft targets in [0, 1]"),
    ("nll", (_P, _Y), 0, "nll: probs must be probabilities in [0, 1]"),
    ("kl_divergence", (_Z, _P), 1,
     "kl_divergence: target_probs must be probabilities in [0, 1]"),
]


@pytest.mark.parametrize("bad", [1.5, -0.25])
@pytest.mark.parametrize("row", PROBS, ids=lambda r: f"{r[0]}-arg{r[2]}")
def test_values_outside_unit_interval_are_refused(row, bad):
  name, args, at, lead = row
  fn = getattr(losses, name)
  x = args[at]
  broken = list(args)
  broken[at] = x.at[(0,) * x.ndim].set(bad)
  with pytest.raises(ValueError, match=re.escape(lead)) as e:
    fn(*broken)
  assert f"{bad:.6g}" in str(e.value), str(e.value)
  # exactly 0 and 1 are probabilities
  edges = list(args)
  edges[at] = x.at[(0,) * x.ndim].set(1.0).at[(-1,) * x.ndim].set(0.0)
  fn(*edges)
  # a masked example is not inspected (padding may hold anything)
  where = np.ones(jnp.shape(fn(*args)), bool)
  where.flat[0] = False
  fn(*broken, where=where)
  # under jit the values are traced: unchecked, never an error
  jax.jit(fn)(*broken)


def test_probability_boundaries_give_the_exact_losses():
  # p exactly 0 or 1 with the matching label: BCE ~0 (the eps clamp), nll 0
  bce = losses.binary_cross_entropy(jnp.array([0.0, 1.0]),
                                    jnp.array([0.0, 1.0]))
  np.testing.assert_allclose(bce, [0.0, 0.0], atol=2e-7)
  np.testing.assert_allclose(
      losses.nll(jnp.array([[0.0, 1.0]]), jnp.array([1])), [0.0], atol=1e-7)
  np.testing.assert_allclose(
      losses.kl_divergence(jnp.log(jnp.array([[0.5, 0.5, 1e-30]])),
                           jnp.array([[0.5, 0.5, 0.0]])), [0.0], atol=1e-6)
