"""Derivatives of every order in both modes (issue 16).

Each loss states its hand-derived derivative as a `jax.custom_jvp` rule; JAX takes
it forward (jvp, jacfwd, linearize), transposes it for reverse mode, and
differentiates the rule itself for higher orders. For every case of the table,
test_losses_gradients.py compares first and second derivatives in every mode with
the reference formula's, and test_losses_edge_cases.py requires finite Hessians at
the edge cases. This file adds `jax.test_util.check_grads` to second order in both
modes (finite differences, independent of the reference), forward mode for every
loss of the public table, and one pinned test per defect that the custom_vjp
version had.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import _loss_cases as lc
import losses
from _loss_cases import PRIMARY

enable_x64 = lc.enable_x64


def _diff_args(case, args):
  return [args[i] for i in case.diff]


def _squared_objective(fn, case, args, cot):
  """sum(cot * L^2) of the differentiable args: its Hessian is
  2 sum cot (grad L grad L^T + L hess L), so it checks both orders."""
  def f(*diff_args):
    full = list(args)
    for i, a in zip(case.diff, diff_args):
      full[i] = a
    v = fn(*full, **case.kw)
    return jnp.sum(cot * v * v)
  return f


# One case per kind of rule (piecewise, probabilities, softmax, squared hinge,
# pairs of a list, p-norms, ratios, log-space powers): check_grads costs seconds
# per loss, and every case is compared with the reference in all modes anyway.
CHECK_GRADS = [lc.by_name(n) for n in (
    "huber", "binary_cross_entropy", "softmax_cross_entropy", "multiclass_hinge[squared]",
    "listwise_pairs[logistic]", "triplet_margin[p3]", "dice[multiclass]",
    "sigmoid_focal")]


@pytest.mark.usefixtures("enable_x64")
@pytest.mark.parametrize("case", CHECK_GRADS, ids=[c.name for c in CHECK_GRADS])
def test_check_grads_second_order_both_modes(case):
  args = [jnp.asarray(a) for a in lc.args_for(case, lead=(2,))]
  out_shape = jax.eval_shape(lambda *a: lc.call(case, a), *args).shape
  cot = jnp.asarray(lc.rng_for(case.name, 3).uniform(0.5, 1.5, out_shape))
  f = jax.jit(_squared_objective(case.fn, case, args, cot))
  # A step of 1e-5: second differences at the default 1e-4 are off by 2e-5
  # relative for BCE on probabilities near 0.05 (the reference fails alike).
  check_grads(f, _diff_args(case, args), order=2, modes=("fwd", "rev"),
              atol=1e-5, rtol=1e-5, eps=1e-5)


# --- the defects of issue 16, each pinned ---------------------------------------

def test_forward_mode_is_tested_for_every_loss_in_the_table():
  """Before: jvp raised "can't apply forward-mode autodiff (jvp) to a custom_vjp
  function" for every loss. test_losses_gradients.py takes jax.jvp and
  forward-over-forward Hessians of every case; here: every loss has a case."""
  covered = {c.fn_name or c.name for c in PRIMARY}
  assert covered == set(losses.LOSSES), set(losses.LOSSES) ^ covered


@pytest.mark.usefixtures("enable_x64")
def test_softmax_cross_entropy_second_derivatives_in_the_targets():
  """Before: d2(L^2)/dt3^2 was 3.1e-3 (optax and the reference: 288) and
  d2(L^2)/dz1 dt3 was 18 (42): the rule masked -t log p where t = 0."""
  z, t = jnp.array([10.0, 1.0, -2.0]), jnp.array([0.0, 1.0, 0.0])
  f = lambda z, t: losses.softmax_cross_entropy(z, t) ** 2
  (_, h_zt), (_, h_tt) = lc.jit(jax.hessian(f, (0, 1)))(z, t)
  # the test's own arithmetic in numpy (no tiny eager programs)
  z, t = np.asarray(z), np.asarray(t)
  log_p = z - np.log(np.sum(np.exp(z - z.max()))) - z.max()
  # L = -sum t log p; d2(L^2)/dt_i dt_j = 2 log p_i log p_j
  np.testing.assert_allclose(h_tt[2, 2], 2 * log_p[2] ** 2, rtol=1e-9)
  np.testing.assert_allclose(h_tt[2, 2], 288.0, rtol=1e-3)
  # d2(L^2)/dz_i dt_j = 2 (dL/dz_i)(-log p_j) + 2 L (p_i - delta_ij)
  loss = -np.sum(t * log_p)
  p = np.exp(log_p)
  expected = 2 * (p[0] * np.sum(t) - t[0]) * (-log_p[2]) + 2 * loss * p[0]
  np.testing.assert_allclose(h_zt[0, 2], expected, rtol=1e-9)
  np.testing.assert_allclose(h_zt[0, 2], 42.0, rtol=1e-3)


def _softplus(x):  # log(1 + e^x); its float64 second derivative at 50 is 1.9e-22
  return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def _stable_focal(z, t, gamma):
  """Hard labels: 1 - p_t = sigma(-s z) with s = 2t - 1, and BCE = softplus(-s z),
  so FL = exp(-gamma softplus(s z)) softplus(-s z), finite in float64 here."""
  m = (2.0 * t - 1.0) * z
  return jnp.sum(jnp.exp(-gamma * _softplus(m)) * _softplus(-m))


# one program for every gamma (compiled once, not op by op)
_stable_focal_hessian = lc.jit(jax.hessian(_stable_focal))


@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.7])
def test_sigmoid_focal_hessian_is_finite_and_right_for_small_gamma(gamma):
  """Before: NaN or -inf for gamma < 1 at |logit| >= 50 with hard labels."""
  z = jnp.array([-60.0, -50.0, 50.0, 60.0, -50.0, 50.0])
  t = jnp.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
  ours = lc.jit(jax.hessian(lambda z: jnp.sum(losses.sigmoid_focal(
      z, t, gamma=gamma, alpha=None))))(z)
  assert np.all(np.isfinite(ours)), ours
  with jax.enable_x64(True):
    ref = _stable_focal_hessian(np.asarray(z, np.float64),
                                np.asarray(t, np.float64), gamma)
  np.testing.assert_allclose(np.diag(ours), np.diag(ref), rtol=1e-3, atol=1e-30)


@pytest.mark.parametrize("fn", [losses.softmax_cross_entropy, losses.kl_divergence])
def test_zero_classes_give_zero_loss_and_gradient(fn):
  """Before: `fn(z[mask], t[mask])` with an all-False mask raised "zero-size array
  to reduction operation max"; a sum over no classes is 0 (as in optax)."""
  for shape in [(0,), (3, 0)]:
    z, t = jnp.zeros(shape), jnp.zeros(shape)
    value, grad = lc.jit(jax.value_and_grad(lambda z: jnp.sum(fn(z, t))))(z)
    np.testing.assert_array_equal(fn(z, t), np.zeros(shape[:-1]))
    assert value == 0.0 and grad.shape == shape


def test_ctc_float32_gradient_is_exact_on_a_one_to_one_alignment():
  """Before: 9.2e-5 relative error (optax: 6.4e-8) when the labels fill every frame,
  so one path carries all the probability and the posterior is a hard 0/1."""
  rng = np.random.default_rng(0)
  b, frames, classes = 8, 50, 40
  labels = np.empty((b, frames), np.int32)
  for i in range(b):  # no two equal neighbours: no blank fits, one alignment
    labels[i, 0] = rng.integers(1, classes)
    for s in range(1, frames):
      labels[i, s] = (labels[i, s - 1] + rng.integers(1, classes - 1) - 1) % (
          classes - 1) + 1
  assert np.all(labels[:, 1:] != labels[:, :-1]) and np.all(labels > 0)
  logits = rng.normal(size=(b, frames, classes)) * 2
  grad = lc.jit(jax.grad(lambda z: jnp.sum(losses.ctc(z, labels))))
  g32 = np.asarray(grad(jnp.asarray(logits, jnp.float32)), np.float64)
  with jax.enable_x64(True):
    g64 = np.asarray(grad(jnp.asarray(logits, jnp.float64)))
  assert np.abs(g32 - g64).max() / np.abs(g64).max() < 2e-6
