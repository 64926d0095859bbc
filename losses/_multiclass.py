"""Multiclass losses over a class axis (notes 000 "Adversarial Multiclass",
001 "Log likelihood / Cross-entropy loss / Softmax", 002 "Softmax classifier",
003 "Loss Function for Softmax: Cross Entropy").

Each returns the per-example loss: the input shape without ``axis``.
Integer labels: negative means "ignore" (loss 0, gradient 0; pass
``where=labels >= 0`` to ``losses.reduce`` to also drop them from a mean).
A label >= the number of classes raises ValueError when the labels are
concrete, and yields NaN (value and gradient) under ``jax.jit``.

Each core states its hand-derived partial derivatives as a ``jax.custom_jvp``
rule. The rules return the value by calling the core itself, so the
derivative of the value is the hand-derived one at every order; the partials
are plain jnp code, written to stay finite when JAX differentiates them again.
Hyperparameters enter through ``C.hyper`` (stop_gradient) and labels are
integers, so their tangents are always symbolic zeros and get no term.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C
from losses._common import Axis

_NAN = float("nan")


def _lse(z):
  m = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
  m = jnp.where(jnp.isfinite(m), m, 0.0)
  return jnp.log(jnp.sum(jnp.exp(z - m), axis=-1)) + m[..., 0]


def _ignore_bad(v, ignore, bad):
  return jnp.where(bad, _NAN, jnp.where(ignore, 0.0, v))


def _mask_rows(gz, ignore, bad):
  """A per-class partial: NaN for a bad label's row, 0 for an ignored one."""
  return jnp.where(bad[..., None], _NAN, jnp.where(ignore[..., None], jnp.zeros((), gz.dtype), gz))


def _shift(z):
  """The row max, to subtract before exp. Log-sum-exp and softmax are exactly
  invariant to the shift (derivative 0 at every order), so it is held
  constant: the higher derivatives carry no max-tie terms."""
  m = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
  return jnp.where(jnp.isfinite(m), m, 0.0)


def _softmax_parts(z):
  """(z - m, exp(z - m), sum exp(z - m)) with the sum kept as an axis."""
  zs = z - _shift(z)
  e = jnp.exp(zs)
  return zs, e, jnp.sum(e, axis=-1, keepdims=True)


def _logit_tangent(e, s, t, tz):
  """sum_c (p_c sum(t) - t_c) tz_c: the directional derivative in the logits of
  the softmax cross-entropy (notes 000/003: p - t for a distribution t), and of
  the KL divergence, which differs from it by t's entropy, constant in z.
  `e`, `s` from `_softmax_parts`."""
  st = jnp.sum(t, axis=-1, keepdims=True)
  return jnp.sum((e * (st / s) - t) * tz, axis=-1)


def _exp_shifted(z):
  """(z - m, exp(z - m), sum exp(z - m)) with m = max z: log-sum-exp is
  ``log(sum) + m``."""
  zs, e, s = _softmax_parts(z)
  return zs, e, s[..., 0]


def _lse_excluding_each(x):
  """``C.logsumexp_excluding_each`` (same algorithm) with every log guarded by
  a double ``where``, so that differentiating it again stays finite: an
  unselected log(0) would otherwise put 0 * inf = NaN into reverse mode."""
  m = _shift(x)
  e = jnp.exp(x - m)
  total = jnp.sum(e, axis=-1, keepdims=True)
  idx = jax.lax.broadcasted_iota(jnp.int32, x.shape, x.ndim - 1)
  is_top = idx == jnp.argmax(x, axis=-1, keepdims=True)
  others = jnp.where(is_top, -jnp.inf, x)
  m2 = _shift(others)
  rs = jnp.sum(jnp.exp(others - m2), axis=-1, keepdims=True)
  rest = jnp.where(rs > 0, jnp.log(jnp.where(rs > 0, rs, 1.0)) + m2, -jnp.inf)
  # for k not the argmax, total - e_k still holds e_top = 1
  excl = jnp.log(jnp.where(is_top, 1.0, total - e)) + m
  return jnp.where(is_top, rest, excl)


def _no_classes_is_zero(core, z, t):
  """A distribution over zero classes (e.g. ``z[mask]`` with an all-False
  mask) has an empty sum for its loss: 0, as in optax, instead of a max over
  an empty axis."""
  if z.shape[-1] == 0:
    return jnp.zeros(z.shape[:-1], z.dtype) + 0.0 * jnp.sum(z + t, axis=-1)
  return core(z, t)


# --- softmax CE with soft targets ---------------------------------------------
@jax.custom_jvp
def _sce(z, t):
  # -sum t (z - lse) = sum(t) log(s) - sum t (z - m): differences of nearby
  # numbers only, so exact even for logits of 1e4
  zs, _, s = _exp_shifted(z)
  st = jnp.sum(t, axis=-1)
  tz = jnp.sum(jnp.where(t != 0, t * zs, 0.0), axis=-1)  # 0 * -inf = 0
  return st * jnp.log(s) - tz


def _sce_jvp(primals, tangents):
  z, t = primals
  tz, tt = tangents
  v = _sce(z, t)
  zs, e, s = _softmax_parts(z)
  terms = []
  if C.has_tangent(tz):
    terms.append(_logit_tangent(e, s, t, tz))
  if C.has_tangent(tt):
    # the true -log p_c for every class, t_c = 0 included (its derivatives in
    # z and t are needed at second order); -inf logits only make it +inf when
    # the targets are differentiated
    terms.append(jnp.sum((jnp.log(s) - zs) * tt, axis=-1))
  return v, C.tangent_sum(v, terms)


_sce.defjvp(_sce_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def softmax_cross_entropy(
  logits: ArrayLike,
  target_probs: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
) -> jax.Array:
  """Softmax + cross-entropy with a target distribution (note 000 ``CE``,
  003): ``-sum_c t_c log softmax(z)_c`` via log-sum-exp.

  Gradient (note 003), given as a custom JVP: ``softmax(z) - t`` (in general
  ``softmax(z) * sum(t) - t``); w.r.t. the targets ``-log softmax(z)``.
  Classes with ``t_c = 0`` may have logit -inf.
  """
  z, t, mask, odt = C.axis_setup(
    "softmax_cross_entropy", logits, target_probs, axis, where, weights, ("logits", "target_probs")
  )
  return C.finish(_no_classes_is_zero(_sce, z, t), mask, weights, odt)


# --- softmax CE with integer labels -------------------------------------------
@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _sce_int(z, labels, smoothing, smooth):
  lab, ignore, bad = C.label_status(labels, z.shape[-1])
  zs, _, s = _exp_shifted(z)
  lse0 = jnp.log(s)
  zy = jnp.take_along_axis(zs, lab[..., None], axis=-1)[..., 0]
  if smooth:
    v = lse0 - (1.0 - smoothing) * zy - smoothing * jnp.mean(zs, axis=-1)
  else:
    v = lse0 - zy
  return _ignore_bad(v, ignore, bad)


def _sce_int_jvp(smooth, primals, tangents):
  z, labels, smoothing = primals
  tz = tangents[0]
  v = _sce_int(z, labels, smoothing, smooth)
  if not C.has_tangent(tz):
    return v, jnp.zeros_like(v)
  lab, ignore, bad = C.label_status(labels, z.shape[-1])
  _, e, s = _softmax_parts(z)
  # an ignored row's logits may be garbage (padding, NaN): its partials are
  # exactly 0, at every order
  e = jnp.where(ignore[..., None], jnp.zeros((), e.dtype), e)
  # p . tz - tz_y, i.e. the partial p - onehot(y). The label's term is a gather
  # of B values, so reverse mode transposes it into a scatter of B values on
  # top of p * ct (as optax's autodiff does) instead of a one-hot compare and
  # selects over all B x C entries; bad/ignored rows are one per-row scale.
  t_y = jnp.take_along_axis(tz, lab[..., None], axis=-1, mode="promise_in_bounds")[..., 0]
  tv = jnp.sum(e * tz, axis=-1) / jnp.where(ignore, 1.0, s[..., 0])
  if smooth:
    # p - smoothed target: (1 - a) onehot + a / C (`losses.smooth_labels`)
    tv = tv - (1.0 - smoothing) * t_y - smoothing * jnp.mean(tz, axis=-1)
  else:
    tv = tv - t_y
  row_scale = jnp.where(bad, _NAN, jnp.where(ignore, 0.0, 1.0)).astype(tv.dtype)
  return v, tv * row_scale


_sce_int.defjvp(_sce_int_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis", "smooth"))
def _sce_int_jit(logits, labels, where, weights, axis, label_smoothing, smooth):
  z, lab, mask, odt = C.label_setup(
    "softmax_cross_entropy_with_integer_labels", logits, labels, axis, where, weights
  )
  ls = C.hyper(label_smoothing, z.dtype)
  return C.finish(_sce_int(z, lab, ls, smooth), mask, weights, odt)


def softmax_cross_entropy_with_integer_labels(
  logits: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  label_smoothing: ArrayLike = 0.0,
) -> jax.Array:
  """Softmax classifier loss (notes 001, 002): ``-log softmax(z)_y``
  = ``logsumexp(z) - z_y``.

  With label smoothing ``a`` (target ``(1 - a) onehot + a / C``) the loss is
  ``logsumexp(z) - (1 - a) z_y - a mean(z)``: no one-hot is built.
  Gradient (notes 001/003), given as a custom JVP: ``softmax(z) - onehot(y)``
  (smoothed: ``softmax(z) - (1 - a) onehot(y) - a / C``).
  Worked example (note 002): scores (3.2, 5.1, -1.7), y = cat -> 2.04; at
  equal scores the loss is ``ln C`` (e.g. ln 10 = 2.3).
  Labels: negative -> ignored; >= C -> ValueError (concrete) / NaN (jit).
  ``label_smoothing`` must be in [0, 1] (ValueError when concrete; unchecked
  under jit). Returns logits.shape without ``axis``.
  """
  fn = "softmax_cross_entropy_with_integer_labels"
  C.eager_label_check(fn, logits, labels, axis)
  # a fraction, as smooth_labels' alpha (the same formula)
  C.check_hyperparameter(label_smoothing, "label_smoothing", fn, "in [0, 1]")
  return _sce_int_jit(
    logits, labels, where, weights, axis, label_smoothing, not C.is_zero(label_smoothing)
  )


# --- NLL on probabilities -----------------------------------------------------
@jax.custom_jvp
def _nll(p, labels, eps):
  lab, ignore, bad = C.label_status(labels, p.shape[-1])
  py = jnp.maximum(jnp.take_along_axis(p, lab[..., None], axis=-1)[..., 0], eps)
  return _ignore_bad(-jnp.log(py), ignore, bad)


def _nll_jvp(primals, tangents):
  p, labels, eps = primals
  tp = tangents[0]
  v = _nll(p, labels, eps)
  if not C.has_tangent(tp):
    return v, jnp.zeros_like(v)
  lab, ignore, bad = C.label_status(labels, p.shape[-1])
  onehot = C.one_hot_like(p, lab)
  py = jnp.sum(p * onehot, axis=-1)
  # the floor is passed straight through at every order: the derivatives are
  # those of -log p_y evaluated at the floored p_y
  py = py + jax.lax.stop_gradient(jnp.maximum(py, eps) - py)
  gp = -onehot / py[..., None]  # note 001: -1/p_y at y
  return v, jnp.sum(_mask_rows(gp, ignore, bad) * tp, axis=-1)


_nll.defjvp(_nll_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def _nll_jit(probs, labels, where, weights, axis, eps):
  p, lab, mask, odt = C.label_setup("nll", probs, labels, axis, where, weights, ("probs", "labels"))
  return C.finish(_nll(p, lab, C.hyper(eps, p.dtype)), mask, weights, odt)


def nll(
  probs: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  eps: ArrayLike = 1e-7,
) -> jax.Array:
  """Log-likelihood loss on probabilities (note 001): ``-log p_y``.

  Note 001's example: class 2 of 10 with ``p_2 = 0.7`` gives ``-log 0.7``.
  Gradient (note 001), given as a custom JVP: ``dL/dp = -1/p_y`` at y, 0
  elsewhere. ``p_y`` is floored at ``eps`` (gradient evaluated at the floor,
  passed straight through it) so p_y = 0 stays finite.
  Labels: negative -> ignored; >= C -> ValueError (concrete) / NaN (jit).
  ``probs`` outside [0, 1] raise ValueError when concrete (masked examples
  are not inspected; unchecked under jit, where the floor would hide them).
  """
  fn = "nll"
  C.eager_label_check(fn, probs, labels, axis, ("probs", "labels"))
  axes = C.normalize_axes(axis, jnp.ndim(probs), fn)
  C.check_broadcast_to(where, jnp.shape(labels), "where", fn)
  C.check_unit_interval(
    C.kept_values(probs, where, axes),
    fn,
    "probs must be probabilities",
    "; pass logits to softmax_cross_entropy_with_integer_labels instead",
  )
  return _nll_jit(probs, labels, where, weights, axis, eps)


# --- softmax + per-class BCE (note 001's "cross-entropy loss") -----------------
@jax.custom_jvp
def _sbce_mc(z, labels):
  lab, ignore, bad = C.label_status(labels, z.shape[-1])
  lse = _lse(z)[..., None]
  lp = z - lse  # log p_j
  l1p = C.logsumexp_excluding_each(z) - lse  # log(1 - p_j), stable
  onehot = C.one_hot_like(z, lab)
  v = -jnp.sum(jnp.where(onehot > 0, lp, l1p), axis=-1)
  return _ignore_bad(v, ignore, bad)


def _sbce_mc_jvp(primals, tangents):
  z, labels = primals
  tz = tangents[0]
  v = _sbce_mc(z, labels)
  if not C.has_tangent(tz):
    return v, jnp.zeros_like(v)
  lab, ignore, bad = C.label_status(labels, z.shape[-1])
  lse = _lse(z)[..., None]
  lp = z - lse  # log p_j
  l1p = _lse_excluding_each(z) - lse  # log(1 - p_j), stable
  onehot = C.one_hot_like(z, lab)
  # d/dz_k = p_k (1 + [k != y]) - [k == y] - p_k sum_{j not in {y, k}} r_j,
  # r_j = p_j / (1 - p_j); the last term is exp(lp_k + LSE_{j != k} a_j) with
  # a_j = log r_j (a_y = -inf), which stays finite for logits of +-1e4.
  a = jnp.where(onehot > 0, -jnp.inf, lp - l1p)
  t = jnp.exp(lp + _lse_excluding_each(a))
  p = jnp.exp(lp)
  gz = p * (2.0 - onehot) - onehot - t
  return v, jnp.sum(_mask_rows(gz, ignore, bad) * tz, axis=-1)


_sbce_mc.defjvp(_sbce_mc_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def _sbce_mc_jit(logits, labels, where, weights, axis):
  z, lab, mask, odt = C.label_setup(
    "softmax_binary_cross_entropy", logits, labels, axis, where, weights
  )
  return C.finish(_sbce_mc(z, lab), mask, weights, odt)


def softmax_binary_cross_entropy(
  logits: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
) -> jax.Array:
  """Note 001's "cross-entropy loss" over softmax probabilities:
  ``-sum_j [z_j log p_j + (1 - z_j) log(1 - p_j)]``, ``p = softmax(s)``,
  ``z = onehot(y)``.

  ``log(1 - p_j)`` is ``logsumexp_{k != j}(s) - logsumexp(s)``, exact even
  when p_j rounds to 1. Gradient, given as a custom JVP: ``p_k - [k = y] +
  sum_{j != y} p_j (delta_jk - p_k) / (1 - p_j)``. Note 001's example
  (class 2, p = (0.1, 0.7, 0.2, 0...)) is ``-log(1 - 0.1) - log 0.7 -
  log(1 - 0.2)``; its softmax example with scores (3.2, 5.1, -1.7) prints
  ``0.89 * 2`` — that is in log10 (ln gives 4.08).
  Labels: negative -> ignored; >= C -> ValueError (concrete) / NaN (jit).
  """
  fn = "softmax_binary_cross_entropy"
  C.eager_label_check(fn, logits, labels, axis)
  return _sbce_mc_jit(logits, labels, where, weights, axis)
