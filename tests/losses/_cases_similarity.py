"""Cases of the generic loss tests for the similarity group (see _loss_cases.py).

``cosine_similarity`` has no case of its own: it is a similarity, not in
``losses.LOSSES`` (which the forward-mode test requires the primary cases to
match), and it shares ``cosine_distance``'s core and rule.
"""
import numpy as np

from _loss_cases import Case, F, _n


def _clamp_mix(r, lead):
  """Small vectors: some squared norms fall below epsilon = 0.3 (clamped),
  some above; none within 0.02 of it (the clamp's kink)."""
  x = _n(r, lead + F, 0.3)
  s = np.sum(x * x, -1, keepdims=True)
  near = np.abs(s - 0.3) < 0.02
  return np.where(near, x * 1.2, x)


def _ntxent_make(groups, dim=3):
  return lambda r, l: [_n(r, l + (len(groups), dim)),
                       np.broadcast_to(r.permutation(groups),
                                       l + (len(groups),)).copy()]


CASES: list = [
    Case("cosine_distance", lambda r, l: [_n(r, l + F), _n(r, l + F)]),
    Case("cosine_distance[epsilon]",
         lambda r, l: [_clamp_mix(r, l), _clamp_mix(r, l)],
         kw={"epsilon": 0.3}, fn_name="cosine_distance"),
    # two views per item (SimCLR's layout): A / N = 1
    Case("ntxent", _ntxent_make([0, 0, 1, 1, 2, 2]), diff=(0,),
         kw={"temperature": 0.5}, where_items=1),
    # unequal groups and an anchor without a positive (A / N = 5 / 8), at
    # optax's default temperature
    Case("ntxent[groups]", _ntxent_make([0, 0, 0, 1, 1, 2]), diff=(0,),
         fn_name="ntxent", where_items=1),
]
