"""Reference formulas of the dense-prediction (segmentation) losses, notes 004;
re-exported by ``losses.reference``, whose conventions they follow (plain
``jax.numpy``, no custom derivatives)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses._reference_common import _bce_logits, log_softmax, sigmoid


# --- dense (004) --------------------------------------------------------------------
def _probs(z, mode):
  return jax.nn.softmax(z, -1) if mode == "multiclass" else sigmoid(z)


def _flat(z, t, mode, spatial_dims):
  if mode == "binary":
    z, t = z[..., None], t[..., None]
  lead = z.shape[: z.ndim - 1 - spatial_dims]
  return (z.reshape(lead + (-1, z.shape[-1])), t.reshape(lead + (-1, z.shape[-1])))


def _overlaps(z, t, mode, spatial_dims, from_logits=True, start=0):
  z, t = _flat(z, t, mode, spatial_dims)
  p = _probs(z, mode) if from_logits else z
  p, t = p[..., start:], t[..., start:]  # start = 1: background dropped
  return jnp.sum(p * t, -2), jnp.sum(p, -2), jnp.sum(t, -2)


def _class_mean(r, class_weights, start, reduce_classes):
  # optax parity: mean_c w_c (1 - r_c) (or the per-class values)
  loss = 1.0 - r
  if class_weights is not None:
    loss = loss * jnp.broadcast_to(class_weights, (start + r.shape[-1],))[start:]
  return jnp.mean(loss, -1) if reduce_classes else loss


def dice(
  z,
  t,
  mode="multiclass",
  spatial_dims=2,
  smooth=1.0,
  class_weights=None,
  ignore_background=False,
  reduce_classes=True,
  from_logits=True,
):
  s = int(ignore_background)
  i, p, tt = _overlaps(z, t, mode, spatial_dims, from_logits, s)
  return _class_mean((2 * i + smooth) / (p + tt + smooth), class_weights, s, reduce_classes)


def jaccard(
  z,
  t,
  mode="multiclass",
  spatial_dims=2,
  smooth=1.0,
  class_weights=None,
  ignore_background=False,
  reduce_classes=True,
  from_logits=True,
):
  s = int(ignore_background)
  i, p, tt = _overlaps(z, t, mode, spatial_dims, from_logits, s)
  return _class_mean((i + smooth) / (p + tt - i + smooth), class_weights, s, reduce_classes)


def tversky(
  z,
  t,
  mode="multiclass",
  spatial_dims=2,
  alpha=0.5,
  beta=0.5,
  smooth=1.0,
  class_weights=None,
  ignore_background=False,
  reduce_classes=True,
  from_logits=True,
):
  s = int(ignore_background)
  i, p, tt = _overlaps(z, t, mode, spatial_dims, from_logits, s)
  ti = (i + smooth) / (i + alpha * (p - i) + beta * (tt - i) + smooth)
  return _class_mean(ti, class_weights, s, reduce_classes)


def sigmoid_focal(z, t, gamma=2.0, alpha=0.25):
  p = sigmoid(z)
  p_t = p * t + (1.0 - p) * (1.0 - t)
  a_t = 1.0 if alpha is None else alpha * t + (1.0 - alpha) * (1.0 - t)
  return a_t * (1.0 - p_t) ** gamma * _bce_logits(z, t)


def softmax_focal(z, t, gamma=2.0, alpha=None):
  lp = log_softmax(z)
  a = 1.0 if alpha is None else alpha
  return -jnp.sum(a * t * (1.0 - jnp.exp(lp)) ** gamma * lp, axis=-1)


def dice_cross_entropy(
  z, t, mode="multiclass", spatial_dims=2, smooth=1.0, dice_weight=1.0, ce_weight=1.0
):
  zf, tf = _flat(z, t, mode, spatial_dims)
  if mode == "multiclass":
    ce = jnp.mean(-jnp.sum(tf * log_softmax(zf), -1), -1)
  else:
    ce = jnp.mean(_bce_logits(zf, tf), axis=(-2, -1))
  return dice_weight * dice(z, t, mode, spatial_dims, smooth) + ce_weight * ce
