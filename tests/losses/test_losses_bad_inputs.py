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
