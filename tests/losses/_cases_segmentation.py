"""Cases of the generic loss tests for the segmentation group (see _loss_cases.py):
the dice options of optax parity and generalized_dice."""
import dataclasses

import numpy as np

from _loss_cases import Case, _dense, _n, _u, _softmax  # noqa: F401

_IMG = (4, 4, 3)
_CW = np.array([0.5, 1.0, 2.0])


def _renamed(case, name):
  return dataclasses.replace(case, name=name)


def _probs(name, mode, **extra):
  """Inputs given as probabilities (from_logits=False): no +-1e4 variant."""
  if mode == "multiclass":
    make = lambda r, l: [_softmax(_n(r, l + _IMG, 2.0)),  # noqa: E731
                         np.eye(3)[r.integers(0, 3, l + _IMG[:-1])]]
  else:
    make = lambda r, l: [_u(r, l + _IMG), _u(r, l + _IMG, 0.0, 1.0)]  # noqa: E731
  return Case(f"{name}[{mode},probs]", make,
              kw={"mode": mode, "from_logits": False, **extra}, fn_name=name,
              unit_target=1)


CASES: list = [
    # the dice options go through the shared ratio core: weights after the
    # softmax with class 0 dropped; per-class output; probabilities
    _renamed(_dense("dice", "multiclass", class_weights=_CW,
                    ignore_background=True),
             "dice[multiclass,class_weights,ignore_background]"),
    _renamed(_dense("dice", "multilabel", class_weights=_CW,
                    reduce_classes=False),
             "dice[multilabel,class_weights,unreduced]"),
    _renamed(_dense("jaccard", "multilabel", ignore_background=True,
                    reduce_classes=False),
             "jaccard[multilabel,ignore_background,unreduced]"),
    _probs("dice", "multiclass"),
    _probs("tversky", "multilabel", alpha=0.3, beta=0.7, class_weights=_CW),
    # generalized dice: weights from the targets (derivatives through them)
    _dense("generalized_dice", "multiclass"),
    _dense("generalized_dice", "multilabel", smooth=0.5),
    _renamed(_dense("generalized_dice", "multiclass", ignore_background=True),
             "generalized_dice[multiclass,ignore_background]"),
    _probs("generalized_dice", "multiclass"),
]
