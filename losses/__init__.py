"""Loss catalogue (provisional bootstrap; full implementation in progress).

Convention: elementwise losses (squared_error, sigmoid_binary_cross_entropy, ...)
return values with the same shape as their inputs; losses that are naturally
vector-valued (softmax cross-entropy) reduce over ``axis`` only. Nothing is
reduced over the batch: use ``losses.reduce``.
"""
import jax
import jax.numpy as jnp


def _mask(values, where):
  if where is None:
    return values
  where = jnp.broadcast_to(where, values.shape)
  return jnp.where(where, values, 0.0)


def reduce(values, *, where=None, weights=None, how="mean"):
  values = jnp.asarray(values)
  w = jnp.ones(values.shape, values.dtype)
  if where is not None:
    w = jnp.where(jnp.broadcast_to(where, values.shape), w, 0.0)
  if weights is not None:
    w = w * jnp.broadcast_to(weights, values.shape)
  safe = jnp.where(w != 0, values, 0.0)
  total = jnp.sum(safe * w)
  if how == "sum":
    return total
  denom = jnp.sum(w) if how == "weighted_mean" else jnp.sum(w != 0).astype(values.dtype)
  if how == "mean" and weights is not None:
    denom = jnp.sum(w != 0).astype(values.dtype)
  return jnp.where(denom > 0, total / jnp.where(denom > 0, denom, 1.0), 0.0)


def squared_error(predictions, targets, *, where=None, weights=None, axis=-1):
  del axis
  v = jnp.square(predictions - targets)
  if weights is not None:
    v = v * weights
  return _mask(v, where)


def sigmoid_binary_cross_entropy(logits, labels, *, where=None, weights=None,
                                 pos_weight=None, label_smoothing=0.0):
  labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
  log_p = jax.nn.log_sigmoid(logits)
  log_not_p = jax.nn.log_sigmoid(-logits)
  pw = 1.0 if pos_weight is None else pos_weight
  v = -(pw * labels * log_p + (1.0 - labels) * log_not_p)
  if weights is not None:
    v = v * weights
  return _mask(v, where)


def softmax_cross_entropy_with_integer_labels(logits, labels, *, where=None,
                                              weights=None, axis=-1,
                                              label_smoothing=0.0):
  logits = jnp.moveaxis(logits, axis, -1)
  n = logits.shape[-1]
  lse = jax.nn.logsumexp(logits, axis=-1)
  ignore = labels < 0
  safe_labels = jnp.where(ignore, 0, labels)
  picked = jnp.take_along_axis(logits, safe_labels[..., None], axis=-1)[..., 0]
  v = lse - (1 - label_smoothing) * picked - label_smoothing * jnp.mean(logits, axis=-1)
  v = jnp.where(ignore, 0.0, v)
  if weights is not None:
    v = v * weights
  return _mask(v, where)
