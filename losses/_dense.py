"""Dense-prediction (segmentation) region losses (note 004 "Loss and Metrics":
Dice ``2|A n B| / (|A| + |B|)``, Jaccard/IoU ``|A n B| / |A u B|``, Tversky,
Dice + CE). The generalized Dice loss (optax parity) is in
:mod:`losses._segmentation`, the focal losses in :mod:`losses._focal`.

Layout, options and the hand-derived rule of the ratio core: :mod:`losses._region`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _classification
from losses import _common as C
from losses import _multiclass
from losses._common import Axis
from losses._region import _STATIC, _layout, _ratio, _region


_OPTIONS_DOC = """
  Options (optax parity; every one keeps the hand-derived rule):
  ``class_weights`` (scalar or (C,), traced, zero gradient): the class mean
  becomes ``mean_c w_c (1 - r_c)`` (divided by the number of classes, not by
  the weights' sum, like optax); ``ignore_background``: class 0 is left out
  of the mean (after the softmax over all classes; not in binary mode);
  ``reduce_classes=False``: per-class values ``w_c (1 - r_c)`` of shape
  ``(..., C)`` (``(..., C - 1)`` without the background), whose mean over
  the last axis is the reduced loss; ``where``/``weights`` then broadcast to
  that shape. ``from_logits=False``: the inputs are probabilities and the
  activation is skipped; concrete inputs outside [0, 1] (multiclass: rows not
  summing to 1) raise ``ValueError``. ``smooth`` and ``class_weights`` must
  be >= 0 (``ValueError`` when concrete; unchecked under ``jax.jit``).
"""


def dice(
  logits: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  mode: str = "multiclass",
  spatial_dims: int = 2,
  smooth: ArrayLike = 1.0,
  class_weights: ArrayLike | None = None,
  ignore_background: bool = False,
  reduce_classes: bool = True,
  from_logits: bool = True,
) -> jax.Array:
  return _region(
    "dice",
    (2.0, 0.0, 1.0, 1.0),
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
  )


dice.__doc__ = (
  """Soft Dice loss ``1 - mean_c (2 I_c + s) / (P_c + T_c + s)``
  (note 004), ``I = sum p t``, ``P = sum p``, ``T = sum t`` over the spatial
  axes.

  Gradient (quotient rule), given as a custom JVP: ``dD/dp = (2 t (P + T +
  s) - (2 I + s)) / (P + T + s)^2``, then through the sigmoid/softmax; w.r.t.
  the targets ``dD/dt = (2 p (P + T + s) - (2 I + s)) / (P + T + s)^2``. Equals
  ``optax.dice_loss`` with ``smooth / 2`` (optax smooths (I + s) / (...)).
"""
  + _OPTIONS_DOC
)


def jaccard(
  logits: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  mode: str = "multiclass",
  spatial_dims: int = 2,
  smooth: ArrayLike = 1.0,
  class_weights: ArrayLike | None = None,
  ignore_background: bool = False,
  reduce_classes: bool = True,
  from_logits: bool = True,
) -> jax.Array:
  return _region(
    "jaccard",
    (1.0, -1.0, 1.0, 1.0),
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
  )


jaccard.__doc__ = (
  """Soft Jaccard/IoU loss ``1 - mean_c (I + s) / (P + T - I +
  s)`` (note 004 IoU). Gradient by the quotient rule, then through the
  activation.
"""
  + _OPTIONS_DOC
)


def tversky(
  logits: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  mode: str = "multiclass",
  spatial_dims: int = 2,
  alpha: ArrayLike = 0.5,
  beta: ArrayLike = 0.5,
  smooth: ArrayLike = 1.0,
  class_weights: ArrayLike | None = None,
  ignore_background: bool = False,
  reduce_classes: bool = True,
  from_logits: bool = True,
) -> jax.Array:
  C.check_hyperparameter(alpha, "alpha", "tversky", ">= 0")
  C.check_hyperparameter(beta, "beta", "tversky", ">= 0")
  coef = (1.0, 1.0 - alpha - beta, alpha, beta)
  return _region(
    "tversky",
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
  )


tversky.__doc__ = (
  """Tversky loss ``1 - mean_c (I + s) / (I + alpha FP + beta
  FN + s)`` with ``FP = P - I``, ``FN = T - I`` (note 004). alpha = beta = 0.5
  is Dice with smoothing 2s; alpha = beta = 1 is Jaccard. Same as
  ``optax.dice_loss(..., alpha, beta)``. ``alpha`` and ``beta`` must be >= 0
  (``ValueError`` when concrete; unchecked under ``jax.jit``).
"""
  + _OPTIONS_DOC
)


# --- Dice + CE --------------------------------------------------------------------
@C.with_hyperparameter_checks(smooth=">= 0", dice_weight=">= 0", ce_weight=">= 0")
@functools.partial(jax.jit, static_argnames=_STATIC)
def dice_cross_entropy(
  logits: ArrayLike,
  targets: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  axis: Axis = -1,
  mode: str = "multiclass",
  spatial_dims: int = 2,
  smooth: ArrayLike = 1.0,
  dice_weight: ArrayLike = 1.0,
  ce_weight: ArrayLike = 1.0,
) -> jax.Array:
  """``dice_weight * dice + ce_weight * mean_pixels CE`` (note 004 "Dice CE").

  CE is softmax CE per pixel (multiclass) or sigmoid BCE per pixel and class
  (binary/multilabel), averaged over the example. Its derivative is the sum
  of the two hand-derived custom JVPs (quotient rule + ``p - t``; w.r.t. the
  targets ``-log p``, at every class). ``smooth``, ``dice_weight`` and
  ``ce_weight`` must be >= 0 (ValueError when concrete; unchecked under
  ``jax.jit``).
  """
  fn = "dice_cross_entropy"
  z, t, mask, odt, _ = _layout(fn, logits, targets, axis, mode, spatial_dims, where, weights)
  softmax = mode == "multiclass"
  d = _ratio(
    z,
    t,
    jnp.asarray([2.0, 0.0, 1.0, 1.0], z.dtype),
    C.hyper(smooth, z.dtype),
    None,
    ("softmax" if softmax else "sigmoid", True, 0),
  )
  if softmax:
    ce = jnp.mean(_multiclass._sce(z, t), axis=-1)  # pylint: disable=protected-access
  else:
    ce = jnp.mean(
      _classification._sbce(z, t, None, jnp.zeros((), z.dtype)),  # pylint: disable=protected-access
      axis=(-2, -1),
    )
  v = C.hyper(dice_weight, z.dtype) * d + C.hyper(ce_weight, z.dtype) * ce
  return C.finish(v, mask, weights, odt)
