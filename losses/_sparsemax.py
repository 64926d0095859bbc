"""Sparsemax and the Fenchel-Young losses of optax's catalogue (optax parity):
``sparsemax``, the binary ``sparsemax_loss``, ``multiclass_sparsemax_loss`` and
the constructor ``make_fenchel_young_loss``.

References: Martins & Astudillo, "From Softmax to Sparsemax" (ICML 2016);
Blondel, Martins & Niculae, "Learning with Fenchel-Young Losses" (JMLR 2020).

A Fenchel-Young loss of a regularizer Omega is
``L(theta; t) = Omega*(theta) + Omega(t) - <theta, t>`` and its gradient in
theta is the "prediction minus target" ``grad Omega*(theta) - t``. Sparsemax is
the prediction of the Gini regularizer ``Omega(p) = (||p||^2 - 1) / 2`` on the
simplex: the Euclidean projection of the scores onto the simplex.

Derivatives are hand-derived ``jax.custom_jvp`` rules (see docs/losses.md),
except in ``make_fenchel_young_loss``, whose ``Omega*`` is the caller's
function: there the rule takes ``grad Omega*`` from ``jax.grad``.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
import numpy as np

from losses import _common as C
from losses._common import Axis

_NAN = float("nan")


# --- sparsemax: the Euclidean projection onto the simplex ----------------------
@jax.custom_jvp
def _sparsemax(z):
  """argmin_{p in simplex} ||p - z||^2 over the last axis (Martins &
  Astudillo 2016, Alg. 1): ``p = max(z - tau, 0)`` with tau chosen so that
  sum p = 1. With the scores sorted decreasingly (u), the support is the first
  k* of them, k* = max{k : 1 + k u_k > sum_{j<=k} u_j}, and
  ``tau = (sum_{j<=k*} u_j - 1) / k*``."""
  # sparsemax(z + c) = sparsemax(z): subtracting the max keeps the cumulative
  # sums small, so logits of 1e4 lose no precision in tau
  zs = z - jnp.max(z, axis=-1, keepdims=True)
  u = -jnp.sort(-zs, axis=-1)  # decreasing
  k = jnp.arange(1, z.shape[-1] + 1, dtype=z.dtype)
  cum = jnp.cumsum(u, axis=-1)
  # the condition holds exactly for k = 1..k* (it is monotone in k), so the
  # support's sum is the sum of u where it holds: no gather at k*
  in_support = 1.0 + k * u > cum
  k_star = jnp.sum(in_support, axis=-1, keepdims=True).astype(z.dtype)
  tau = (jnp.sum(jnp.where(in_support, u, 0.0), axis=-1, keepdims=True) - 1.0) / k_star
  return C.relu(zs - tau)


def _sparsemax_jvp(primals, tangents):
  (z,), (tz,) = primals, tangents
  p = _sparsemax(z)
  if not C.has_tangent(tz):
    return p, jnp.zeros_like(p)
  # Jacobian diag(s) - s s^T / |S|, s the support indicator (Martins &
  # Astudillo 2016, Prop. 2): the tangent restricted to the support, minus its
  # mean there. s is piecewise constant in z, so the second derivative of
  # sparsemax is 0, exact away from changes of support.
  s = (p > 0).astype(p.dtype)
  mean = jnp.sum(s * tz, axis=-1, keepdims=True) / jnp.sum(s, axis=-1, keepdims=True)
  return p, s * (tz - mean)


_sparsemax.defjvp(_sparsemax_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def sparsemax(logits: ArrayLike, *, axis: Axis = -1) -> jax.Array:
  """Sparsemax (Martins & Astudillo 2016; ``optax.projections.projection_simplex``
  applied along ``axis``): the Euclidean projection of the logits onto the
  probability simplex, ``p = max(z - tau, 0)`` with the threshold tau found
  exactly by sorting. Unlike softmax, small scores get probability exactly 0.

  E.g. ``sparsemax([1, 0.5, -2]) = [0.75, 0.25, 0]`` (tau = 0.25).
  Derivative, given as a custom JVP: the Jacobian ``diag(s) - s s^T / |S|``
  on the support S (s its indicator); second derivatives are 0 (the Jacobian
  is piecewise constant). ``axis`` may be a tuple (those axes form one
  distribution). Not a loss: returns the shape of ``logits``.
  """
  fn = "sparsemax"
  C.check_floating(logits, "logits", fn)
  C.check_min_rank(logits, 1, "logits", fn)
  z = jnp.asarray(logits)
  axes = C.normalize_axes(axis, z.ndim, fn)
  cdt, odt = C.compute_dtype(z)
  p = _sparsemax(C.classes_last(z, axes).astype(cdt))
  # undo classes_last: unflatten the class axes, then invert the transpose
  perm = tuple(i for i in range(z.ndim) if i not in axes) + axes
  p = p.reshape(tuple(z.shape[i] for i in perm))
  return jnp.transpose(p, tuple(np.argsort(perm))).astype(odt)


# --- binary sparsemax loss ------------------------------------------------------
def _nan_outside_unit(t):
  """A label outside [0, 1] becomes NaN, which then reaches the value and
  every derivative through the arithmetic (one select instead of one each)."""
  return jnp.where((t < 0.0) | (t > 1.0), _NAN, t)


@jax.custom_jvp
def _bsml(z, t):
  # sparse_plus(z) - t z + t^2 - t, written per piece without cancellation
  # (each piece is a product of non-negative factors when 0 <= t <= 1), and
  # 0 * inf = 0 for an infinite logit that agrees with its label
  t = _nan_outside_unit(t)
  mid = jnp.square(0.5 * (z + 1.0) - t)
  hi = jnp.where(t == 1.0, 0.0, (1.0 - t) * (z - t))
  lo = jnp.where(t == 0.0, 0.0, t * (t - 1.0 - z))
  return jnp.where(z >= 1.0, hi, jnp.where(z <= -1.0, lo, mid))


def _bsml_jvp(primals, tangents):
  z, t = primals
  tz, tt = tangents
  v = _bsml(z, t)
  t = _nan_outside_unit(t)
  terms = []
  if C.has_tangent(tz):
    # prediction minus target: sparse_sigmoid(z) - t (Blondel et al. 2020)
    terms.append((0.5 * jnp.clip(z + 1.0, 0.0, 2.0) - t) * tz)
  if C.has_tangent(tt):
    # d/dt (Omega(t) - t z) = 2t - 1 - z
    terms.append((2.0 * t - 1.0 - z) * tt)
  return v, C.tangent_sum(v, terms)


_bsml.defjvp(_bsml_jvp, symbolic_zeros=True)


@jax.jit
def _bsml_jit(logits, labels, where, weights):
  return C.elementwise(
    "sparsemax_loss", _bsml, logits, labels, where, weights, names=("logits", "labels")
  )


def sparsemax_loss(
  logits: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
) -> jax.Array:
  """Binary sparsemax loss, elementwise (optax parity:
  ``optax.losses.sparsemax_loss``; Blondel et al. 2020, Sec. 4.4).

  For a 0/1 label it is optax's ``sparse_plus(z)`` (label 0) or
  ``sparse_plus(-z)`` (label 1), with ``sparse_plus(x)`` = 0 for x <= -1,
  ``(x + 1)^2 / 4`` on (-1, 1), x for x >= 1. Labels may also be soft targets
  t in [0, 1]: the value is then the Fenchel-Young loss
  ``sparse_plus(z) - t z + t^2 - t``, which is 0 exactly when
  ``jax.nn.sparse_sigmoid(z) == t`` (on (-1, 1) it is ``(sparse_sigmoid(z) -
  t)^2``). optax instead reads any nonzero label as 1 (``where(labels, -z,
  z)``): 0.5 or -1 count as positives there. Here a label outside [0, 1]
  raises ValueError when concrete and gives NaN under ``jax.jit``.

  Gradient, given as a custom JVP: ``sparse_sigmoid(z) - t`` (0 beyond the
  margin of 1), and ``2 t - 1 - z`` w.r.t. the labels. Returns logits.shape.
  """
  fn = "sparsemax_loss"
  C.check_floating(logits, "logits", fn)
  C.check_real(labels, "labels", fn)
  C.check_same_shape(logits, labels, "logits", "labels", fn)
  C.check_broadcast_to(where, jnp.shape(logits), "where", fn)
  if C.is_concrete(labels) and (where is None or C.is_concrete(where)):
    arr = np.asarray(labels, dtype=np.float64)
    if where is not None:  # masked entries may hold anything
      arr = arr[np.broadcast_to(np.asarray(where, bool), arr.shape)]
    out = arr[(arr < 0) | (arr > 1)]  # NaN is not flagged
    if out.size:
      raise ValueError(
        f"{fn}: labels must lie in [0, 1] (0/1 labels or soft targets), "
        f"got {out.size} outside, e.g. {out[0]}."
      )
  return _bsml_jit(logits, labels, where, weights)


# --- multiclass sparsemax loss ----------------------------------------------------
@jax.custom_jvp
def _msml(z, labels):
  lab, ignore, bad = C.label_status(labels, z.shape[-1])
  p = _sparsemax(z)
  zy = jnp.take_along_axis(z, lab[..., None], axis=-1)
  # 1/2 sum_S (z_j^2 - tau^2) + 1/2 - z_y written as
  # <p, z - z_y> + (1 - <p, p>) / 2: differences of logits only, so a common
  # offset of 1e4 cancels exactly instead of squaring to 1e8
  v = jnp.sum(p * (z - zy), axis=-1) + 0.5 * (1.0 - jnp.sum(p * p, axis=-1))
  return jnp.where(bad, _NAN, jnp.where(ignore, 0.0, v))


def _msml_jvp(primals, tangents):
  z, labels = primals
  tz = tangents[0]
  v = _msml(z, labels)
  if not C.has_tangent(tz):
    return v, jnp.zeros_like(v)
  lab, ignore, bad = C.label_status(labels, z.shape[-1])
  # prediction minus target: sparsemax(z) - onehot(y). Its derivative, the
  # second derivative of the loss, is the sparsemax Jacobian (from
  # _sparsemax's own rule): piecewise constant, exact away from support changes
  gz = _sparsemax(z) - C.one_hot_like(z, lab)
  gz = jnp.where(bad[..., None], _NAN, jnp.where(ignore[..., None], jnp.zeros((), gz.dtype), gz))
  return v, jnp.sum(gz * tz, axis=-1)


_msml.defjvp(_msml_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("axis",))
def _msml_jit(logits, labels, where, weights, axis):
  z, lab, mask, odt = C.label_setup(
    "multiclass_sparsemax_loss", logits, labels, axis, where, weights
  )
  return C.finish(_msml(z, lab), mask, weights, odt)


def multiclass_sparsemax_loss(
  logits: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
) -> jax.Array:
  """Multiclass sparsemax loss (optax parity:
  ``optax.losses.multiclass_sparsemax_loss``; Martins & Astudillo 2016, eq. 21):
  ``L = 1/2 sum_{j in S} (z_j^2 - tau^2) + 1/2 - z_y`` with S and tau those of
  ``sparsemax(z)``; computed as ``<p, z - z_y> + (1 - ||p||^2) / 2``,
  ``p = sparsemax(z)``. It is the Fenchel-Young loss of the Gini regularizer,
  >= 0, and 0 exactly when ``p`` is the one-hot of y.

  Gradient, given as a custom JVP: ``sparsemax(z) - onehot(y)``; the Hessian is
  the sparsemax Jacobian ``diag(s) - s s^T / |S|``.
  E.g. ``z = (1, 0.5, -2)``, y = 0: p = (0.75, 0.25, 0), L = 0.0625.
  Labels: negative -> ignored (loss 0, gradient 0); >= C -> ValueError
  (concrete) / NaN (jit). ``axis`` may be an int or a tuple.
  Returns logits.shape without ``axis``.
  """
  fn = "multiclass_sparsemax_loss"
  C.eager_label_check(fn, logits, labels, axis)
  return _msml_jit(logits, labels, where, weights, axis)


# --- Fenchel-Young losses from a regularized max ----------------------------------
def make_fenchel_young_loss(max_fn: Callable[[jax.Array], jax.Array]) -> Callable[..., jax.Array]:
  """A Fenchel-Young loss from a regularized max function (optax parity:
  ``optax.losses.make_fenchel_young_loss``; Blondel et al. 2020).

  ``max_fn`` is ``Omega*``: a scalar function of one score vector of shape
  (K,), e.g. ``jax.nn.logsumexp`` (Omega = negative Shannon entropy, giving
  the softmax cross-entropy). Bind extra arguments with ``functools.partial``.
  Returns the jitted
  ``loss(scores, targets, *, where=None, weights=None, axis=-1)`` =
  ``Omega*(theta) - <theta, t>`` per example, reduced over ``axis`` (int or
  tuple). As in optax the term ``Omega(t)`` is omitted: it does not depend on
  theta, so the gradient in theta is unchanged, but the minimum is ``-Omega(t)``
  rather than 0 (e.g. with logsumexp and one-hot t it is the cross-entropy;
  with soft t, sum t = 1, it is the cross-entropy ``lse(z) - <t, z>`` too).

  Derivatives, given as a custom JVP: w.r.t. theta ``grad Omega*(theta) - t``
  (prediction minus target), w.r.t. t ``-theta``. This is the one loss whose
  derivative is not hand-written: ``grad Omega*`` (the regularized prediction,
  e.g. softmax for logsumexp) belongs to the caller's ``max_fn``, so the rule
  takes it from ``jax.grad(max_fn)``. Forward and reverse mode need ``max_fn``
  differentiable in reverse mode (a ``custom_vjp`` max is fine); second
  derivatives need it twice differentiable.
  """
  if not callable(max_fn):
    raise ValueError(
      f"make_fenchel_young_loss: max_fn must be callable, got {type(max_fn).__name__}."
    )
  name = getattr(max_fn, "__name__", type(max_fn).__name__)
  fn = f"fenchel_young_loss[{name}]"

  def rowwise(f, theta):
    """f (vector -> anything) over the rows of theta (..., K)."""
    flat = theta.reshape((-1, theta.shape[-1]))
    out = jax.vmap(f)(flat)
    return out.reshape(theta.shape[:-1] + out.shape[1:])

  def check_scalar(theta):
    out = jax.eval_shape(max_fn, jax.ShapeDtypeStruct(theta.shape[-1:], theta.dtype))
    if getattr(out, "shape", None) != ():
      raise ValueError(
        f"{fn}: max_fn must map a score vector of shape "
        f"{theta.shape[-1:]} to a scalar, got "
        f"{getattr(out, 'shape', out)}."
      )

  def dot(theta, t):
    # 0 * -inf = 0: a class with zero target may have score -inf
    return jnp.sum(jnp.where(t != 0, theta * t, 0.0), axis=-1)

  @jax.custom_jvp
  def core(theta, t):
    return rowwise(max_fn, theta).astype(theta.dtype) - dot(theta, t)

  def core_jvp(primals, tangents):
    theta, t = primals
    dtheta, dt = tangents
    v = core(theta, t)
    terms = []
    if C.has_tangent(dtheta):
      prediction = rowwise(jax.grad(max_fn), theta)  # grad Omega*(theta)
      terms.append(jnp.sum((prediction - t) * dtheta, axis=-1))
    if C.has_tangent(dt):
      terms.append(-jnp.sum(theta * dt, axis=-1))
    return v, C.tangent_sum(v, terms)

  core.defjvp(core_jvp, symbolic_zeros=True)

  def fenchel_young_loss(scores, targets, *, where=None, weights=None, axis=-1):
    theta, t, mask, odt = C.axis_setup(
      fn, scores, targets, axis, where, weights, ("scores", "targets")
    )
    check_scalar(theta)
    return C.finish(core(theta, t), mask, weights, odt)

  fenchel_young_loss.__name__ = "fenchel_young_loss"
  fenchel_young_loss.__qualname__ = "fenchel_young_loss"
  fenchel_young_loss.__doc__ = (
    f"Fenchel-Young loss of ``{name}``: ``{name}(theta) - <theta, t>`` "
    "over ``axis``; gradient ``grad max_fn(theta) - t`` (see "
    "``losses.make_fenchel_young_loss``)."
  )
  return jax.jit(fenchel_young_loss, static_argnames=("axis",))
