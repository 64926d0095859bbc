"""The table of losses every generic test is parametrized over.

Each case knows how to make random float64 inputs at interior points (away
from kinks and saturation) with arbitrary leading batch dimensions, which
positional arguments are differentiable, and the hyperparameters shared by the
public function and its ``losses.reference`` formula.
"""
from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import sys
import zlib
from typing import Callable

import jax
import numpy as np
import pytest

_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
  sys.path.insert(0, _ROOT)

import losses  # pylint: disable=g-import-not-at-top,wrong-import-position
from losses import reference  # pylint: disable=g-import-not-at-top,wrong-import-position
from tests.conftest import FAST_COMPILE_XLA_FLAGS  # pylint: disable=g-import-not-at-top,wrong-import-position


@contextlib.contextmanager
def x64():
  """float64 for one test, restoring the previous setting afterwards."""
  with jax.enable_x64(True):
    yield


@pytest.fixture
def enable_x64():
  with x64():
    yield


# Test programs are small and run once: compile them cheaply, with the suite's
# fast-compile flags (tests/conftest.py: the fusion emitters off halve the compile
# time of these small programs, where the jaxlib still has that switch), scoped to
# each jax.jit call.
def _compile_option(flag: str) -> tuple[str, bool | int]:
  name, value = flag.removeprefix("--").split("=")
  return name, {"true": True, "false": False}[value] if value in ("true", "false") else int(value)


FAST_COMPILE = dict(_compile_option(flag) for flag in FAST_COMPILE_XLA_FLAGS)


def jit(fn):
  return jax.jit(fn, compiler_options=FAST_COMPILE)


def rng_for(name: str, salt: int = 0):
  return np.random.default_rng(zlib.crc32(name.encode()) + salt)


@dataclasses.dataclass
class Case:
  name: str
  make: Callable  # (rng, lead) -> list of positional args
  diff: tuple = (0, 1)          # differentiable positional args
  fd_diff: tuple | None = None  # args for the finite-difference check
  kw: dict = dataclasses.field(default_factory=dict)
  fn_name: str | None = None    # public name if different from `name`
  logits: bool = False          # arg 0 are logits: test +-1e4
  unit_target: int | None = None  # index of an arg that may be exactly 0/1
  where_items: int | None = None  # `where` masks items: shape of this arg

  @property
  def fn(self):
    return getattr(losses, self.fn_name or self.name)

  @property
  def ref(self):
    return getattr(reference, self.fn_name or self.name)

  def __str__(self):
    return self.name


def _n(rng, shape, scale=1.0):
  return rng.normal(size=shape) * scale


def _u(rng, shape, lo=0.05, hi=0.95):
  return rng.uniform(lo, hi, size=shape)


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _pair(shape_fn):
  return lambda rng, lead: [_n(rng, lead + shape_fn), _n(rng, lead + shape_fn)]


C = 5
F = (C,)

CASES = [
    Case("squared_error", _pair(F)),
    Case("absolute_error", _pair(F)),
    Case("euclidean_error", _pair(F)),
    Case("huber", _pair(F), kw={"delta": 0.7}),
    Case("smooth_l1", _pair(F), kw={"beta": 0.5}),
    Case("log_cosh", lambda r, l: [_n(r, l + F, 3.0), _n(r, l + F, 3.0)]),
    Case("sigmoid_binary_cross_entropy",
         lambda r, l: [_n(r, l + F, 2.0), _u(r, l + F, 0.0, 1.0)],
         logits=True, unit_target=1),
    Case("sigmoid_binary_cross_entropy[pw,ls]",
         lambda r, l: [_n(r, l + F, 2.0), _u(r, l + F, 0.0, 1.0)],
         kw={"pos_weight": 2.5, "label_smoothing": 0.1},
         fn_name="sigmoid_binary_cross_entropy", logits=True, unit_target=1),
    Case("binary_cross_entropy",
         lambda r, l: [_u(r, l + F), _u(r, l + F, 0.0, 1.0)], unit_target=1),
    Case("sigmoid_squared_error",
         lambda r, l: [_n(r, l + F, 2.0), _u(r, l + F, 0.0, 1.0)],
         logits=True, unit_target=1),
    Case("softmax_cross_entropy",
         lambda r, l: [_n(r, l + F, 2.0), _softmax(_n(r, l + F))],
         logits=True),
    Case("softmax_cross_entropy_with_integer_labels",
         lambda r, l: [_n(r, l + F, 2.0), r.integers(0, C, l)], diff=(0,),
         logits=True),
    Case("softmax_cross_entropy_with_integer_labels[ls]",
         lambda r, l: [_n(r, l + F, 2.0), r.integers(0, C, l)], diff=(0,),
         kw={"label_smoothing": 0.2},
         fn_name="softmax_cross_entropy_with_integer_labels", logits=True),
    Case("nll", lambda r, l: [_softmax(_n(r, l + F)), r.integers(0, C, l)],
         diff=(0,)),
    Case("softmax_binary_cross_entropy",
         lambda r, l: [_n(r, l + F, 2.0), r.integers(0, C, l)], diff=(0,),
         logits=True),
    Case("kl_divergence",
         lambda r, l: [_n(r, l + F, 2.0), _softmax(_n(r, l + F))],
         logits=True),
    Case("binary_hinge",
         lambda r, l: [_n(r, l + F, 2.0), r.choice([-1.0, 1.0], l + F)],
         kw={"margin": 0.8}, logits=True),
    Case("multiclass_hinge",
         lambda r, l: [_n(r, l + F, 2.0), r.integers(0, C, l)], diff=(0,),
         logits=True),
    Case("multiclass_hinge[squared]",
         lambda r, l: [_n(r, l + F, 2.0), r.integers(0, C, l)], diff=(0,),
         kw={"squared": True, "margin": 0.5}, fn_name="multiclass_hinge",
         logits=True),
    Case("crammer_singer_hinge",
         lambda r, l: [_n(r, l + F, 2.0), r.integers(0, C, l)], diff=(0,),
         logits=True),
    Case("single_object_detection",
         lambda r, l: [_n(r, l + (5,)), np.concatenate(
             [r.integers(0, 2, l + (1,)).astype(float), _u(r, l + (2,)),
              _u(r, l + (2,), 0.3, 3.0)], -1)],
         kw={"component_weights": np.array([1.0, 2.0, 2.0, 5.0, 5.0])},
         fd_diff=(0,), logits=True),  # I != 0 switches the box on: a jump
    Case("single_object_detection[present]",
         lambda r, l: [_n(r, l + (5,)), np.concatenate(
             [np.ones(l + (1,)), _u(r, l + (2,)), _u(r, l + (2,), 0.3, 3.0)],
             -1)], fn_name="single_object_detection", logits=True),
    Case("pairwise_margin_ranking", _pair(F), kw={"margin": 0.5},
         logits=True),
    Case("pairwise_logistic", _pair(F), logits=True),
    Case("listwise_pairs",
         lambda r, l: [_n(r, l + (6,)), r.integers(0, 3, l + (6,))],
         diff=(0,), kw={"margin": 0.5}, where_items=0),
    Case("listwise_pairs[logistic]",
         lambda r, l: [_n(r, l + (6,)), r.integers(0, 3, l + (6,))],
         diff=(0,), kw={"pair_loss": "logistic"}, fn_name="listwise_pairs",
         where_items=0, logits=True),
    Case("triplet_margin",
         lambda r, l: [_n(r, l + F), _n(r, l + F), _n(r, l + F)],
         diff=(0, 1, 2), kw={"margin": 1.5}),
    Case("triplet_margin[p1]",
         lambda r, l: [_n(r, l + F), _n(r, l + F), _n(r, l + F)],
         diff=(0, 1, 2), kw={"p": 1, "margin": 2.0}, fn_name="triplet_margin"),
    Case("triplet_margin[p3]",
         lambda r, l: [_n(r, l + F), _n(r, l + F), _n(r, l + F)],
         diff=(0, 1, 2), kw={"p": 3, "margin": 1.5},
         fn_name="triplet_margin"),
    Case("triplet_margin[squared]",
         lambda r, l: [_n(r, l + F), _n(r, l + F), _n(r, l + F)],
         diff=(0, 1, 2), kw={"squared": True, "margin": 2.0},
         fn_name="triplet_margin"),
    Case("batch_hard_triplet",
         lambda r, l: [_n(r, l + (6, 3)),
                       np.broadcast_to(r.permutation([0, 0, 1, 1, 2, 2]),
                                       l + (6,)).copy()],
         diff=(0,), kw={"margin": 2.0}, where_items=1),
    Case("batch_hard_triplet[squared]",
         lambda r, l: [_n(r, l + (6, 3)),
                       np.broadcast_to(r.permutation([0, 0, 1, 1, 2, 2]),
                                       l + (6,)).copy()],
         diff=(0,), kw={"margin": 3.0, "squared": True},
         fn_name="batch_hard_triplet", where_items=1),
    Case("contrastive",
         lambda r, l: [_n(r, l + F, 0.4), _n(r, l + F, 0.4),
                       r.integers(0, 2, l).astype(float)],
         diff=(0, 1, 2), kw={"margin": 1.5}),
]

_IMG = (4, 4, 3)


def _dense(name, mode, **extra):
  if mode == "multiclass":
    make = lambda r, l: [_n(r, l + _IMG, 2.0),  # noqa: E731
                         np.eye(3)[r.integers(0, 3, l + _IMG[:-1])]]
  elif mode == "multilabel":
    make = lambda r, l: [_n(r, l + _IMG, 2.0),  # noqa: E731
                         _u(r, l + _IMG, 0.0, 1.0)]
  else:
    make = lambda r, l: [_n(r, l + (5, 3), 2.0),  # noqa: E731
                         r.integers(0, 2, l + (5, 3)).astype(float)]
  return Case(f"{name}[{mode}]", make, kw={"mode": mode, **extra},
              fn_name=name, logits=True, unit_target=1)


# every mode through dice and dice_cross_entropy (the two code paths of the
# shared ratio core and of the CE term); jaccard and tversky differ from dice
# only in the ratio's coefficients, so one mode each.
CASES += [_dense("dice", m) for m in ("multiclass", "multilabel", "binary")]
CASES += [_dense("dice_cross_entropy", m, smooth=0.5)
          for m in ("multiclass", "multilabel", "binary")]
CASES += [_dense("jaccard", "binary"),
          _dense("tversky", "multilabel", alpha=0.3, beta=0.7)]

CASES += [
    Case("sigmoid_focal",
         lambda r, l: [_n(r, l + F, 2.0), _u(r, l + F, 0.0, 1.0)],
         kw={"gamma": 2.0, "alpha": 0.25}, logits=True, unit_target=1),
    Case("sigmoid_focal[no alpha, gamma 1.5]",
         lambda r, l: [_n(r, l + F, 2.0), r.integers(0, 2, l + F) * 1.0],
         kw={"gamma": 1.5, "alpha": None}, fn_name="sigmoid_focal",
         logits=True, unit_target=1),
    Case("softmax_focal",
         lambda r, l: [_n(r, l + F, 2.0), _softmax(_n(r, l + F))],
         kw={"gamma": 2.0}, logits=True, unit_target=1),
    Case("softmax_focal[alpha vector]",
         lambda r, l: [_n(r, l + F, 2.0), np.eye(C)[r.integers(0, C, l)]],
         kw={"gamma": 1.0, "alpha": np.linspace(0.2, 1.0, C)},
         fn_name="softmax_focal", logits=True, unit_target=1),
    Case("ctc",
         lambda r, l: [_n(r, l + (8, C)), np.where(
             np.arange(3) < r.integers(1, 4, l + (1,)),
             r.integers(1, C, l + (3,)), -1)],
         diff=(0,), logits=True),
    Case("negative_sampling",
         lambda r, l: [_n(r, l + (4,), 0.7), _n(r, l + (4,), 0.7),
                       _n(r, l + (3, 4), 0.7)], diff=(0, 1, 2)),
    Case("glove",
         lambda r, l: [_n(r, l + (4,), 0.5), _n(r, l + (4,), 0.5),
                       _n(r, l, 0.5), _n(r, l, 0.5), _u(r, l, 0.5, 300.0)],
         diff=(0, 1, 2, 3), kw={"x_max": 100.0, "alpha": 0.75}),
    Case("gan_discriminator", _pair(F), logits=True),
    Case("gan_generator_nonsaturating", lambda r, l: [_n(r, l + F, 2.0)],
         diff=(0,), logits=True),
    Case("gan_generator_minimax", lambda r, l: [_n(r, l + F, 2.0)],
         diff=(0,), logits=True),
]

# the losses of optax's catalogue added in issue 16 and the YOLO loss, one
# file per group (each imports Case and the input makers above from this
# module)
import _cases_detection  # noqa: E402  pylint: disable=wrong-import-position
import _cases_divergences  # noqa: E402  pylint: disable=wrong-import-position
import _cases_sparsemax  # noqa: E402  pylint: disable=wrong-import-position
import _cases_segmentation  # noqa: E402  pylint: disable=wrong-import-position
import _cases_similarity  # noqa: E402  pylint: disable=wrong-import-position

CASES += (_cases_divergences.CASES + _cases_similarity.CASES
          + _cases_sparsemax.CASES + _cases_segmentation.CASES
          + _cases_detection.CASES)

CASE_IDS = [c.name for c in CASES]

# one case per public loss (the first in the table): the tests of properties
# that do not depend on hyperparameter settings run on these only
_seen = set()
PRIMARY = []
for _c in CASES:
  if (_c.fn_name or _c.name) not in _seen:
    _seen.add(_c.fn_name or _c.name)
    PRIMARY.append(_c)
PRIMARY_IDS = [c.name for c in PRIMARY]


def by_name(name):
  return next(c for c in CASES if c.name == name)


def args_for(case, lead=(3,), salt=0):
  return case.make(rng_for(case.name, salt), tuple(lead))


def call(case, args, **extra):
  return case.fn(*args, **case.kw, **extra)


def objective(fn, args, diff, cot, kw):
  """Scalar sum(cot * loss) as a function of the differentiable args."""
  def f(*diff_args):
    full = list(args)
    for i, a in zip(diff, diff_args):
      full[i] = a
    return (fn(*full, **kw) * cot).sum()
  return f
