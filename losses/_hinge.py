"""Hinge (SVM) losses (note 001 "Hinge Loss" + "Analytic Gradient: Hinge
Loss", note 002 "multiclass SVM" worked example and sanity questions).

Integer labels: negative -> ignored (loss 0, gradient 0); >= C ->
ValueError when concrete, NaN under jit.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from losses import _common as C

_NAN = float("nan")


# --- binary hinge -----------------------------------------------------------------
@jax.custom_vjp
def _bhinge(s, y, margin):
  return C.relu(margin - y * s)


def _bhinge_fwd(s, y, margin):
  # residuals are the inputs: recomputing the indicator in the backward pass
  # is cheaper than writing and re-reading a mask array
  return C.relu(margin - y * s), (s, y, margin)


def _bhinge_bwd(res, g):
  s, y, margin = res
  ga = jnp.where(margin - y * s > 0, -g, 0.0)
  return ga * y, ga * s, None      # note 001: dL/ds = -y if 1 - y s > 0


_bhinge.defvjp(_bhinge_fwd, _bhinge_bwd)


@jax.jit
def binary_hinge(scores, labels_pm1, *, where=None, weights=None, margin=1.0):
  """Binary SVM loss (note 001): ``max(0, margin - y s)`` with y in {-1, +1},
  elementwise. Gradient: ``-y`` where the hinge is active, else 0.
  Same as ``optax.hinge_loss`` for margin 1.
  """
  return C.elementwise("binary_hinge", _bhinge, scores, labels_pm1, where,
                       weights, hypers=(margin,),
                       names=("scores", "labels_pm1"))


def _pick(s, lab):
  return jnp.take_along_axis(s, lab[..., None], axis=-1)


def _finish_labels(v, ignore, bad):
  return jnp.where(bad, _NAN, jnp.where(ignore, 0.0, v))


def _coef(g, ignore, bad):
  return jnp.where(bad, _NAN, jnp.where(ignore, 0.0, g))[..., None]


# --- Weston-Watkins multiclass hinge ------------------------------------------------
@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _mhinge(s, labels, margin, squared):
  return _mhinge_fwd(s, labels, margin, squared)[0]


def _mhinge_fwd(s, labels, margin, squared):
  lab, ignore, bad = C.label_status(labels, s.shape[-1])
  onehot = C.one_hot_like(s, lab)
  m = s - _pick(s, lab) + margin
  h = jnp.where(onehot > 0, 0.0, C.relu(m))
  v = jnp.sum(h * h if squared else h, axis=-1)
  return _finish_labels(v, ignore, bad), (h, onehot, ignore, bad)


def _mhinge_bwd(squared, res, g):
  h, onehot, ignore, bad = res
  # note 001: dL/ds_j = 1[s_j - s_y + 1 > 0] (j != y), dL/ds_y = -sum of those.
  c = 2.0 * h if squared else (h > 0).astype(h.dtype)
  gs = c - onehot * jnp.sum(c, axis=-1, keepdims=True)
  return _coef(g, ignore, bad) * gs, None, None


_mhinge.defvjp(_mhinge_fwd, _mhinge_bwd)


@functools.partial(jax.jit, static_argnames=("axis", "squared"))
def _mhinge_jit(scores, labels, where, weights, axis, margin, squared):
  s, lab, mask, odt = C.label_setup("multiclass_hinge", scores, labels, axis,
                                    where, weights, ("scores", "labels"))
  v = _mhinge(s, lab, C.hyper(margin, s.dtype), squared)
  return C.finish(v, mask, weights, odt)


def multiclass_hinge(scores, labels, *, where=None, weights=None, axis=-1,
                     margin=1.0, squared=False):
  """Weston-Watkins multiclass SVM loss (notes 001, 002):
  ``sum_{j != y} max(0, s_j - s_y + margin)`` (squared hinge if ``squared``).

  Worked example (note 002, columns cat/car/frog): 2.9, 0, 12.9, mean 5.27.
  Sanity (note 002): all scores ~0 gives C - 1.
  Gradient (note 001): ``1[s_j - s_y + margin > 0]`` for j != y and minus
  their count for y (squared: ``2 h_j`` and ``-sum 2 h_j``).
  Differs from ``optax.multiclass_hinge_loss`` (Crammer-Singer, see
  ``crammer_singer_hinge``) and from torch's ``multi_margin_loss``, which
  divides this sum by C.
  """
  C.eager_label_check("multiclass_hinge", scores, labels, axis,
                      ("scores", "labels"))
  return _mhinge_jit(scores, labels, where, weights, axis, margin, squared)


# --- Crammer-Singer -------------------------------------------------------------
@jax.custom_vjp
def _cs(s, labels, margin):
  return _cs_fwd(s, labels, margin)[0]


def _cs_fwd(s, labels, margin):
  lab, ignore, bad = C.label_status(labels, s.shape[-1])
  onehot = C.one_hot_like(s, lab)
  # max_j (s_j + margin [j != y]) - s_y = max(0, margin + max_{j!=y} s_j - s_y)
  a = s + margin * (1.0 - onehot)
  m = jnp.max(a, axis=-1)
  v = m - _pick(s, lab)[..., 0]
  return _finish_labels(v, ignore, bad), (s, lab, margin, m, ignore, bad)


def _cs_bwd(res, g):
  s, lab, margin, m, ignore, bad = res
  onehot = C.one_hot_like(s, lab)
  top = (s + margin * (1.0 - onehot) == m[..., None]).astype(s.dtype)
  top = top / jnp.sum(top, axis=-1, keepdims=True)   # ties share, like max
  return _coef(g, ignore, bad) * (top - onehot), None, None


_cs.defvjp(_cs_fwd, _cs_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def _cs_jit(scores, labels, where, weights, axis, margin):
  s, lab, mask, odt = C.label_setup("crammer_singer_hinge", scores, labels,
                                    axis, where, weights, ("scores", "labels"))
  return C.finish(_cs(s, lab, C.hyper(margin, s.dtype)), mask, weights, odt)


def crammer_singer_hinge(scores, labels, *, where=None, weights=None, axis=-1,
                         margin=1.0):
  """Crammer-Singer multiclass hinge: ``max(0, margin + max_{j != y} s_j -
  s_y)`` — only the most-violating class counts (Weston-Watkins sums all).

  Gradient: +1 at the highest wrong class, -1 at y, when active (ties share
  the +1, as for ``jnp.max``).
  Equals ``optax.multiclass_hinge_loss`` for margin 1.
  """
  C.eager_label_check("crammer_singer_hinge", scores, labels, axis,
                      ("scores", "labels"))
  return _cs_jit(scores, labels, where, weights, axis, margin)
