"""Sequence and embedding losses (note 004: "CTC cost for speech
recognition", "Negative sampling", "GloVe word vector").
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from losses import _common as C

_LZ = C.LOG_ZERO


_sp = C.softplus


# --- CTC ----------------------------------------------------------------------
def _lse3(a, b, c):
  m = jnp.maximum(jnp.maximum(a, b), c)
  return m + jnp.log(jnp.exp(a - m) + jnp.exp(b - m) + jnp.exp(c - m))


def _extend(labels, blank_id):
  """Labels (B, N) (negative = padding) -> l' (B, 2N + 1) and length 2L + 1."""
  lab = jnp.where(labels < 0, blank_id, labels)
  b, n = lab.shape
  ext = jnp.full((b, 2 * n + 1), blank_id, lab.dtype).at[:, 1::2].set(lab)
  skip = jnp.concatenate(
      [jnp.zeros((b, 2), bool), (ext[:, 2:] != blank_id)
       & (ext[:, 2:] != ext[:, :-2])], axis=1)
  return ext, skip, 2 * jnp.sum(labels >= 0, axis=1) + 1


def _ctc_recursions(lp, ext, skip, ext_len, frame_ok, backward):
  """Log-space forward variables: alpha_T(s) (B, S) at the last frame and, if
  ``backward``, alpha_t(s) (B, T, S), including the emission at t, and the
  backward variables beta_t(s) (B, T, S), excluding it. The two recursions
  are independent, so they run in one ``lax.scan`` (beta from the end of
  time): one loop of T steps costs less than two."""
  b, s = ext.shape
  t_len = lp.shape[1]
  e = jnp.take_along_axis(lp, ext[:, None, :].repeat(t_len, 1), axis=2)
  lz = jnp.full((b, 2), _LZ, lp.dtype)

  skip_pen = jnp.where(skip, 0.0, _LZ).astype(lp.dtype)     # s - 2 -> s ?
  def alpha_step(prev, e_t, ok):
    padded = jnp.concatenate([lz, prev], axis=1)
    new = _lse3(prev, padded[:, 1:-1], padded[:, :-2] + skip_pen) + e_t
    if ok is not None:                      # padded frames keep alpha
      new = jnp.where(ok[:, None], new, prev)
    return new

  init = jnp.full((b, s), _LZ, lp.dtype).at[:, 0].set(0.0)
  e_time = jnp.swapaxes(e, 0, 1)                              # (T, B, S)
  oks = None if frame_ok is None else frame_ok.T
  if not backward:
    last, _ = jax.lax.scan(lambda prev, xs: (alpha_step(prev, *xs), None),
                           init, (e_time, oks))
    return last, None, None

  pos = jnp.arange(s)[None, :]
  terminal = jnp.where((pos == ext_len[:, None] - 1)
                       | ((pos == ext_len[:, None] - 2) & (ext_len[:, None] > 1)),
                       0.0, _LZ).astype(lp.dtype)
  skip_next = jnp.pad(skip[:, 2:], ((0, 0), (0, 2)))        # s -> s + 2 ?
  skip_pen_next = jnp.where(skip_next, 0.0, _LZ).astype(lp.dtype)
  last_frame = (t_len - 1 if frame_ok is None
                else (jnp.sum(frame_ok, axis=1) - 1)[:, None])

  def beta_step(nxt, e_t1, t):   # beta_t from beta_{t+1}
    x = nxt + e_t1
    padded = jnp.concatenate([x, lz], axis=1)
    beta = _lse3(x, padded[:, 1:-1], padded[:, 2:] + skip_pen_next)
    return jnp.where(t >= last_frame, terminal, beta)   # terminal at the end

  # step i: alpha at frame i, beta at frame T - 1 - i (needs e at T - i)
  e_next_rev = jnp.concatenate([jnp.full_like(e_time[:1], _LZ),
                                e_time[:0:-1]], axis=0)
  t_rev = jnp.arange(t_len - 1, -1, -1)

  def step(carry, xs):
    prev, nxt = carry
    e_t, ok, e_t1, t = xs
    new, beta = alpha_step(prev, e_t, ok), beta_step(nxt, e_t1, t)
    return (new, beta), (new, beta)

  (last, _), (alphas, betas) = jax.lax.scan(
      step, (init, terminal), (e_time, oks, e_next_rev, t_rev))
  return last, jnp.swapaxes(alphas, 0, 1), jnp.swapaxes(betas[::-1], 0, 1)


def _ctc_final(last, ext_len):
  a1 = jnp.take_along_axis(last, (ext_len - 1)[:, None], 1)[:, 0]
  a2 = jnp.take_along_axis(last, jnp.maximum(ext_len - 2, 0)[:, None], 1)[:, 0]
  a2 = jnp.where(ext_len > 1, a2, _LZ)
  return jnp.logaddexp(a1, a2)


def _ctc_forward(z, labels, frame_ok, blank_id, backward):
  """The loss -log p(l | x) and, if ``backward``, its derivative dL/dz =
  softmax(z)_t - gamma_t, with gamma_t(k) the posterior probability of class
  k at frame t: the sum over s with l'_s = k of alpha_t(s) beta_t(s) /
  p(l | x). Plain jnp and ``lax.scan``, so JAX differentiates it again for
  the higher orders."""
  bad = jnp.any(labels >= z.shape[-1], axis=1)
  lp = jax.nn.log_softmax(z, axis=-1)
  ext, skip, ext_len = _extend(jnp.where(labels >= z.shape[-1], -1, labels),
                               blank_id)
  last, alphas, betas = _ctc_recursions(lp, ext, skip, ext_len, frame_ok,
                                        backward)
  logp = _ctc_final(last, ext_len)
  v = jnp.where(bad, jnp.nan, -logp)
  if not backward:
    return v, None
  occ = jnp.exp(alphas + betas - logp[:, None, None])         # (B, T, S)
  if frame_ok is not None:
    occ = jnp.where(frame_ok[..., None], occ, 0.0)
  onehot = jax.nn.one_hot(ext, lp.shape[-1], dtype=lp.dtype)  # (B, S, K)
  post = occ @ onehot                                         # (B, T, K)
  # sum_s alpha_t(s) beta_t(s) = p(l | x) at every frame, so gamma_t sums to
  # 1: dividing by the sum normalises per frame, which cancels the float32
  # error of alpha + beta - log p (each term ~T log K) common to a frame, e.g.
  # all of it when the alignment is forced (one state per frame).
  tot = jnp.sum(post, -1, keepdims=True)                      # 0: padded
  gz = jnp.exp(lp) - post / jnp.where(tot > 0, tot, 1.0)      # p - gamma
  if frame_ok is not None:
    gz = jnp.where(frame_ok[..., None], gz, 0.0)
  return v, jnp.where(bad[:, None, None], jnp.nan, gz)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _ctc(z, labels, frame_ok, blank_id):
  return _ctc_forward(z, labels, frame_ok, blank_id, backward=False)[0]


def _ctc_jvp(blank_id, primals, tangents):
  z, labels, frame_ok = primals
  dz = tangents[0]
  if not C.has_tangent(dz):
    v = _ctc_forward(z, labels, frame_ok, blank_id, backward=False)[0]
    return v, jnp.zeros_like(v)
  v, gz = _ctc_forward(z, labels, frame_ok, blank_id, backward=True)
  terms = [jnp.sum(gz * dz, axis=(1, 2))]
  return v, C.tangent_sum(v, terms)


_ctc.defjvp(_ctc_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("blank_id",))
def _ctc_jit(logits, labels, where, weights, logit_paddings, blank_id):
  fn = "ctc"
  C.check_floating(logits, "logits", fn)
  C.check_integer(labels, "labels", fn)
  C.check_min_rank(logits, 2, "logits", fn)
  C.check_min_rank(labels, 1, "labels", fn)
  lead = jnp.shape(logits)[:-2]
  if jnp.shape(labels)[:-1] != lead:
    raise ValueError(f"{fn}: logits shape {jnp.shape(logits)} (..., T, K) and "
                     f"labels shape {jnp.shape(labels)} (..., N) disagree on "
                     "the batch dimensions.")
  t_len, k = jnp.shape(logits)[-2:]
  if logit_paddings is not None and jnp.shape(logit_paddings) != lead + (t_len,):
    raise ValueError(f"{fn}: logit_paddings shape {jnp.shape(logit_paddings)}"
                     f" must be {lead + (t_len,)} for logits shape "
                     f"{jnp.shape(logits)}.")
  C.check_broadcast_to(where, lead, "where", fn)
  C.check_broadcast_to(weights, lead, "weights", fn)
  cdt, odt = C.compute_dtype(logits)
  n = math.prod(lead)
  z = jnp.asarray(logits).astype(cdt).reshape(n, t_len, k)
  lab = jnp.asarray(labels).astype(jnp.int32).reshape(n, -1)
  # no paddings: a static fast path without per-frame selects
  ok = (None if logit_paddings is None else
        jnp.asarray(logit_paddings).reshape(n, t_len) == 0)
  mask = C.as_mask(where, lead)
  if mask is not None:   # masked sequences: zero logits, empty labels
    m = mask.reshape(n)
    z = jnp.where(m[:, None, None], z, 0.0)
    lab = jnp.where(m[:, None], lab, -1)
  v = _ctc(z, lab, ok, blank_id).reshape(lead)
  return C.finish(v, mask, weights, odt)


def ctc(logits, labels, *, where=None, weights=None, logit_paddings=None,
        blank_id=0):
  """Connectionist temporal classification loss ``-log p(labels | x)``
  (note 004), one value per sequence.

  ``logits``: (..., T, K); ``labels``: (..., N) integers with *trailing*
  negative entries as padding (our "negative = ignore" convention);
  ``logit_paddings``: optional (..., T), 1 for padded frames (as in
  ``optax.ctc_loss``). Blank is ``blank_id``; labels must not contain it.
  The forward variables alpha are computed in log space with ``lax.scan``;
  the hand-derived gradient (given as a custom JVP) runs the backward
  variables beta and gives
  ``softmax(z)_t - sum_{s: l'_s = k} exp(alpha_t(s) + beta_t(s) - log p)``,
  the posterior normalised to sum to 1 per frame.
  Impossible alignments use log(0) := -1e30, so the loss is large but
  finite. Labels >= K: ValueError (concrete) / NaN (jit).
  """
  C.check_floating(logits, "logits", "ctc")
  C.check_integer(labels, "labels", "ctc")
  C.check_label_values(labels, jnp.shape(logits)[-1], "ctc")
  return _ctc_jit(logits, labels, where, weights, logit_paddings, blank_id)


# --- word2vec negative sampling ---------------------------------------------
def _sgns_forward(center, context, negatives):
  sp = jnp.sum(center * context, -1)
  sn = jnp.einsum("...kd,...d->...k", negatives, center)
  return _sp(-sp) + jnp.sum(_sp(sn), -1), sp, sn


@jax.custom_jvp
def _sgns(center, context, negatives):
  return _sgns_forward(center, context, negatives)[0]


def _sgns_jvp(primals, tangents):
  center, context, negatives = primals
  d_center, d_context, d_negatives = tangents
  v, sp, sn = _sgns_forward(center, context, negatives)
  gp = -jax.nn.sigmoid(-sp)      # sigma - t, t = 1 (no 1 - sigma rounding)
  gn = jax.nn.sigmoid(sn)              # sigma - t, t = 0
  terms = []
  if C.has_tangent(d_center):
    g_center = (gp[..., None] * context
                + jnp.einsum("...k,...kd->...d", gn, negatives))
    terms.append(jnp.sum(g_center * d_center, -1))
  if C.has_tangent(d_context):
    terms.append(gp * jnp.sum(center * d_context, -1))
  if C.has_tangent(d_negatives):
    terms.append(jnp.sum(gn * jnp.einsum("...kd,...d->...k", d_negatives,
                                         center), -1))
  return v, C.tangent_sum(v, terms)


_sgns.defjvp(_sgns_jvp, symbolic_zeros=True)


@jax.jit
def negative_sampling(center, context, negatives, *, where=None, weights=None):
  """word2vec skip-gram negative sampling (note 004):
  ``-log sigma(u_o . v_c) - sum_k log sigma(-u_k . v_c)``.

  ``center`` v_c and ``context`` u_o: (..., D); ``negatives`` u_k:
  (..., K, D). Each dot product is a logistic regression ("is this a
  context-target pair?"), so the gradients are note 003's ``sigma - t``:
  ``dv_c = (sigma(s_o) - 1) u_o + sum_k sigma(s_k) u_k``, ``du_o =
  (sigma(s_o) - 1) v_c``, ``du_k = sigma(s_k) v_c``. Returns shape (...).
  """
  fn = "negative_sampling"
  for x, name in ((center, "center"), (context, "context"),
                  (negatives, "negatives")):
    C.check_floating(x, name, fn)
  C.check_same_shape(center, context, "center", "context", fn)
  C.check_min_rank(center, 1, "center", fn)
  sc = jnp.shape(center)
  if jnp.ndim(negatives) != len(sc) + 1 or (
      jnp.shape(negatives)[:-2] + jnp.shape(negatives)[-1:] != sc):
    raise ValueError(f"{fn}: center shape {sc} and negatives shape "
                     f"{jnp.shape(negatives)} disagree (negatives must be "
                     f"{sc[:-1] + ('K',) + sc[-1:]}).")
  out = sc[:-1]
  C.check_broadcast_to(where, out, "where", fn)
  C.check_broadcast_to(weights, out, "weights", fn)
  cdt, odt = C.compute_dtype(center, context, negatives)
  mask = C.as_mask(where, out)
  m1, m2 = C.expand_mask(mask), C.expand_mask(mask, 2)
  v = _sgns(C.safe(jnp.asarray(center).astype(cdt), m1),
            C.safe(jnp.asarray(context).astype(cdt), m1),
            C.safe(jnp.asarray(negatives).astype(cdt), m2))
  return C.finish(v, mask, weights, odt)


# --- GloVe ----------------------------------------------------------------------
def _glove_forward(w, c, bw, bc, x, x_max, alpha):
  pos = x > 0
  xs = jnp.where(pos, x, 1.0)                       # double-where: log 0
  f = jnp.where(pos, jnp.minimum(1.0, (xs / x_max) ** alpha), 0.0)
  err = jnp.sum(w * c, -1) + bw + bc - jnp.log(xs)
  return f * err * err, f, err


@jax.custom_jvp
def _glove(w, c, bw, bc, x, x_max, alpha):
  return _glove_forward(w, c, bw, bc, x, x_max, alpha)[0]


def _glove_jvp(primals, tangents):
  w, c, bw, bc, x, x_max, alpha = primals
  dw, dc, dbw, dbc = tangents[:4]   # counts and hyperparameters: data
  v, f, err = _glove_forward(w, c, bw, bc, x, x_max, alpha)
  k = 2.0 * f * err                                 # dv/d(err)
  terms = [jnp.sum(k[..., None] * c * dw, -1) if C.has_tangent(dw) else None,
           jnp.sum(k[..., None] * w * dc, -1) if C.has_tangent(dc) else None,
           k * dbw if C.has_tangent(dbw) else None,
           k * dbc if C.has_tangent(dbc) else None]
  return v, C.tangent_sum(v, terms)


_glove.defjvp(_glove_jvp, symbolic_zeros=True)


@jax.jit
def glove(word_vectors, context_vectors, word_biases, context_biases,
          cooccurrences, *, where=None, weights=None, x_max=100.0, alpha=0.75):
  """GloVe weighted least squares (note 004):
  ``f(X_ij) (theta_i . e_j + b_i + b'_j - log X_ij)^2`` per pair, with the
  weighting ``f(x) = min(1, (x / x_max)^alpha)`` and ``f(0) = 0`` (pairs that
  never co-occur contribute exactly 0, no log 0). Vectors: (..., D); biases and
  counts: (...). Gradient: ``2 f err`` times the partner vector (and 1 for the
  biases); the counts are data (no gradient).
  """
  fn = "glove"
  C.check_floating(word_vectors, "word_vectors", fn)
  C.check_same_shape(word_vectors, context_vectors, "word_vectors",
                     "context_vectors", fn)
  C.check_min_rank(word_vectors, 1, "word_vectors", fn)
  out = jnp.shape(word_vectors)[:-1]
  for x, name in ((word_biases, "word_biases"),
                  (context_biases, "context_biases"),
                  (cooccurrences, "cooccurrences")):
    C.check_real(x, name, fn)
    if jnp.shape(x) != out:
      raise ValueError(f"{fn}: word_vectors shape {jnp.shape(word_vectors)} "
                       f"and {name} shape {jnp.shape(x)} disagree ({name} "
                       f"must be {out}).")
  C.check_broadcast_to(where, out, "where", fn)
  C.check_broadcast_to(weights, out, "weights", fn)
  cdt, odt = C.compute_dtype(word_vectors, context_vectors)
  mask = C.as_mask(where, out)
  m1 = C.expand_mask(mask)
  args = [C.safe(jnp.asarray(a).astype(cdt), m) for a, m in (
      (word_vectors, m1), (context_vectors, m1), (word_biases, mask),
      (context_biases, mask), (cooccurrences, mask))]
  v = _glove(*args, C.hyper(x_max, cdt), C.hyper(alpha, cdt))
  return C.finish(v, mask, weights, odt)
