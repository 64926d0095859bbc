"""Reference formulas of the losses added for parity with optax's catalogue
(``docs/losses-parity.md``); re-exported by ``losses.reference``, whose
conventions they follow (plain ``jax.numpy``, no custom derivatives)."""

from __future__ import annotations

import jax.numpy as jnp

from losses._reference_common import _onehot, log_softmax
from losses._reference_dense import _flat, _overlaps


# --- similarity (optax parity) -----------------------------------------------------
def _clamped_unit(x, epsilon):  # x / sqrt(max(||x||^2, epsilon)) over the last axis
  return x / jnp.sqrt(jnp.maximum(jnp.sum(x * x, -1, keepdims=True), epsilon))


def cosine_similarity(a, b, epsilon=0.0):
  return jnp.sum(_clamped_unit(a, epsilon) * _clamped_unit(b, epsilon), -1)


def cosine_distance(a, b, epsilon=0.0):
  return 1.0 - cosine_similarity(a, b, epsilon)


def ntxent(e, labels, temperature=0.07):
  """Per anchor i: (A / N) sum_{j in P(i)} -log(e^{s_ij} / (e^{s_ij} +
  sum_{k in N(i)} e^{s_ik})), s = cos / T; A anchors with a positive, N
  ordered positive pairs (so the mean over those anchors is optax's)."""
  u = _clamped_unit(e, jnp.finfo(e.dtype).eps)
  s = jnp.einsum("...id,...jd->...ij", u, u) / temperature
  valid = labels >= 0
  same = labels[..., :, None] == labels[..., None, :]
  both = valid[..., :, None] & valid[..., None, :]
  pos = same & both & ~jnp.eye(e.shape[-2], dtype=bool)
  neg = ~same & both
  negatives = jnp.sum(jnp.where(neg, jnp.exp(s), 0.0), -1, keepdims=True)
  pair = jnp.log(jnp.exp(s) + negatives) - s
  n_pos = jnp.sum(pos, -1)
  scale = jnp.sum(n_pos > 0, -1, keepdims=True) / jnp.maximum(jnp.sum(n_pos, -1, keepdims=True), 1)
  return scale * jnp.sum(jnp.where(pos, pair, 0.0), -1)


# --- sparsemax and Fenchel-Young losses (optax parity) -------------------------
def _sparsemax_tau(z):
  """Martins & Astudillo (2016), Alg. 1: sort decreasingly, the support size
  is k* = max{k : 1 + k u_k > sum_{j<=k} u_j}, tau = (sum_{j<=k*} u_j - 1) / k*."""
  u = jnp.flip(jnp.sort(z, axis=-1), axis=-1)
  k = jnp.arange(1, z.shape[-1] + 1)
  cum = jnp.cumsum(u, axis=-1)
  k_star = jnp.max(jnp.where(1 + k * u > cum, k, 0), axis=-1, keepdims=True)
  return (jnp.take_along_axis(cum, k_star - 1, axis=-1) - 1) / k_star


def sparsemax(z):
  return jnp.maximum(z - _sparsemax_tau(z), 0.0)


def sparsemax_loss(z, t):
  """Fenchel-Young loss of the binary Gini regularizer Omega(t) = t^2 - t:
  sparse_plus(z) + Omega(t) - t z (optax: sparse_plus(-z) for t = 1,
  sparse_plus(z) for t = 0)."""
  sparse_plus = jnp.where(z <= -1, 0.0, jnp.where(z >= 1, z, (z + 1) ** 2 / 4))
  return sparse_plus + t**2 - t - t * z


def multiclass_sparsemax_loss(z, labels):
  """Martins & Astudillo (2016), eq. 21: 1/2 sum_S (z_j^2 - tau^2) + 1/2 - z_y."""
  tau = _sparsemax_tau(z)
  zy = jnp.sum(z * _onehot(labels, z.shape[-1]), axis=-1)
  return 0.5 * jnp.sum(jnp.where(z > tau, z**2 - tau**2, 0.0), axis=-1) + 0.5 - zy


# --- divergences and label smoothing (optax parity) ----------------------------
def poly_loss_cross_entropy(z, t, epsilon=2.0):
  # Leng et al. 2022, Poly-1: CE + epsilon * sum_c t_c (1 - p_c)
  log_p = log_softmax(z)
  return -jnp.sum(t * log_p, axis=-1) + epsilon * jnp.sum(t * (1.0 - jnp.exp(log_p)), axis=-1)


def generalized_kl_divergence(log_q, t):
  # sum_c t_c log(t_c / q_c) - t_c + q_c (interior points: t > 0)
  return jnp.sum(t * (jnp.log(t) - log_q) - t + jnp.exp(log_q), axis=-1)


def smooth_labels(labels, alpha):
  # not a loss: (1 - alpha) labels + alpha / K over the last axis
  return (1.0 - alpha) * labels + alpha / labels.shape[-1]


# --- generalized Dice (optax parity) ------------------------------------------
def generalized_dice(
  z,
  t,
  mode="multiclass",
  spatial_dims=2,
  smooth=1.0,
  eps=1e-7,
  ignore_background=False,
  from_logits=True,
):
  # per example: w_c = C u_c / sum u, u_c = 1 / (T_c^2 + eps), then
  # mean_c w_c (1 - Dice_c)
  _, tf = _flat(z, t, mode, spatial_dims)
  u = 1.0 / (jnp.sum(tf, -2) ** 2 + eps)
  w = u.shape[-1] * u / jnp.sum(u, -1, keepdims=True)
  s = int(ignore_background)
  i, p, tt = _overlaps(z, t, mode, spatial_dims, from_logits, s)
  return jnp.mean(w[..., s:] * (1.0 - (2 * i + smooth) / (p + tt + smooth)), -1)
