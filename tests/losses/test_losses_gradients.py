"""Derivatives of every loss against its reference formula, in float64:

* first order: the hand-derived rule's gradient equals jax.grad of the reference
  (rtol 1e-6) and passes the notes' finite-difference check, ||g - g_num|| /
  (||g|| + ||g_num||) < 1e-7 (note 004, "Gradient checking");
* second order: the Hessian of sum(c * L^2) (which holds first and second
  derivatives of L) equals the reference's (rtol 1e-6), by forward-over-reverse
  for every case and also by reverse-over-reverse and forward-over-forward for
  the first case of each loss (the other cases vary hyperparameters of the
  same rule; compiling three Hessians of each would double this file's time);
* forward and reverse mode agree: <u, J v> = <J^T u, v>.

One jitted program per case computes all of it.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import _loss_cases as lc
from _loss_cases import CASES, CASE_IDS

pytestmark = pytest.mark.usefixtures("enable_x64")
enable_x64 = lc.enable_x64
EPS = 1e-6


def _numeric_grad(f, x):
  """Central differences for every coordinate, vectorised with vmap."""
  n = x.size
  basis = jnp.eye(n, dtype=x.dtype).reshape((n,) + x.shape) * EPS
  fv = jax.vmap(f)
  return ((fv(x + basis) - fv(x - basis)) / (2 * EPS)).reshape(x.shape)


def _program(case, cot_shape):
  diff = case.diff
  fd_diff = case.fd_diff if case.fd_diff is not None else diff

  @lc.jit
  def run(args, cot):
    xs = [args[i] for i in diff]
    argnums = tuple(range(len(diff)))

    def obj(fn):
      def f(*diff_args):
        full = list(args)
        for i, a in zip(diff, diff_args):
          full[i] = a
        v = fn(*full, **case.kw)
        return (v * cot).sum(), v
      return f

    (_, ours), g = jax.value_and_grad(obj(case.fn), argnums, has_aux=True)(*xs)
    (_, ref), g_ref = jax.value_and_grad(obj(case.ref), argnums,
                                         has_aux=True)(*xs)

    def squared(fn):  # sum(c L^2)
      return lambda *a: jnp.sum(cot * obj(fn)(*a)[1] ** 2)
    hessians = {
        "fwd-over-rev": jax.jacfwd(jax.jacrev(squared(case.fn), argnums), argnums)(*xs),
        "reference": jax.hessian(squared(case.ref), argnums)(*xs)}
    if case in lc.PRIMARY:
      hessians["rev-over-rev"] = jax.jacrev(jax.jacrev(squared(case.fn), argnums),
                                            argnums)(*xs)
      hessians["fwd-over-fwd"] = jax.jacfwd(jax.jacfwd(squared(case.fn), argnums),
                                            argnums)(*xs)
    outputs = lambda *a: obj(case.fn)(*a)[1]  # noqa: E731
    _, jv = jax.jvp(outputs, xs, [jnp.cos(x) for x in xs])
    _, pullback = jax.vjp(outputs, *xs)
    transposed = sum(jnp.vdot(gx, jnp.cos(x)) for gx, x in zip(pullback(cot), xs))
    consistency = (jnp.vdot(cot, jv), transposed)
    fd = []
    for i in fd_diff:
      k = diff.index(i)
      def f_k(xk, k=k):
        a = list(xs)
        a[k] = xk
        return obj(case.fn)(*a)[0]
      fd.append((i, g[k], _numeric_grad(f_k, xs[k])))
    return (ours, ref), g, g_ref, fd, hessians, consistency
  return run


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_derivatives_match_the_reference_and_finite_differences(case):
  args = [jnp.asarray(a) for a in lc.args_for(case, lead=(2,))]
  out_shape = jax.eval_shape(lambda *a: case.fn(*a, **case.kw), *args).shape
  cot = jnp.asarray(lc.rng_for(case.name, 1).uniform(0.5, 1.5, out_shape))
  (ours, ref), g, g_ref, fd, hessians, consistency = _program(case, out_shape)(
      args, cot)
  # values: the custom-VJP function and the plain formula agree
  assert ours.dtype == jnp.float64
  np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
  # item 1: the custom rule's gradient == jax.grad(reference)
  for i, a, b in zip(case.diff, g, g_ref):
    assert a.shape == args[i].shape
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12,
                               err_msg=f"{case.name}: d/d arg {i}")
  # item 2: finite differences, the notes' relative-error criterion
  for i, g_an, g_num in fd:
    den = float(jnp.linalg.norm(g_an) + jnp.linalg.norm(g_num))
    rel = float(jnp.linalg.norm(g_an - g_num)) / den if den else 0.0
    assert rel < 1e-7, f"{case.name}: d/d arg {i}: relative error {rel:.2e}"
  # second order, every mode, against the reference's Hessian
  reference = jax.tree.leaves(hessians.pop("reference"))
  for mode, hessian in hessians.items():
    for a, b in zip(jax.tree.leaves(hessian), reference):
      np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9,
                                 err_msg=f"{case.name}: {mode}")
  np.testing.assert_allclose(*consistency, rtol=1e-9, err_msg=f"{case.name}: jvp/vjp")
