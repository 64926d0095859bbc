"""Cases of the generic loss tests for the sparsemax group (see _loss_cases.py).

Sparsemax is piecewise linear: its Jacobian changes where a logit crosses the
threshold tau, and the binary loss has kinks at z = +-1. Finite differences
and the second-derivative comparisons are only valid away from those, so the
multiclass logits are well-separated levels (support of 3 classes, every
|z_j - tau| >= 0.13) with small noise, permuted and shifted per example.
"""
import numpy as np

from _loss_cases import C, Case, F, _n, _u  # noqa: F401

# sorted decreasingly: tau = (0.9 + 0.7 + 0.5 - 1) / 3 = 0.367, so
# p = (0.533, 0.333, 0.133, 0, 0); gaps to tau: 0.53, 0.33, 0.13, -0.87, -1.87
_LEVELS = np.array([0.9, 0.7, 0.5, -0.5, -1.5])


def _separated(r, lead):
  """Separated levels + noise 0.02, in a random order, plus a random offset
  (sparsemax is invariant to it)."""
  z = np.broadcast_to(_LEVELS, lead + F) + _n(r, lead + F, 0.02)
  z = np.take_along_axis(z, np.argsort(r.uniform(size=lead + F), -1), -1)
  return z + _n(r, lead + (1,), 3.0)


CASES: list = [
    Case("sparsemax_loss",
         lambda r, l: [_n(r, l + F, 2.0), _u(r, l + F, 0.0, 1.0)],
         logits=True, unit_target=1),
    Case("sparsemax_loss[0/1 labels]",
         lambda r, l: [_n(r, l + F, 2.0),
                       r.integers(0, 2, l + F).astype(float)],
         fn_name="sparsemax_loss", logits=True, unit_target=1,
         fd_diff=(0,)),  # t -+ 1e-6 leaves [0, 1]: NaN by design
    Case("multiclass_sparsemax_loss",
         lambda r, l: [_separated(r, l), r.integers(0, C, l)], diff=(0,),
         logits=True),
    # random normal logits: supports of every size (1 to 5 classes); the fixed
    # seed keeps them away from support changes
    Case("multiclass_sparsemax_loss[normal]",
         lambda r, l: [_n(r, l + F, 1.0), r.integers(0, C, l)], diff=(0,),
         fn_name="multiclass_sparsemax_loss", logits=True),
]
