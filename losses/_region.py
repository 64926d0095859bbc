"""The machinery of the region losses of :mod:`losses._dense` (and of the
generalized Dice in :mod:`losses._segmentation`): input layout and checks, the
activations, and the ratio core with its hand-derived custom JVP.

Layout: ``logits`` and ``targets`` have the same shape. ``mode``:
 * ``"binary"``: ``(..., *spatial)`` — one mask, sigmoid;
 * ``"multilabel"``: ``(..., *spatial, C)`` (class ``axis``) — sigmoids;
 * ``"multiclass"``: ``(..., *spatial, C)`` — softmax over the class axis,
   targets one-hot (or soft).
``spatial_dims`` (default 2) trailing non-class axes are summed per example;
the leading axes are the batch, and each example gets one loss. Region scores
are computed per class and averaged over classes.

Options (optax parity, as ``optax.losses.dice_loss`` has them): per-class
``class_weights`` of the class mean, ``ignore_background`` (class 0 left out
of the mean), ``reduce_classes=False`` (per-class values ``(..., C)``) and
``from_logits=False`` (inputs are probabilities: no activation).

The ratio core states its hand-derived partial derivatives as a
``jax.custom_jvp`` rule (``symbolic_zeros=True``), with every option as a
static flag or a traced input of the rule. The rule returns the value by
calling its core, so the value's derivative is again the hand-derived one at
every order, and writes the partials as jnp code that stays exact and finite
when JAX differentiates it again. Hyperparameters enter through ``C.hyper``
(stop_gradient), so their tangents are symbolic zeros and get no term.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from losses import _common as C

_MODES = ("binary", "multiclass", "multilabel")


def _flatten(fn, logits, targets, axis, mode, spatial_dims):
  """Validates the layout; returns (x, t) shaped (*lead, pixels, classes)."""
  if mode not in _MODES:
    raise ValueError(f"{fn}: mode must be one of {_MODES}, got {mode!r}.")
  C.check_floating(logits, "logits", fn)
  C.check_real(targets, "targets", fn)
  C.check_same_shape(logits, targets, "logits", "targets", fn)
  x, t = jnp.asarray(logits), jnp.asarray(targets)
  if mode != "binary":
    C.check_min_rank(x, spatial_dims + 1, "logits", fn)
    ax = C.normalize_axis(axis, x.ndim, fn)
    x, t = jnp.moveaxis(x, ax, -1), jnp.moveaxis(t, ax, -1)
  else:
    C.check_min_rank(x, spatial_dims, "logits", fn)
    x, t = x[..., None], t[..., None]
  lead = x.shape[: x.ndim - 1 - spatial_dims]
  size = math.prod(x.shape[len(lead) : -1])
  x = x.reshape(lead + (size, x.shape[-1]))
  return x, t.reshape(x.shape)


def _start(fn, mode, num_classes, ignore_background):
  """First class of the class mean: 1 drops the background class 0."""
  if not ignore_background:
    return 0
  if mode == "binary" or num_classes < 2:
    raise ValueError(
      f"{fn}: ignore_background=True drops class 0 of the class axis and "
      f"needs mode 'multiclass' or 'multilabel' with >= 2 classes (got mode "
      f"{mode!r} with {num_classes} class(es))."
    )
  return 1


def _out_shape(x, per_class, start):
  return x.shape[:-2] + ((x.shape[-1] - start,) if per_class else ())


def _layout(
  fn,
  logits,
  targets,
  axis,
  mode,
  spatial_dims,
  where,
  weights,
  per_class=False,
  ignore_background=False,
):
  """(x, t, mask, out_dtype, start): inputs cast to the compute dtype, entries
  of masked outputs replaced by zeros (inner ``where``). Per-class outputs:
  a sigmoid class is masked on its own; softmax couples the classes, so an
  example's inputs are replaced only when all its classes are masked."""
  x, t = _flatten(fn, logits, targets, axis, mode, spatial_dims)
  start = _start(fn, mode, x.shape[-1], ignore_background)
  out = _out_shape(x, per_class, start)
  C.check_broadcast_to(where, out, "where", fn)
  C.check_broadcast_to(weights, out, "weights", fn)
  cdt, odt = C.compute_dtype(x, t)
  mask = C.as_mask(where, out)
  m = mask
  if mask is not None and per_class:
    if mode == "multiclass":
      m = jnp.any(mask, axis=-1)
    else:  # class 0 (if dropped) is never read: give it the example's mask
      m = jnp.concatenate([jnp.any(mask, -1, keepdims=True)] * start + [mask], axis=-1)[
        ..., None, :
      ]
  m = m if m is None or m.ndim == x.ndim else C.expand_mask(m, 2)
  return (C.safe(x.astype(cdt), m), C.safe(t.astype(cdt), m), mask, odt, start)


def _check_probabilities(
  fn, probs, targets, axis, mode, spatial_dims, where, per_class, ignore_background
):
  """Eager guard for ``from_logits=False``: concrete inputs must be
  probabilities in [0, 1] (and, multiclass, rows summing to 1 over the class
  axis). Masked examples are not inspected; NaN is left to propagate."""
  if not (C.is_concrete(probs) and C.is_concrete(where)):
    return
  x, _ = _flatten(fn, probs, targets, axis, mode, spatial_dims)
  start = _start(fn, mode, x.shape[-1], ignore_background)
  out = _out_shape(x, per_class, start)
  C.check_broadcast_to(where, out, "where", fn)
  arr = np.asarray(x.astype(jnp.promote_types(x.dtype, jnp.float32)))
  if where is not None:
    keep = np.broadcast_to(np.asarray(where, bool), out)
    arr = arr[keep.any(-1) if per_class else keep]
  if arr.size == 0:
    return
  C.check_unit_interval(
    arr,
    fn,
    "from_logits=False expects probabilities",
    "; pass logits with from_logits=True (the default) instead",
  )
  if mode == "multiclass":
    sums = arr.sum(-1)
    # a sum of C float roundings: 4 C ulp, but never tighter than 1e-5
    tol = max(1e-5, 4 * arr.shape[-1] * float(jnp.finfo(x.dtype).eps))
    if np.any(np.abs(sums - 1.0) > tol):
      raise ValueError(
        f"{fn}: mode='multiclass' with from_logits=False expects "
        f"probabilities that sum to 1 over the class axis (within {tol:.1e}),"
        f" got sums in [{np.nanmin(sums):.6g}, {np.nanmax(sums):.6g}]; pass "
        "logits with from_logits=True (the default), or per-class "
        "probabilities with mode='multilabel'."
      )


# --- activations ----------------------------------------------------------------
def _activate(z, act):
  if act == "softmax":
    return jax.nn.softmax(z, axis=-1)
  return jax.nn.sigmoid(z) if act == "sigmoid" else z


def _activation_jvp(p, tz, act):
  if act == "softmax":  # notes 001/003: dp_a/dz_b = p_a (delta_ab - p_b)
    return p * (tz - jnp.sum(p * tz, axis=-1, keepdims=True))
  return p * (1.0 - p) * tz if act == "sigmoid" else tz  # sigma' = s (1 - s)


def _act(mode, from_logits):
  if not from_logits:
    return "identity"
  return "softmax" if mode == "multiclass" else "sigmoid"


# --- region ratio losses: 1 - mean_c (nI I + s) / (dI I + dP P + dT T + s) ----
def _ratio_parts(p, t, coef, smooth):
  """Per class: the ratio r = N / D and its partials w.r.t. I, P and T
  (quotient rule: d(N/D) = (dN D - N dD) / D^2)."""
  i = jnp.sum(p * t, axis=-2)
  sp, st = jnp.sum(p, axis=-2), jnp.sum(t, axis=-2)
  num = coef[0] * i + smooth
  den = coef[1] * i + coef[2] * sp + coef[3] * st + smooth
  inv = 1.0 / (den * den)
  return (
    num / den,
    (coef[0] * den - coef[1] * num) * inv,
    -coef[2] * num * inv,
    -coef[3] * num * inv,
  )


def _class_mean(r, cw, reduce):
  """Per-class losses cw_c (1 - r_c), averaged over the classes if reduce."""
  if cw is None:
    return 1.0 - jnp.mean(r, axis=-1) if reduce else 1.0 - r
  lc = cw * (1.0 - r)
  return jnp.mean(lc, axis=-1) if reduce else lc


@functools.partial(jax.custom_jvp, nondiff_argnums=(5,))
def _ratio(z, t, coef, smooth, cw, spec):
  """spec = (activation, reduce, start): static. ``start`` = 1 drops class 0
  after a softmax over all classes (sigmoid inputs are sliced beforehand).
  ``cw`` (None, or class weights broadcasting against (..., C)) is an input
  of the rule: a hyperparameter for ``dice``, a function of the targets for
  ``generalized_dice``."""
  act, reduce, start = spec
  r = _ratio_parts(_activate(z, act)[..., start:], t[..., start:], coef, smooth)[0]
  return _class_mean(r, None if cw is None else cw[..., start:], reduce)


def _ratio_jvp(spec, primals, tangents):
  z, t, coef, smooth, cw = primals
  tz, tt, _, _, tcw = tangents  # coef, smooth: hyperparameters (C.hyper)
  act, reduce, start = spec
  v = _ratio(z, t, coef, smooth, cw, spec)
  p = _activate(z, act)
  ps, ts = p[..., start:], t[..., start:]
  r, a, b_p, b_t = _ratio_parts(ps, ts, coef, smooth)
  # chain rule through the per-class sums: dI = sum(t dp + p dt),
  # dP = sum(dp), dT = sum(dt)
  dr = []
  if C.has_tangent(tz):
    dp = _activation_jvp(p, tz, act)[..., start:]
    dr.append(a * jnp.sum(ts * dp, axis=-2) + b_p * jnp.sum(dp, axis=-2))
  if C.has_tangent(tt):
    dt = tt[..., start:]
    dr.append(a * jnp.sum(ps * dt, axis=-2) + b_t * jnp.sum(dt, axis=-2))
  # per-class loss cw_c (1 - r_c): d = -cw_c dr_c + (1 - r_c) dcw_c
  terms = []
  if dr:
    dr = C.tangent_sum(r, dr)
    terms.append(-dr if cw is None else -cw[..., start:] * dr)
  if cw is not None and C.has_tangent(tcw):
    terms.append((1.0 - r) * tcw[..., start:])
  dl = C.tangent_sum(r, terms)
  dl = jnp.broadcast_to(dl, jnp.broadcast_shapes(dl.shape, r.shape))
  return v, (jnp.mean(dl, axis=-1) if reduce else dl)


_ratio.defjvp(_ratio_jvp, symbolic_zeros=True)


def _apply_ratio(z, t, coef, smooth, cw, act, reduce, start):
  """Drops class 0 before an elementwise sigmoid (so its inputs are never
  read) or after the softmax, which needs every class."""
  if start and act != "softmax":
    z, t = z[..., start:], t[..., start:]
    cw = None if cw is None else cw[..., start:]
    start = 0
  return _ratio(z, t, coef, smooth, cw, (act, reduce, start))


_STATIC = ("axis", "mode", "spatial_dims")
_OPTIONS = ("ignore_background", "reduce_classes", "from_logits")


@functools.partial(jax.jit, static_argnames=("fn",) + _STATIC + _OPTIONS)
def _region_jit(
  fn,
  coef,
  logits,
  targets,
  where,
  weights,
  class_weights,
  axis,
  mode,
  spatial_dims,
  smooth,
  ignore_background,
  reduce_classes,
  from_logits,
):
  z, t, mask, odt, start = _layout(
    fn,
    logits,
    targets,
    axis,
    mode,
    spatial_dims,
    where,
    weights,
    not reduce_classes,
    ignore_background,
  )
  coef = C.hyper(jnp.stack([jnp.asarray(c, z.dtype) for c in coef]), z.dtype)
  cw = None
  if class_weights is not None:
    n = z.shape[-1]
    if jnp.ndim(class_weights) > 1 or jnp.shape(class_weights) not in ((), (n,)):
      raise ValueError(
        f"{fn}: class_weights must be a scalar or have shape ({n},) (one "
        f"weight per class), got shape {tuple(jnp.shape(class_weights))}."
      )
    cw = C.hyper(jnp.broadcast_to(class_weights, (n,)), z.dtype)
  v = _apply_ratio(
    z, t, coef, C.hyper(smooth, z.dtype), cw, _act(mode, from_logits), reduce_classes, start
  )
  return C.finish(v, mask, weights, odt)


def _region(
  fn,
  coef,
  logits,
  targets,
  where,
  weights,
  axis,
  mode,
  spatial_dims,
  smooth,
  class_weights,
  ignore_background,
  reduce_classes,
  from_logits,
):
  # a negative smoothing term can zero the denominator, and a negative class
  # weight turns that class's loss into a reward
  C.check_hyperparameter(smooth, "smooth", fn, ">= 0")
  C.check_hyperparameter(class_weights, "class_weights", fn, ">= 0")
  if not from_logits:
    _check_probabilities(
      fn, logits, targets, axis, mode, spatial_dims, where, not reduce_classes, ignore_background
    )
  return _region_jit(
    fn,
    coef,
    logits,
    targets,
    where,
    weights,
    class_weights,
    axis,
    mode,
    spatial_dims,
    smooth,
    ignore_background,
    reduce_classes,
    from_logits,
  )
