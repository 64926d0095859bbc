"""Multiclass losses over a class axis (notes 000 "Adversarial Multiclass",
001 "Log likelihood / Cross-entropy loss / Softmax", 002 "Softmax classifier",
003 "Loss Function for Softmax: Cross Entropy").

Each returns the per-example loss: the input shape without ``axis``.
Integer labels: negative means "ignore" (loss 0, gradient 0; pass
``where=labels >= 0`` to ``losses.reduce`` to also drop them from a mean).
A label >= the number of classes raises ValueError when the labels are
concrete, and yields NaN (value and gradient) under ``jax.jit``.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from losses import _common as C

_NAN = float("nan")


def _lse(z):
  m = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
  m = jnp.where(jnp.isfinite(m), m, 0.0)
  return jnp.log(jnp.sum(jnp.exp(z - m), axis=-1)) + m[..., 0]


def _ignore_bad(v, ignore, bad):
  return jnp.where(bad, _NAN, jnp.where(ignore, 0.0, v))


def _coef(g, ignore, bad):
  return jnp.where(bad, _NAN, jnp.where(ignore, 0.0, g))[..., None]


# --- softmax CE with soft targets ---------------------------------------------
@jax.custom_vjp
def _sce(z, t):
  return _sce_fwd(z, t)[0]


def _exp_shifted(z):
  """(z - m, exp(z - m), sum exp(z - m)) with m = max z: log-sum-exp is
  ``log(sum) + m``. exp is kept as a residual: on CPU recomputing it in the
  backward pass costs more than storing it."""
  m = jnp.max(z, axis=-1, keepdims=True)
  m = jnp.where(jnp.isfinite(m), m, 0.0)
  zs = z - m
  e = jnp.exp(zs)
  return zs, e, jnp.sum(e, axis=-1)


def _sce_fwd(z, t):
  # -sum t (z - lse) = sum(t) log(s) - sum t (z - m): differences of nearby
  # numbers only, so exact even for logits of 1e4
  zs, e, s = _exp_shifted(z)
  st = jnp.sum(t, axis=-1)
  tz = jnp.sum(jnp.where(t != 0, t * zs, 0.0), axis=-1)  # 0 * -inf = 0
  return st * jnp.log(s) - tz, (zs, e, s, t, st)


def _sce_bwd(res, g):
  zs, e, s, t, st = res
  gz = e * (st / s)[..., None] - t                 # notes 000/003: p - t
  return g[..., None] * gz, -g[..., None] * (zs - jnp.log(s)[..., None])


_sce.defvjp(_sce_fwd, _sce_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def softmax_cross_entropy(logits, target_probs, *, where=None, weights=None,
                          axis=-1):
  """Softmax + cross-entropy with a target distribution (note 000 ``CE``,
  003): ``-sum_c t_c log softmax(z)_c`` via log-sum-exp.

  Gradient (note 003): ``softmax(z) - t`` (in general
  ``softmax(z) * sum(t) - t``). Classes with ``t_c = 0`` may have logit -inf.
  """
  z, t, mask, odt = C.axis_setup("softmax_cross_entropy", logits,
                                 target_probs, axis, where, weights,
                                 ("logits", "target_probs"))
  return C.finish(_sce(z, t), mask, weights, odt)


# --- softmax CE with integer labels -------------------------------------------
@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _sce_int(z, labels, smoothing, smooth):
  return _sce_int_fwd(z, labels, smoothing, smooth)[0]


def _sce_int_fwd(z, labels, smoothing, smooth):
  lab, ignore, bad = C.label_status(labels, z.shape[-1])
  zs, e, s = _exp_shifted(z)
  lse0 = jnp.log(s)
  zy = jnp.take_along_axis(zs, lab[..., None], axis=-1)[..., 0]
  if smooth:
    v = lse0 - (1.0 - smoothing) * zy - smoothing * jnp.mean(zs, axis=-1)
  else:
    v = lse0 - zy
  return _ignore_bad(v, ignore, bad), (e, s, lab, ignore, bad, smoothing)


def _sce_int_bwd(smooth, res, g):
  e, s, lab, ignore, bad, smoothing = res
  gz = e * (1.0 / s)[..., None]                       # softmax
  onehot = C.one_hot_like(gz, lab)
  if smooth:
    gz = gz - (1.0 - smoothing) * onehot - smoothing / gz.shape[-1]
  else:
    gz = gz - onehot
  return _coef(g, ignore, bad) * gz, None, None


_sce_int.defvjp(_sce_int_fwd, _sce_int_bwd)


@functools.partial(jax.jit, static_argnames=("axis", "smooth"))
def _sce_int_jit(logits, labels, where, weights, axis, label_smoothing,
                 smooth):
  z, lab, mask, odt = C.label_setup(
      "softmax_cross_entropy_with_integer_labels", logits, labels, axis,
      where, weights)
  ls = C.hyper(label_smoothing, z.dtype)
  return C.finish(_sce_int(z, lab, ls, smooth), mask, weights, odt)


def softmax_cross_entropy_with_integer_labels(logits, labels, *, where=None,
                                              weights=None, axis=-1,
                                              label_smoothing=0.0):
  """Softmax classifier loss (notes 001, 002): ``-log softmax(z)_y``
  = ``logsumexp(z) - z_y``.

  With label smoothing ``a`` (target ``(1 - a) onehot + a / C``) the loss is
  ``logsumexp(z) - (1 - a) z_y - a mean(z)``: no one-hot is built.
  Gradient (notes 001/003): ``softmax(z) - onehot(y)`` (smoothed:
  ``softmax(z) - (1 - a) onehot(y) - a / C``).
  Worked example (note 002): scores (3.2, 5.1, -1.7), y = cat -> 2.04; at
  equal scores the loss is ``ln C`` (e.g. ln 10 = 2.3).
  Labels: negative -> ignored; >= C -> ValueError (concrete) / NaN (jit).
  Returns logits.shape without ``axis``.
  """
  fn = "softmax_cross_entropy_with_integer_labels"
  C.eager_label_check(fn, logits, labels, axis)
  return _sce_int_jit(logits, labels, where, weights, axis, label_smoothing,
                      not C.is_zero(label_smoothing))


# --- NLL on probabilities -----------------------------------------------------
@jax.custom_vjp
def _nll(p, labels, eps):
  return _nll_fwd(p, labels, eps)[0]


def _nll_fwd(p, labels, eps):
  lab, ignore, bad = C.label_status(labels, p.shape[-1])
  py = jnp.maximum(jnp.take_along_axis(p, lab[..., None], axis=-1)[..., 0],
                   eps)
  return _ignore_bad(-jnp.log(py), ignore, bad), (p, lab, py, ignore, bad)


def _nll_bwd(res, g):
  p, lab, py, ignore, bad = res
  gp = -C.one_hot_like(p, lab) / py[..., None]     # note 001: -1/p_y at y
  return _coef(g, ignore, bad) * gp, None, None


_nll.defvjp(_nll_fwd, _nll_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def _nll_jit(probs, labels, where, weights, axis, eps):
  p, lab, mask, odt = C.label_setup("nll", probs, labels, axis, where,
                                    weights, ("probs", "labels"))
  return C.finish(_nll(p, lab, C.hyper(eps, p.dtype)), mask, weights, odt)


def nll(probs, labels, *, where=None, weights=None, axis=-1, eps=1e-7):
  """Log-likelihood loss on probabilities (note 001): ``-log p_y``.

  Note 001's example: class 2 of 10 with ``p_2 = 0.7`` gives ``-log 0.7``.
  Gradient (note 001): ``dL/dp = -1/p_y`` at y, 0 elsewhere. ``p_y`` is floored
  at ``eps`` (gradient evaluated at the floor) so p_y = 0 stays finite.
  Labels: negative -> ignored; >= C -> ValueError (concrete) / NaN (jit).
  """
  C.eager_label_check("nll", probs, labels, axis, ("probs", "labels"))
  return _nll_jit(probs, labels, where, weights, axis, eps)


# --- softmax + per-class BCE (note 001's "cross-entropy loss") -----------------
@jax.custom_vjp
def _sbce_mc(z, labels):
  return _sbce_mc_fwd(z, labels)[0]


def _sbce_mc_fwd(z, labels):
  lab, ignore, bad = C.label_status(labels, z.shape[-1])
  lse = _lse(z)[..., None]
  lp = z - lse                                        # log p_j
  l1p = C.logsumexp_excluding_each(z) - lse           # log(1 - p_j), stable
  onehot = C.one_hot_like(z, lab)
  v = -jnp.sum(jnp.where(onehot > 0, lp, l1p), axis=-1)
  return _ignore_bad(v, ignore, bad), (lp, l1p, onehot, ignore, bad)


def _sbce_mc_bwd(res, g):
  lp, l1p, onehot, ignore, bad = res
  # d/dz_k = p_k (1 + [k != y]) - [k == y] - p_k sum_{j not in {y, k}} r_j,
  # r_j = p_j / (1 - p_j); the last term is exp(lp_k + LSE_{j != k} a_j) with
  # a_j = log r_j (a_y = -inf), which stays finite for logits of +-1e4.
  a = jnp.where(onehot > 0, -jnp.inf, lp - l1p)
  t = jnp.exp(lp + C.logsumexp_excluding_each(a))
  p = jnp.exp(lp)
  gz = p * (2.0 - onehot) - onehot - t
  return _coef(g, ignore, bad) * gz, None


_sbce_mc.defvjp(_sbce_mc_fwd, _sbce_mc_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def _sbce_mc_jit(logits, labels, where, weights, axis):
  z, lab, mask, odt = C.label_setup("softmax_binary_cross_entropy", logits,
                                    labels, axis, where, weights)
  return C.finish(_sbce_mc(z, lab), mask, weights, odt)


def softmax_binary_cross_entropy(logits, labels, *, where=None, weights=None,
                                 axis=-1):
  """Note 001's "cross-entropy loss" over softmax probabilities:
  ``-sum_j [z_j log p_j + (1 - z_j) log(1 - p_j)]``, ``p = softmax(s)``,
  ``z = onehot(y)``.

  ``log(1 - p_j)`` is ``logsumexp_{k != j}(s) - logsumexp(s)``, exact even
  when p_j rounds to 1. Gradient: ``p_k - [k = y] + sum_{j != y}
  p_j (delta_jk - p_k) / (1 - p_j)``. Note 001's example (class 2, p = (0.1,
  0.7, 0.2, 0...)) is ``-log(1 - 0.1) - log 0.7 - log(1 - 0.2)``; its softmax
  example with scores (3.2, 5.1, -1.7) prints ``0.89 * 2`` — that is in log10
  (ln gives 4.08).
  Labels: negative -> ignored; >= C -> ValueError (concrete) / NaN (jit).
  """
  fn = "softmax_binary_cross_entropy"
  C.eager_label_check(fn, logits, labels, axis)
  return _sbce_mc_jit(logits, labels, where, weights, axis)


# --- KL divergence -------------------------------------------------------------
@jax.custom_vjp
def _kl(z, t):
  return _kl_fwd(z, t)[0]


def _kl_fwd(z, t):
  zs, e, s = _exp_shifted(z)
  pos = t > 0
  lt = jnp.log(jnp.where(pos, t, 1.0))
  st = jnp.sum(t, axis=-1)
  v = jnp.sum(jnp.where(pos, t * (lt - zs), 0.0), axis=-1) + st * jnp.log(s)
  return v, (zs, e, s, t, st)


def _kl_bwd(res, g):
  zs, e, s, t, st = res
  gz = e * (st / s)[..., None] - t
  lp = zs - jnp.log(s)[..., None]
  pos = t > 0
  gt = jnp.where(pos, jnp.log(jnp.where(pos, t, 1.0)) + 1.0 - lp, 0.0)
  return g[..., None] * gz, g[..., None] * gt


_kl.defvjp(_kl_fwd, _kl_bwd)


@functools.partial(jax.jit, static_argnames=("axis",))
def kl_divergence(logits, target_probs, *, where=None, weights=None,
                  axis=-1):
  """``KL(t || softmax(z)) = sum_c t_c (log t_c - log softmax(z)_c)``
  (note 002 compares the softmax loss with ``D_KL(P || Q)``).

  Takes logits; log-probabilities are valid logits (log_softmax is idempotent)
  so ``kl_divergence(log_q, t)`` equals ``optax.kl_divergence(log_q, t)``.
  ``0 log 0 = 0``. Gradient: ``softmax(z) - t`` w.r.t. logits (times sum t)
  and ``log t + 1 - log q`` w.r.t. the targets; at t = 0 exactly (where
  ``t log t`` has no derivative) the target gradient is taken as 0.
  """
  z, t, mask, odt = C.axis_setup("kl_divergence", logits, target_probs, axis,
                                 where, weights, ("logits", "target_probs"))
  return C.finish(_kl(z, t), mask, weights, odt)
