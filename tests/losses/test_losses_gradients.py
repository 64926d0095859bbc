"""Items 1 and 2 of the spec for every loss: the hand-derived custom VJP
equals jax.grad of the reference formula (float64, rtol 1e-6), and passes the
notes' finite-difference check: ||g - g_num|| / (||g|| + ||g_num||) < 1e-7
(note 004, "Gradient checking"). One jitted program per loss computes both.
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
    fd = []
    for i in fd_diff:
      k = diff.index(i)
      def f_k(xk, k=k):
        a = list(xs)
        a[k] = xk
        return obj(case.fn)(*a)[0]
      fd.append((i, g[k], _numeric_grad(f_k, xs[k])))
    return (ours, ref), g, g_ref, fd
  return run


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_custom_vjp_matches_reference_and_finite_differences(case):
  args = [jnp.asarray(a) for a in lc.args_for(case, lead=(2,))]
  out_shape = jax.eval_shape(lambda *a: case.fn(*a, **case.kw), *args).shape
  cot = jnp.asarray(lc.rng_for(case.name, 1).uniform(0.5, 1.5, out_shape))
  (ours, ref), g, g_ref, fd = _program(case, out_shape)(args, cot)
  # values: the custom-VJP function and the plain formula agree
  assert ours.dtype == jnp.float64
  np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
  # item 1: custom VJP == jax.grad(reference)
  for i, a, b in zip(case.diff, g, g_ref):
    assert a.shape == args[i].shape
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12,
                               err_msg=f"{case.name}: d/d arg {i}")
  # item 2: finite differences, the notes' relative-error criterion
  for i, g_an, g_num in fd:
    den = float(jnp.linalg.norm(g_an) + jnp.linalg.norm(g_num))
    rel = float(jnp.linalg.norm(g_an - g_num)) / den if den else 0.0
    assert rel < 1e-7, f"{case.name}: d/d arg {i}: relative error {rel:.2e}"
