"""Cases of the generic loss tests for the divergences group (see _loss_cases.py):
the Poly-1 cross-entropy and the generalized KL divergence (optax parity).

``unit_target=1``: the edge-case test rounds the targets, which gives one-hot
rows (or all-zero rows) for the poly loss and a measure of exact 0s and 1s for
the generalized KL; both have the ``0 log 0 = 0`` convention, and their
Hessians must stay finite there. The generalized KL's first argument is
``log q`` of an unnormalized measure, not logits: at +-1e4 ``q = e^1e4``
overflows, so it has no +-1e4 test (``logits=False``).
"""
from _loss_cases import Case, F, _n, _softmax, _u  # noqa: F401

CASES: list = [
    Case("poly_loss_cross_entropy",
         lambda r, l: [_n(r, l + F, 2.0), _softmax(_n(r, l + F))],
         logits=True, unit_target=1),
    # the detection/segmentation setting of the paper: epsilon = -1
    Case("poly_loss_cross_entropy[eps=-1]",
         lambda r, l: [_n(r, l + F, 2.0), _softmax(_n(r, l + F))],
         kw={"epsilon": -1.0}, fn_name="poly_loss_cross_entropy",
         logits=True, unit_target=1),
    # unnormalized measures in (0.05, 1.45): rounding gives exact 0s and 1s
    Case("generalized_kl_divergence",
         lambda r, l: [_n(r, l + F), _u(r, l + F, 0.05, 1.45)],
         unit_target=1),
]
