"""Plain reference formulas: the autodiff oracle for ``losses``.

Each function here mirrors the public loss of the same name (same positional
arguments and hyperparameters, class/feature axis last, no ``where``/
``weights``) and is written as the formula in the notes with plain
``jax.numpy``, no custom gradients. The tests check that the hand-derived
``custom_jvp`` rule of every public loss gives the same first and second
derivatives, in both modes, as plain autodiff of these (float64, at interior
points). They are clear rather than hardened: use the public
functions for training.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses._reference_common import _bce_logits, _onehot, log_softmax, sigmoid

# The dense-prediction (segmentation) formulas, and those of the losses added for
# optax parity, live in their own files; this module is the one to import.
from losses._reference_dense import (  # noqa: F401
  dice,
  dice_cross_entropy,
  jaccard,
  sigmoid_focal,
  softmax_focal,
  tversky,
)
from losses._reference_parity import (  # noqa: F401
  cosine_distance,
  cosine_similarity,
  generalized_dice,
  generalized_kl_divergence,
  multiclass_sparsemax_loss,
  ntxent,
  poly_loss_cross_entropy,
  smooth_labels,
  sparsemax,
  sparsemax_loss,
)


# --- regression (000, 001) ----------------------------------------------------
def squared_error(s, y):
  return (s - y) ** 2


def absolute_error(s, y):
  return jnp.abs(s - y)


def euclidean_error(s, y):
  return jnp.sqrt(jnp.sum((s - y) ** 2, axis=-1))


def huber(s, y, delta=1.0):
  d = jnp.abs(s - y)
  return jnp.where(d <= delta, 0.5 * d**2, delta * (d - 0.5 * delta))


def smooth_l1(s, y, beta=1.0):
  d = jnp.abs(s - y)
  return jnp.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta)


def log_cosh(s, y):
  return jnp.log(jnp.cosh(s - y))


# --- binary (000, 003) ------------------------------------------------------------
def sigmoid_binary_cross_entropy(z, t, pos_weight=None, label_smoothing=0.0):
  t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
  pw = 1.0 if pos_weight is None else pos_weight
  return -pw * t * jax.nn.log_sigmoid(z) - (1.0 - t) * jax.nn.log_sigmoid(-z)


def binary_cross_entropy(p, t, eps=1e-7):
  # straight-through clamp: value at clip(p), gradient as if unclamped there
  pc = p + jax.lax.stop_gradient(jnp.clip(p, eps, 1.0 - eps) - p)
  return -t * jnp.log(pc) - (1.0 - t) * jnp.log(1.0 - pc)


def sigmoid_squared_error(z, t):
  return (sigmoid(z) - t) ** 2


# --- multiclass (000-003) ----------------------------------------------------------
def softmax_cross_entropy(z, t):
  return -jnp.sum(t * log_softmax(z), axis=-1)


def softmax_cross_entropy_with_integer_labels(z, labels, label_smoothing=0.0):
  n = z.shape[-1]
  t = (1.0 - label_smoothing) * _onehot(labels, n) + label_smoothing / n
  return -jnp.sum(t * log_softmax(z), axis=-1)


def nll(p, labels, eps=1e-7):
  py = jnp.sum(p * _onehot(labels, p.shape[-1]), axis=-1)
  py = py + jax.lax.stop_gradient(jnp.maximum(py, eps) - py)
  return -jnp.log(py)


def softmax_binary_cross_entropy(z, labels):
  p = jax.nn.softmax(z)
  t = _onehot(labels, z.shape[-1])
  return -jnp.sum(t * jnp.log(p) + (1.0 - t) * jnp.log(1.0 - p), axis=-1)


def kl_divergence(z, t):
  return jnp.sum(t * (jnp.log(t) - log_softmax(z)), axis=-1)


# --- hinge (001, 002) ----------------------------------------------------------------
def binary_hinge(s, y, margin=1.0):
  return jnp.maximum(0.0, margin - y * s)


def multiclass_hinge(s, labels, margin=1.0, squared=False):
  oh = _onehot(labels, s.shape[-1])
  sy = jnp.sum(s * oh, axis=-1, keepdims=True)
  h = jnp.maximum(0.0, s - sy + margin) * (1.0 - oh)
  return jnp.sum(h**2 if squared else h, axis=-1)


def crammer_singer_hinge(s, labels, margin=1.0):
  oh = _onehot(labels, s.shape[-1])
  sy = jnp.sum(s * oh, axis=-1)
  return jnp.maximum(0.0, margin + jnp.max(s - 1e30 * oh, axis=-1) - sy)


# --- detection (000) -----------------------------------------------------------------
def single_object_detection(pred, target, component_weights=None):
  lam = jnp.ones(5) if component_weights is None else component_weights
  i = target[..., 0]
  # the box of an absent object (I = 0) is undefined: use a unit box there
  w = jnp.where(i != 0, target[..., 3], 1.0)
  h = jnp.where(i != 0, target[..., 4], 1.0)
  x = jnp.where(i != 0, target[..., 1], 0.5)
  y = jnp.where(i != 0, target[..., 2], 0.5)
  return lam[0] * _bce_logits(pred[..., 0], i) + i * (
    lam[1] * _bce_logits(pred[..., 1], x)
    + lam[2] * _bce_logits(pred[..., 2], y)
    + lam[3] * (pred[..., 3] - jnp.log(w)) ** 2
    + lam[4] * (pred[..., 4] - jnp.log(h)) ** 2
  )


def _box_iou(a, b):  # (..., 4) = (cx, cy, w, h), one unit
  lo = jnp.maximum(a[..., :2] - a[..., 2:] / 2, b[..., :2] - b[..., 2:] / 2)
  hi = jnp.minimum(a[..., :2] + a[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2)
  inter = jnp.prod(jnp.maximum(hi - lo, 0.0), axis=-1)
  union = jnp.prod(a[..., 2:], -1) + jnp.prod(b[..., 2:], -1) - inter
  return inter / union


def yolo_loss(
  pred, target, num_boxes=2, lambda_coord=5.0, lambda_noobj=0.5, confidence_target="iou"
):
  """Redmon et al. 2016, eq. (3), term by term."""
  nb = num_boxes
  rows, cols = pred.shape[-3], pred.shape[-2]
  box = pred[..., : 5 * nb].reshape(pred.shape[:-1] + (nb, 5))
  x, y, sw, sh, conf = (box[..., k] for k in range(5))  # (..., S, S, B)
  probs = pred[..., 5 * nb :]
  obj = target[..., 0] > 0.5  # (..., S, S)
  # an empty cell's box is undefined: a unit box there
  tx = jnp.where(obj, target[..., 1], 0.5)[..., None]
  ty = jnp.where(obj, target[..., 2], 0.5)[..., None]
  tw = jnp.where(obj, target[..., 3], 1.0)[..., None]
  th = jnp.where(obj, target[..., 4], 1.0)[..., None]
  iou = jax.lax.stop_gradient(
    _box_iou(
      jnp.stack([x / cols, y / rows, sw**2, sh**2], -1),
      jnp.stack([tx / cols, ty / rows, tw, th], -1),
    )
  )
  resp = jax.lax.stop_gradient(jax.nn.one_hot(jnp.argmax(iou, -1), nb) * obj[..., None])
  c_hat = iou if confidence_target == "iou" else 1.0
  per_cell = (
    lambda_coord * jnp.sum(resp * ((x - tx) ** 2 + (y - ty) ** 2), -1)
    + lambda_coord * jnp.sum(resp * ((sw - jnp.sqrt(tw)) ** 2 + (sh - jnp.sqrt(th)) ** 2), -1)
    + jnp.sum(resp * (conf - c_hat) ** 2, -1)
    + lambda_noobj * jnp.sum((1.0 - resp) * conf**2, -1)
    + obj * jnp.sum((probs - target[..., 5:]) ** 2, -1)
  )
  return jnp.sum(per_cell, axis=(-2, -1))


# --- ranking (000) ------------------------------------------------------------------
def pairwise_margin_ranking(zb, zw, margin=1.0):
  return jnp.maximum(0.0, margin - (zb - zw))


def pairwise_logistic(zb, zw):
  return jnp.log1p(jnp.exp(-(zb - zw)))


def listwise_pairs(s, rel, margin=1.0, pair_loss="margin"):
  diff = s[..., :, None] - s[..., None, :]
  valid = (rel[..., :, None] > rel[..., None, :]).astype(s.dtype)
  if pair_loss == "margin":
    pair = jnp.maximum(0.0, margin - diff)
  else:
    pair = jnp.log1p(jnp.exp(-diff))
  n = jnp.sum(valid, axis=(-2, -1))
  return jnp.sum(valid * pair, axis=(-2, -1)) / jnp.maximum(n, 1.0)


# --- metric learning (004) ------------------------------------------------------------
def _pdist(x, p, squared):
  if squared:
    return jnp.sum(x**2, axis=-1)
  return jnp.sum(jnp.abs(x) ** p, axis=-1) ** (1.0 / p)


def triplet_margin(a, pos, neg, margin=1.0, p=2, squared=False):
  return jnp.maximum(0.0, _pdist(a - pos, p, squared) - _pdist(a - neg, p, squared) + margin)


def batch_hard_triplet(e, labels, margin=1.0, squared=False):
  eye = jnp.eye(e.shape[-2], dtype=bool)
  d2 = jnp.sum((e[..., :, None, :] - e[..., None, :, :]) ** 2, axis=-1)
  # double where: sqrt has no derivative at the zero diagonal
  d = d2 if squared else jnp.where(eye, 0.0, jnp.sqrt(jnp.where(eye, 1.0, d2)))
  same = labels[..., :, None] == labels[..., None, :]
  hp = jnp.max(jnp.where(same & ~eye, d, -jnp.inf), axis=-1)
  hn = jnp.min(jnp.where(~same, d, jnp.inf), axis=-1)
  return jnp.maximum(0.0, hp - hn + margin)


def contrastive(a, b, y, margin=1.0):
  d = jnp.sqrt(jnp.sum((a - b) ** 2, axis=-1))
  return 0.5 * (y * d**2 + (1.0 - y) * jnp.maximum(0.0, margin - d) ** 2)


# --- sequences (004) ----------------------------------------------------------------
def ctc(logits, labels, blank_id=0):
  """Textbook CTC forward recursion in log space (one sequence per row,
  labels padded with negatives; no logit padding)."""
  lp = log_softmax(logits)
  b, n = labels.shape
  lab = jnp.where(labels < 0, blank_id, labels)
  ext = jnp.full((b, 2 * n + 1), blank_id).at[:, 1::2].set(lab)
  s = ext.shape[1]
  ext_len = 2 * jnp.sum(labels >= 0, axis=1) + 1
  neg = -1e30
  prev2 = jnp.concatenate([jnp.full((b, 2), blank_id), ext[:, :-2]], 1)
  can_skip = (ext != blank_id) & (ext != prev2) & (jnp.arange(s) >= 2)
  alpha = jnp.full((b, s), neg).at[:, 0].set(0.0)
  for t in range(logits.shape[1]):
    e = jnp.take_along_axis(lp[:, t], ext, axis=1)
    a1 = jnp.concatenate([jnp.full((b, 1), neg), alpha[:, :-1]], 1)
    a2 = jnp.concatenate([jnp.full((b, 2), neg), alpha[:, :-2]], 1)
    a2 = jnp.where(can_skip, a2, neg)
    alpha = jnp.logaddexp(jnp.logaddexp(alpha, a1), a2) + e
  last = jnp.take_along_axis(alpha, (ext_len - 1)[:, None], 1)[:, 0]
  before = jnp.take_along_axis(alpha, jnp.maximum(ext_len - 2, 0)[:, None], 1)[:, 0]
  return -jnp.logaddexp(last, jnp.where(ext_len > 1, before, neg))


def negative_sampling(center, context, negatives):
  pos = jax.nn.log_sigmoid(jnp.sum(center * context, -1))
  negs = jax.nn.log_sigmoid(-jnp.einsum("...kd,...d->...k", negatives, center))
  return -pos - jnp.sum(negs, -1)


def glove(w, c, bw, bc, x, x_max=100.0, alpha=0.75):
  f = jnp.minimum(1.0, (x / x_max) ** alpha)
  return f * (jnp.sum(w * c, -1) + bw + bc - jnp.log(x)) ** 2


# --- GANs (000) ---------------------------------------------------------------------
def gan_discriminator(real, fake):
  return -jnp.log(sigmoid(real)) - jnp.log(1.0 - sigmoid(fake))


def gan_generator_nonsaturating(fake):
  return -jnp.log(sigmoid(fake))


def gan_generator_minimax(fake):
  return jnp.log(1.0 - sigmoid(fake))


# --- regularizers (001, 002) ---------------------------------------------------------
def l2_penalty(params):
  return sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(params))


def l1_penalty(params):
  return sum(jnp.sum(jnp.abs(x)) for x in jax.tree_util.tree_leaves(params))


def elastic_net(params, beta=1.0):
  return sum(jnp.sum(beta * x**2 + jnp.abs(x)) for x in jax.tree_util.tree_leaves(params))


def max_norm_project(params, c):
  def proj(w):
    if w.ndim < 2:
      return w
    norm = jnp.sqrt(jnp.sum(w**2, axis=tuple(range(w.ndim - 1))))
    return w * jnp.minimum(1.0, c / norm)

  return jax.tree_util.tree_map(proj, params)
