"""Generalized Dice loss (Sudre et al. 2017) in the form of
``optax.losses.multiclass_generalized_dice_loss`` (optax parity): Dice with
per-example class weights from the targets. It shares the layout, the
probability check and the hand-derived ratio core of :mod:`losses._region`;
the weights have their own hand-derived ``jax.custom_jvp`` rule, so the
derivative w.r.t. the targets goes through them too, at every order.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C
from losses._common import Axis
from losses._region import _STATIC, _act, _apply_ratio, _check_probabilities, _layout  # pylint: disable=protected-access


@jax.custom_jvp
def _gd_weights(tsum, eps):
  """w_c = C u_c / sum_k u_k, u_c = 1 / (T_c^2 + eps): mean 1 over classes."""
  u = 1.0 / (tsum * tsum + eps)
  return tsum.shape[-1] * u / jnp.sum(u, axis=-1, keepdims=True)


def _gd_weights_jvp(primals, tangents):
  # du_c = -2 T_c u_c^2 dT_c and dw = (C du - w sum du) / sum u; with
  # u_c / sum u = w_c / C this is dw = -h + w mean(h), h = 2 T u w dT, free of
  # u^2 (T u = T / (T^2 + eps) is bounded by 1 / (2 sqrt(eps)))
  tsum, eps = primals
  dtsum, _ = tangents  # eps: a hyperparameter (C.hyper)
  w = _gd_weights(tsum, eps)
  if not C.has_tangent(dtsum):
    return w, jnp.zeros_like(w)
  h = 2.0 * tsum / (tsum * tsum + eps) * w * dtsum
  return w, w * jnp.mean(h, axis=-1, keepdims=True) - h


_gd_weights.defjvp(_gd_weights_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=_STATIC + ("ignore_background", "from_logits"))
def _generalized_dice_jit(
  logits,
  targets,
  where,
  weights,
  axis,
  mode,
  spatial_dims,
  smooth,
  eps,
  ignore_background,
  from_logits,
):
  fn = "generalized_dice"
  z, t, mask, odt, start = _layout(
    fn, logits, targets, axis, mode, spatial_dims, where, weights, False, ignore_background
  )
  # weights from all C classes, background included (as optax normalizes)
  cw = _gd_weights(jnp.sum(t, axis=-2), C.hyper(eps, z.dtype))
  coef = jnp.asarray([2.0, 0.0, 1.0, 1.0], z.dtype)
  v = _apply_ratio(z, t, coef, C.hyper(smooth, z.dtype), cw, _act(mode, from_logits), True, start)
  return C.finish(v, mask, weights, odt)


def generalized_dice(
  logits: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  mode: str = "multiclass",
  spatial_dims: int = 2,
  smooth: ArrayLike = 1.0,
  eps: ArrayLike = 1e-7,
  ignore_background: bool = False,
  from_logits: bool = True,
) -> jax.Array:
  """Generalized Dice loss (Sudre et al. 2017; optax parity with
  ``optax.losses.multiclass_generalized_dice_loss``): the Dice loss with
  class weights from the example's own targets, ``mean_c w_c (1 - (2 I_c +
  s) / (P_c + T_c + s))``, ``w_c = C u_c / sum_k u_k``, ``u_c = 1 / (T_c^2 +
  eps)`` (normalized to mean 1 over all C classes, background included).

  A class absent from the example (T_c = 0) gets ``u_c = 1 / eps``, which
  dominates: its loss ``1 - s / (P_c + s)`` (pushing P_c to 0) carries
  nearly all the weight. ``ignore_background`` drops class 0 after
  normalizing; ``from_logits=False`` as in :func:`dice`.

  Differences from optax: the weights are per example (optax pools T_c over
  the whole batch and returns one scalar: equal for a batch of one); ``s``
  is ours (optax's ``smooth`` is ``s / 2``). Sudre's own form, ``1 - 2 sum
  w I / sum w (P + T)``, is a ratio of weighted sums, not this weighted mean.

  Derivative (custom JVPs): Dice's quotient rule per class, plus through the
  weights (targets only): ``dw = w mean(h) - h``, ``h_c = 2 T_c u_c w_c
  dT_c``.
  ``smooth`` and ``eps`` must be >= 0 (ValueError when concrete; unchecked
  under ``jax.jit``); ``eps = 0`` gives NaN for an example missing a class.
  """
  C.check_hyperparameter(smooth, "smooth", "generalized_dice", ">= 0")
  C.check_hyperparameter(eps, "eps", "generalized_dice", ">= 0")
  if not from_logits:
    _check_probabilities(
      "generalized_dice", logits, targets, axis, mode, spatial_dims, where, False, ignore_background
    )
  return _generalized_dice_jit(
    logits,
    targets,
    where,
    weights,
    axis,
    mode,
    spatial_dims,
    smooth,
    eps,
    ignore_background,
    from_logits,
  )
