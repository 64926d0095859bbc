"""Item 3 for every loss (one hyperparameter setting each; the others share
the code paths): ``vmap`` works, arbitrary leading batch dimensions give the
same values as the flattened batch, and (one loss per source module) jit
equals non-jit (``jax.disable_jit``)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import _loss_cases as lc
from _loss_cases import PRIMARY, PRIMARY_IDS


EAGER = list({case.fn.__module__: case for case in reversed(PRIMARY)}.values())


def _value_and_grads(case, args):
  out = lc.call(case, args)
  cot = jnp.linspace(0.5, 1.5, out.size).reshape(out.shape)
  f = lc.objective(case.fn, args, case.diff, cot, case.kw)
  xs = [args[i] for i in case.diff]
  return out, jax.grad(f, tuple(range(len(xs))))(*xs)


@pytest.mark.parametrize("case", PRIMARY, ids=PRIMARY_IDS)
def test_jit_vmap_and_leading_dims(case):
  args = [jnp.asarray(a) for a in lc.args_for(case, lead=(2, 3))]
  flat = [a.reshape((6,) + a.shape[2:]) for a in args]

  @lc.jit
  def program(args, flat):
    v, g = _value_and_grads(case, flat)
    v_lead = lc.call(case, args)
    v_vmap = jax.vmap(lambda *a: lc.call(case, a))(*args)
    return v, g, v_lead, v_vmap

  v, g, v_lead, v_vmap = program(args, flat)
  # jit == non-jit: disable_jit runs the loss op by op. It compiles every
  # primitive on its own (seconds per loss), and what it checks, XLA's fused
  # numerics against op-by-op ones, is a property of a module's kind of code,
  # so one loss per source module
  if case in EAGER:
    with jax.disable_jit():
      v_eager = lc.call(case, flat)
    np.testing.assert_allclose(v, v_eager, rtol=2e-5, atol=1e-5)
  assert all(np.all(np.isfinite(x)) for x in g)
  # leading dims (2, 3) == flattened (6,)
  assert v_lead.shape[:2] == (2, 3)
  np.testing.assert_allclose(v_lead.reshape(v.shape), v, rtol=1e-6, atol=1e-6)
  # vmap over the first leading axis == the batched call
  np.testing.assert_allclose(v_vmap, v_lead, rtol=1e-6, atol=1e-6)
