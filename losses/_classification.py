"""Binary and multi-label classification losses (notes 000 "Classification:
Binary" / "Complementary Multiclass", 001 "Analytic Gradient: Sigmoid", 003
"Sigmoid is activation. But what is the loss?").

All three are elementwise: the output has the shape of the logits, so a
multi-label head (independent sigmoids, note 000) gets one loss per label.

Each core states its hand-derived partial derivatives as a ``jax.custom_jvp``
rule. The rules return the value by calling the core itself, so the
derivative of the value is the hand-derived one at every order; the partials
are plain jnp code that JAX differentiates for the higher orders.
Hyperparameters enter through ``C.hyper`` (stop_gradient), so their tangents
are always symbolic zeros and the rules give them no term.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C


_softplus_parts = C.softplus


# --- sigmoid + BCE -------------------------------------------------------------
def _smooth(t, smoothing):
  # a probability t of class 1 is the 2-class target (1 - t, t): smoothing
  # over K = 2 classes (the formula shared with `losses.smooth_labels`)
  return C.smoothed(t, smoothing, 2)


@jax.custom_jvp
def _sbce(z, t, pos_weight, smoothing):
  ts = _smooth(t, smoothing)
  if pos_weight is None:
    return C.bce_logits(z, ts)[0]  # = ts*softplus(-z) + (1-ts)*softplus(z)
  sp = _softplus_parts(z)  # -log(1 - sigma(z))
  return pos_weight * ts * (sp - z) + (1.0 - ts) * sp


def _sbce_jvp(primals, tangents):
  z, t, pos_weight, smoothing = primals
  tz, tt, _, _ = tangents
  v = _sbce(z, t, pos_weight, smoothing)
  ts = _smooth(t, smoothing)
  terms = []
  if C.has_tangent(tz):
    s = jax.nn.sigmoid(z)
    if pos_weight is None:
      gz = s - ts  # note 003: d BCE / dz = sigma - t
    else:
      gz = pos_weight * ts * (s - 1.0) + (1.0 - ts) * s
    terms.append(gz * tz)
  if C.has_tangent(tt):
    # d/dt = -z (infinite at an infinite logit: only used when t is
    # differentiated), times d ts / dt = 1 - smoothing
    if pos_weight is None:
      gt = -z
    else:
      sp = _softplus_parts(z)
      gt = pos_weight * (sp - z) - sp
    terms.append(gt * (1.0 - smoothing) * tt)
  return v, C.tangent_sum(v, terms)


_sbce.defjvp(_sbce_jvp, symbolic_zeros=True)


# label_smoothing mixes the target with the uniform one, so it is a fraction
# (as smooth_labels' alpha); a negative pos_weight would reward missed
# positives.
@C.with_hyperparameter_checks(pos_weight=">= 0", label_smoothing="in [0, 1]")
@jax.jit
def sigmoid_binary_cross_entropy(
  logits: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  pos_weight: ArrayLike | None = None,
  label_smoothing: ArrayLike = 0.0,
) -> jax.Array:
  """Sigmoid + binary cross-entropy on logits, elementwise (notes 000, 003).

  ``BCE(sigma(z), t) = -t log sigma(z) - (1 - t) log(1 - sigma(z))`` computed
  as ``softplus(z) - t z`` (log-sigmoid form: finite for logits of +-1e4 and
  +-inf with matching labels). With ``pos_weight`` the positive term is scaled:
  ``-pw t log sigma(z) - (1 - t) log(1 - sigma(z))``. ``label_smoothing``
  ``a`` replaces t by ``t (1 - a) + a / 2``.

  Gradient (note 003), given as a custom JVP: ``dL/dz = sigma(z) - t`` (note
  000 prints ``t - sigma``, the negative; the descent direction is the same),
  ``dL/dt = -z``. With pos_weight: ``pw t (sigma - 1) + (1 - t) sigma`` and
  ``pw softplus(-z) - softplus(z)``.
  Labels may be soft (any real in [0, 1]; not checked); returns
  ``logits.shape``. ``pos_weight`` must be >= 0 and ``label_smoothing`` in
  [0, 1] (ValueError when concrete; unchecked under ``jax.jit``).
  """
  fn = "sigmoid_binary_cross_entropy"
  cdt, _ = C.compute_dtype(logits, labels)
  pw = None if pos_weight is None else C.hyper(pos_weight, cdt)
  return C.elementwise(
    fn,
    lambda z, t, ls: _sbce(z, t, pw, ls),
    logits,
    labels,
    where,
    weights,
    hypers=(label_smoothing,),
    names=("logits", "labels"),
  )


# --- BCE on probabilities ------------------------------------------------------
@jax.custom_jvp
def _bce(p, t, eps):
  pc = jnp.clip(p, eps, 1.0 - eps)
  lp, l1p = jnp.log(pc), jnp.log1p(-pc)
  # 0 log 0 = 0: a term whose coefficient is 0 contributes 0 (eps = 0 safe)
  return -(jnp.where(t != 0, t * lp, 0.0) + jnp.where(t != 1, (1.0 - t) * l1p, 0.0))


def _bce_jvp(primals, tangents):
  p, t, eps = primals
  tp, tt, _ = tangents
  v = _bce(p, t, eps)
  # The clamp is passed straight through at every order: the derivatives are
  # those of the unclamped formula evaluated at the clamped p.
  pc = p + jax.lax.stop_gradient(jnp.clip(p, eps, 1.0 - eps) - p)
  terms = []
  if C.has_tangent(tp):
    # note 001: dL/dp = -t/p + (1 - t)/(1 - p)  (= (p - t) / (p (1 - p))).
    # Unmasked, so that its derivative in t is the true -1/p - 1/(1 - p); a
    # zero denominator (only with eps = 0) is replaced by 1 where its
    # numerator is 0 (the partial's limit there is 0).
    den0 = jnp.where((pc == 0) & (t == 0), 1.0, pc)
    den1 = jnp.where((pc == 1) & (t == 1), 1.0, 1.0 - pc)
    terms.append((-t / den0 + (1.0 - t) / den1) * tp)
  if C.has_tangent(tt):
    terms.append(-(jnp.log(pc) - jnp.log1p(-pc)) * tt)
  return v, C.tangent_sum(v, terms)


_bce.defjvp(_bce_jvp, symbolic_zeros=True)


@jax.jit
def _bce_jit(probs, labels, where, weights, eps):
  return C.elementwise(
    "binary_cross_entropy",
    _bce,
    probs,
    labels,
    where,
    weights,
    hypers=(eps,),
    names=("probs", "labels"),
    fills=(0.5, 0.0),
  )


def binary_cross_entropy(
  probs: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  eps: ArrayLike = 1e-7,
) -> jax.Array:
  """BCE on probabilities, elementwise (note 000 ``BCE(p, t)``; note 003
  "check there are no log(0)").

  ``-t log p - (1 - t) log(1 - p)`` with p clamped to ``[eps, 1 - eps]``.
  Gradient (note 001), given as a custom JVP: ``-t/p + (1 - t)/(1 - p)``
  evaluated at the clamped p and passed straight through the clamp, so a
  saturated p = 0 with t = 1 still gets a large finite push (like torch)
  instead of a dead zero gradient; ``dL/dt = log(1 - p) - log p``.
  Prefer ``sigmoid_binary_cross_entropy`` on logits when you have them.
  ``probs`` and ``labels`` outside [0, 1] raise ValueError when concrete
  (masked entries are not inspected); under ``jax.jit`` they are unchecked
  (the clamp would turn a probability of 1.5 into a plausible ~1e-7).
  """
  fn = "binary_cross_entropy"
  # the trace-time checks first, so that the values are read with valid shapes
  C.check_floating(probs, "probs", fn)
  C.check_real(labels, "labels", fn)
  C.check_same_shape(probs, labels, "probs", "labels", fn)
  C.check_broadcast_to(where, jnp.shape(probs), "where", fn)
  C.check_unit_interval(
    C.kept_values(probs, where),
    fn,
    "probs must be probabilities",
    "; pass logits to sigmoid_binary_cross_entropy instead",
  )
  C.check_unit_interval(C.kept_values(labels, where), fn, "labels must be 0/1 or soft targets")
  return _bce_jit(probs, labels, where, weights, eps)


# --- sigmoid + squared error (the counter-example) ----------------------------
@jax.custom_jvp
def _sse(z, t):
  return jnp.square(jax.nn.sigmoid(z) - t)


def _sse_jvp(primals, tangents):
  z, t = primals
  tz, tt = tangents
  v = _sse(z, t)
  d2 = 2.0 * (jax.nn.sigmoid(z) - t)
  return v, C.tangent_sum(
    v,
    [
      d2 * (jax.nn.sigmoid(z) * jax.nn.sigmoid(-z)) * tz if C.has_tangent(tz) else None,
      -(d2 * tt) if C.has_tangent(tt) else None,
    ],
  )


_sse.defjvp(_sse_jvp, symbolic_zeros=True)


@jax.jit
def sigmoid_squared_error(
  logits: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
) -> jax.Array:
  """ "MSE on a sigmoid": ``(sigma(z) - t)^2`` elementwise (notes 000, 003).

  Gradient (note 003), given as a custom JVP: ``2 (sigma - t) sigma (1 -
  sigma)``; it vanishes when the sigmoid saturates even if the answer is wrong
  ("NN paralysis"), which is why ``sigmoid_binary_cross_entropy`` is
  preferred. Note 000 prints ``(t - sigma) sigma (1 - sigma)``: the sign is
  flipped and the factor 2 is missing; the correct derivative is implemented.
  ``sigma (1 - sigma)`` is computed as ``sigma(z) sigma(-z)`` to stay accurate
  when saturated.
  """
  return C.elementwise(
    "sigmoid_squared_error", _sse, logits, targets, where, weights, names=("logits", "targets")
  )
