"""Divergences and label smoothing: the KL divergence of a softmax from a
target distribution (note 002), and from optax's loss catalogue (optax parity,
issue 16) the Poly-1 cross-entropy, the generalized (convex) KL divergence of
unnormalized measures, and ``smooth_labels``.

The losses reduce over the class ``axis`` (an int or a tuple, flattened
into one class axis) and state their hand-derived partial derivatives as
``jax.custom_jvp`` rules, like those of :mod:`losses._multiclass`: the rule
returns the value by calling the core itself, so every order of derivative is
the hand-derived one, and the partials are plain jnp code that stays finite
when JAX differentiates them again. ``epsilon`` enters through ``C.hyper``
(traced, zero gradient), so its tangent is always a symbolic zero.

Differences from optax: ``where`` masks *examples* (optax's masks classes),
shapes are never broadcast, and ``smooth_labels`` has no ``where``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C
from losses._common import Axis
from losses._multiclass import _exp_shifted
from losses._multiclass import _logit_tangent
from losses._multiclass import _no_classes_is_zero
from losses._multiclass import _softmax_parts


# --- KL divergence -------------------------------------------------------------
@jax.custom_jvp
def _kl(z, t):
  zs, _, s = _exp_shifted(z)
  pos = t > 0
  lt = jnp.log(jnp.where(pos, t, 1.0))
  st = jnp.sum(t, axis=-1)
  return jnp.sum(jnp.where(pos, t * (lt - zs), 0.0), axis=-1) + st * jnp.log(s)


def _kl_jvp(primals, tangents):
  z, t = primals
  tz, tt = tangents
  v = _kl(z, t)
  zs, e, s = _softmax_parts(z)
  terms = []
  if C.has_tangent(tz):
    terms.append(_logit_tangent(e, s, t, tz))
  if C.has_tangent(tt):
    # log t + 1 - log q for t > 0. At t = 0 the one-sided derivative of
    # t log t is -inf; the documented convention there is 0 (a constant, so
    # its derivatives are 0 too), with log t guarded by a double `where`.
    pos = t > 0
    lp = zs - jnp.log(s)
    gt = jnp.where(pos, jnp.log(jnp.where(pos, t, 1.0)) + 1.0 - lp, 0.0)
    terms.append(jnp.sum(gt * tt, axis=-1))
  return v, C.tangent_sum(v, terms)


_kl.defjvp(_kl_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def _kl_jit(logits, target_probs, where, weights, axis):
  z, t, mask, odt = C.axis_setup(
    "kl_divergence", logits, target_probs, axis, where, weights, ("logits", "target_probs")
  )
  return C.finish(_no_classes_is_zero(_kl, z, t), mask, weights, odt)


def kl_divergence(
  logits: ArrayLike,
  target_probs: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
) -> jax.Array:
  """``KL(t || softmax(z)) = sum_c t_c (log t_c - log softmax(z)_c)``
  (note 002 compares the softmax loss with ``D_KL(P || Q)``).

  Takes logits; log-probabilities are valid logits (log_softmax is idempotent)
  so ``kl_divergence(log_q, t)`` equals ``optax.kl_divergence(log_q, t)``.
  ``0 log 0 = 0``. Gradient, given as a custom JVP: ``softmax(z) - t``
  w.r.t. logits (times sum t) and ``log t + 1 - log q`` w.r.t. the targets;
  at t = 0 exactly (where ``t log t`` has no derivative) the target gradient
  is taken as 0. ``target_probs`` outside [0, 1] raise ValueError when
  concrete (masked examples are not inspected; unchecked under jit): a
  negative target would otherwise drop its ``t log t`` term silently.
  """
  fn = "kl_divergence"
  # the trace-time checks first, so that the values are read with valid shapes
  C.check_floating(logits, "logits", fn)
  C.check_real(target_probs, "target_probs", fn)
  C.check_same_shape(logits, target_probs, "logits", "target_probs", fn)
  C.check_min_rank(logits, 1, "logits", fn)
  axes = C.normalize_axes(axis, jnp.ndim(logits), fn)
  C.check_broadcast_to(
    where, tuple(n for i, n in enumerate(jnp.shape(logits)) if i not in axes), "where", fn
  )
  C.check_unit_interval(
    C.kept_values(target_probs, where, axes), fn, "target_probs must be probabilities"
  )
  return _kl_jit(logits, target_probs, where, weights, axis)


# --- Poly-1 cross-entropy --------------------------------------------------------
@jax.custom_jvp
def _poly(z, t, eps):
  # CE as in softmax_cross_entropy (one pass, exact for logits of 1e4) plus
  # eps * sum_c t_c (1 - p_c) = eps * (sum t - sum t e / s)
  zs, e, s = _exp_shifted(z)
  st = jnp.sum(t, axis=-1)
  tz = jnp.sum(jnp.where(t != 0, t * zs, 0.0), axis=-1)  # 0 * -inf = 0
  tp = jnp.sum(t * e, axis=-1) / s
  return st * jnp.log(s) - tz + eps * (st - tp)


def _poly_jvp(primals, tangents):
  z, t, eps = primals
  tz, tt, _ = tangents
  v = _poly(z, t, eps)
  zs, e, s = _softmax_parts(z)
  p = e / s
  terms = []
  if C.has_tangent(tz):
    # CE: p sum(t) - t; poly term: d/dz_k of -sum_c t_c p_c is
    # -p_k (t_k - sum_c t_c p_c) (the softmax Jacobian p_k (delta_ck - p_c))
    st = jnp.sum(t, axis=-1, keepdims=True)
    tp = jnp.sum(t * p, axis=-1, keepdims=True)
    gz = p * st - t - eps * p * (t - tp)
    terms.append(jnp.sum(gz * tz, axis=-1))
  if C.has_tangent(tt):
    # -log p_c + eps (1 - p_c) for every class, t_c = 0 included (needed at
    # second order); a -inf logit makes it +inf only when t is differentiated
    terms.append(jnp.sum((jnp.log(s) - zs + eps * (1.0 - p)) * tt, axis=-1))
  return v, C.tangent_sum(v, terms)


_poly.defjvp(_poly_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def poly_loss_cross_entropy(
  logits: ArrayLike,
  target_probs: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  epsilon: ArrayLike = 2.0,
) -> jax.Array:
  """Poly-1 loss (Leng et al. 2022, "PolyLoss: A Polynomial Expansion
  Perspective of Classification Loss Functions"; optax parity):
  ``CE + epsilon * sum_c t_c (1 - softmax(z)_c)``, with
  ``CE = -sum_c t_c log softmax(z)_c``. For one-hot targets that is
  ``-log p_y + epsilon (1 - p_y)``: the first term of CE's Taylor series in
  ``1 - p_y`` gets weight ``1 + epsilon`` (the paper recommends 2 for
  ImageNet classification, -1 for detection). ``epsilon = 0`` is
  ``softmax_cross_entropy``.

  Gradient, given as a custom JVP: ``p sum(t) - t - epsilon p (t - sum_c t_c
  p_c)`` w.r.t. the logits; ``-log p_c + epsilon (1 - p_c)`` w.r.t. the
  targets. ``epsilon`` is traced (no recompile) and gets zero gradient.
  Equals ``optax.losses.poly_loss_cross_entropy(logits, t, epsilon=...)``;
  our ``where`` masks examples (optax's masks classes). Classes with
  ``t_c = 0`` may have logit -inf. Returns the shape without ``axis``.
  """
  fn = "poly_loss_cross_entropy"
  if jnp.ndim(epsilon) != 0:
    raise ValueError(f"{fn}: epsilon must be a scalar, got shape {jnp.shape(epsilon)}.")
  z, t, mask, odt = C.axis_setup(
    fn, logits, target_probs, axis, where, weights, ("logits", "target_probs")
  )
  eps = C.hyper(epsilon, z.dtype)
  values = _no_classes_is_zero(lambda z, t: _poly(z, t, eps), z, t)
  return C.finish(values, mask, weights, odt)


# --- generalized KL divergence ---------------------------------------------------
# Below this |d| the value is t (e^-d - 1 + d) from its Taylor series
# d^2/2 - d^3/6 + d^4/24, elsewhere the plain t d - t + q. The radius balances
# the series' truncation (~|d|^3/60 relative) against the plain sum's
# cancellation (~2 ulp/d^2): worst relative error ~1e-5 in float32 and ~1e-10 in
# float64, where the plain sum alone is off by 10% at d = 1e-3 in float32 (as
# optax's is). A short polynomial, not expm1: a third transcendental per
# element costs 1.5x optax's time (bench/losses.py).
_GKL_SERIES_RADIUS = {2: 0.094, 4: 0.094, 8: 0.0017}


@jax.custom_jvp
def _gkl(lq, t):
  # per class t log(t / q) - t + q = t (d - 1 + e^-d) with d = log t - lq.
  # t = 0 contributes q (0 log 0 = 0); negative targets give NaN, on purpose.
  # The primal's unselected NaNs never reach a derivative: those come from the
  # JVP rule.
  q = jnp.exp(lq)
  d = jnp.log(t) - lq
  near = jnp.abs(d) < _GKL_SERIES_RADIUS[jnp.dtype(lq.dtype).itemsize]
  series = d * d * (0.5 - d * (1.0 / 6.0 - d * (1.0 / 24.0)))
  term = jnp.where(near, t * series, t * (d - 1.0) + q)
  return jnp.sum(jnp.where(t == 0, q, term), axis=-1)


def _gkl_jvp(primals, tangents):
  lq, t = primals
  tlq, tt = tangents
  v = _gkl(lq, t)
  terms = []
  if C.has_tangent(tlq):
    terms.append(jnp.sum((jnp.exp(lq) - t) * tlq, axis=-1))  # q - t
  if C.has_tangent(tt):
    # log t - log q for t != 0. At t = 0 the one-sided derivative of t log t
    # is -inf; as in kl_divergence the convention there is 0 (a constant, so
    # its derivatives are 0 too), with log t guarded by a double `where`.
    nz = t != 0
    gt = jnp.where(nz, jnp.log(jnp.where(nz, t, 1.0)) - lq, 0.0)
    terms.append(jnp.sum(gt * tt, axis=-1))
  return v, C.tangent_sum(v, terms)


_gkl.defjvp(_gkl_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def generalized_kl_divergence(
  log_predictions: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
) -> jax.Array:
  """Generalized KL divergence of non-negative, unnormalized measures (optax
  parity; the Bregman divergence of ``x log x - x``, Boyd & Vandenberghe,
  "Convex Optimization", p. 90):
  ``sum_c t_c (log t_c - log q_c) - t_c + q_c``, with ``0 log 0 = 0``.

  Takes ``log q`` (no normalization: this is not a softmax loss); it is 0
  iff ``q = t`` and equals ``KL(t || q)`` when both sum to 1. Computed
  without the cancellation near ``q = t``: ``t (e^-d - 1 + d)``,
  ``d = log(t / q)``, from its Taylor series for small ``|d|``. Gradient,
  given as a custom JVP: ``q - t`` w.r.t. ``log q``; ``log t - log q`` w.r.t.
  the targets, taken as 0 at ``t = 0`` exactly (as in ``kl_divergence``). Negative targets give NaN.
  Equals ``optax.losses.generalized_kl_divergence``; our ``where`` masks
  examples (optax's masks classes). Returns the shape without ``axis``.
  """
  lq, t, mask, odt = C.axis_setup(
    "generalized_kl_divergence",
    log_predictions,
    targets,
    axis,
    where,
    weights,
    ("log_predictions", "targets"),
  )
  return C.finish(_gkl(lq, t), mask, weights, odt)


# --- label smoothing -------------------------------------------------------------
@functools.partial(jax.jit, static_argnames=("axes",))
def _smooth_labels_jit(labels, alpha, axes):
  cdt, odt = C.compute_dtype(labels)
  num_classes = math.prod(jnp.shape(labels)[a] for a in axes)
  out = C.smoothed(jnp.asarray(labels).astype(cdt), jnp.asarray(alpha).astype(cdt), num_classes)
  return out.astype(odt)


def smooth_labels(labels: ArrayLike, alpha: float | jax.Array, *, axis: Axis = -1) -> jax.Array:
  """Label smoothing (Szegedy et al. 2016; Mueller et al. 2019, "When does
  label smoothing help?"; optax parity): ``(1 - alpha) labels + alpha / K``
  with ``K`` the number of classes (the product of the sizes of ``axis``,
  which may be a tuple). Not a loss: a target transform, e.g.
  ``softmax_cross_entropy(z, smooth_labels(one_hot, 0.1))`` equals
  ``softmax_cross_entropy_with_integer_labels(z, y, label_smoothing=0.1)``.

  The formula is ``losses._common.smoothed``, the one both built-in
  ``label_smoothing`` options use. ``alpha`` must be a scalar in [0, 1]
  (ValueError when concrete; unchecked under ``jax.jit``); it is traced (no
  recompile) and, as in optax, differentiable (``d/d alpha = 1/K - labels``).
  Labels may be bool/int (returned as floats); half precision is computed in
  float32. Equals ``optax.smooth_labels`` (which also has a class ``where``).
  """
  fn = "smooth_labels"
  C.check_real(labels, "labels", fn)
  C.check_min_rank(labels, 1, "labels", fn)
  axes = C.normalize_axes(axis, jnp.ndim(labels), fn)
  C.check_real(alpha, "alpha", fn)
  if jnp.ndim(alpha) != 0:
    raise ValueError(f"{fn}: alpha must be a scalar, got shape {jnp.shape(alpha)}.")
  if C.is_concrete(alpha):
    a = float(alpha)
    if not 0.0 <= a <= 1.0:  # also rejects NaN
      raise ValueError(f"{fn}: alpha must be in [0, 1], got {a}.")
  return _smooth_labels_jit(labels, alpha, axes)
