"""Binary and multi-label classification losses (notes 000 "Classification:
Binary" / "Complementary Multiclass", 001 "Analytic Gradient: Sigmoid", 003
"Sigmoid is activation. But what is the loss?").

All three are elementwise: the output has the shape of the logits, so a
multi-label head (independent sigmoids, note 000) gets one loss per label.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp

from losses import _common as C


_softplus_parts = C.softplus


# --- sigmoid + BCE -------------------------------------------------------------
@jax.custom_vjp
def _sbce(z, t, pos_weight, smoothing):
  return _sbce_fwd(z, t, pos_weight, smoothing)[0]


def _sbce_fwd(z, t, pos_weight, smoothing):
  ts = t * (1.0 - smoothing) + 0.5 * smoothing
  if pos_weight is None:
    v, sp = C.bce_logits(z, ts)      # = ts*softplus(-z) + (1-ts)*softplus(z)
  else:
    sp = _softplus_parts(z)          # -log(1 - sigma(z))
    v = pos_weight * ts * (sp - z) + (1.0 - ts) * sp
  return v, (z, ts, sp, pos_weight, smoothing)


def _sbce_bwd(res, g):
  z, ts, sp, pos_weight, smoothing = res
  s = jax.nn.sigmoid(z)
  if pos_weight is None:
    gz = s - ts                      # note 003: d BCE / dz = sigma - t
    gt = -z
  else:
    gz = pos_weight * ts * (s - 1.0) + (1.0 - ts) * s
    gt = pos_weight * (sp - z) - sp
  return g * gz, g * gt * (1.0 - smoothing), None, None


_sbce.defvjp(_sbce_fwd, _sbce_bwd)


@jax.jit
def sigmoid_binary_cross_entropy(logits, labels, *, where=None, weights=None,
                                 pos_weight=None, label_smoothing=0.0):
  """Sigmoid + binary cross-entropy on logits, elementwise (notes 000, 003).

  ``BCE(sigma(z), t) = -t log sigma(z) - (1 - t) log(1 - sigma(z))`` computed
  as ``softplus(z) - t z`` (log-sigmoid form: finite for logits of +-1e4 and
  +-inf with matching labels). With ``pos_weight`` the positive term is scaled:
  ``-pw t log sigma(z) - (1 - t) log(1 - sigma(z))``. ``label_smoothing``
  ``a`` replaces t by ``t (1 - a) + a / 2``.

  Gradient (note 003): ``dL/dz = sigma(z) - t`` (note 000 prints
  ``t - sigma``, the negative; the descent direction is the same). With
  pos_weight: ``pw t (sigma - 1) + (1 - t) sigma``.
  Labels may be soft (any real in [0, 1]); returns ``logits.shape``.
  """
  fn = "sigmoid_binary_cross_entropy"
  cdt, _ = C.compute_dtype(logits, labels)
  pw = None if pos_weight is None else C.hyper(pos_weight, cdt)
  return C.elementwise(
      fn, lambda z, t, ls: _sbce(z, t, pw, ls), logits, labels, where,
      weights, hypers=(label_smoothing,), names=("logits", "labels"))


# --- BCE on probabilities ------------------------------------------------------
@jax.custom_vjp
def _bce(p, t, eps):
  return _bce_fwd(p, t, eps)[0]


def _bce_fwd(p, t, eps):
  pc = jnp.clip(p, eps, 1.0 - eps)
  lp, l1p = jnp.log(pc), jnp.log1p(-pc)
  # 0 log 0 = 0: a term whose coefficient is 0 contributes 0 (eps = 0 safe)
  v = -(jnp.where(t != 0, t * lp, 0.0) + jnp.where(t != 1, (1.0 - t) * l1p,
                                                   0.0))
  return v, (pc, t, lp, l1p)


def _bce_bwd(res, g):
  pc, t, lp, l1p = res
  # note 001: dL/dp = -t/p + (1 - t)/(1 - p)  (= (p - t) / (p (1 - p)))
  gp = (jnp.where(t != 0, -t / pc, 0.0)
        + jnp.where(t != 1, (1.0 - t) / (1.0 - pc), 0.0))
  return g * gp, -g * (lp - l1p), None


_bce.defvjp(_bce_fwd, _bce_bwd)


@jax.jit
def binary_cross_entropy(probs, labels, *, where=None, weights=None,
                         eps=1e-7):
  """BCE on probabilities, elementwise (note 000 ``BCE(p, t)``; note 003
  "check there are no log(0)").

  ``-t log p - (1 - t) log(1 - p)`` with p clamped to ``[eps, 1 - eps]``.
  Gradient (note 001): ``-t/p + (1 - t)/(1 - p)`` evaluated at the clamped p and passed
  straight through the clamp, so a saturated p = 0 with t = 1 still gets a
  large finite push (like torch) instead of a dead zero gradient.
  Prefer ``sigmoid_binary_cross_entropy`` on logits when you have them.
  """
  return C.elementwise("binary_cross_entropy", _bce, probs, labels, where,
                       weights, hypers=(eps,), names=("probs", "labels"),
                       fills=(0.5, 0.0))


# --- sigmoid + squared error (the counter-example) ----------------------------
@jax.custom_vjp
def _sse(z, t):
  return jnp.square(jax.nn.sigmoid(z) - t)


def _sse_fwd(z, t):
  s = jax.nn.sigmoid(z)
  d = s - t
  return d * d, (z, d)


def _sse_bwd(res, g):
  z, d = res
  gd = 2.0 * g * d
  return gd * jax.nn.sigmoid(z) * jax.nn.sigmoid(-z), -gd


_sse.defvjp(_sse_fwd, _sse_bwd)


@jax.jit
def sigmoid_squared_error(logits, targets, *, where=None, weights=None):
  """"MSE on a sigmoid": ``(sigma(z) - t)^2`` elementwise (notes 000, 003).

  Gradient (note 003): ``2 (sigma - t) sigma (1 - sigma)``; it vanishes when
  the sigmoid saturates even if the answer is wrong ("NN paralysis"), which is
  why ``sigmoid_binary_cross_entropy`` is preferred. Note 000 prints
  ``(t - sigma) sigma (1 - sigma)``: the sign is flipped and the factor 2 is
  missing; the correct derivative is implemented. ``sigma (1 - sigma)`` is
  computed as ``sigma(z) sigma(-z)`` to stay accurate when saturated.
  """
  return C.elementwise("sigmoid_squared_error", _sse, logits, targets, where,
                       weights, names=("logits", "targets"))
