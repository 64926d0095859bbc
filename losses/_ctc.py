"""Connectionist temporal classification (note 004: "CTC cost for speech
recognition"; Graves et al. 2006): the loss ``ctc`` and, for parity with
``optax.losses.ctc_loss_with_forward_probs``, ``ctc_with_forward_probs``.

One forward recursion serves both (``_alpha_scan``); the hand-derived
derivative (``_ctc_jvp``) runs the same alpha step together with the
backward recursion beta (``_posterior_scan``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C

_LZ = C.LOG_ZERO


def _lse3(a, b, c):
  m = jnp.maximum(jnp.maximum(a, b), c)
  return m + jnp.log(jnp.exp(a - m) + jnp.exp(b - m) + jnp.exp(c - m))


def _extend(labels_BxN, blank_id):
  """Labels (B, N) (negative = padding) -> l' (B, 2N + 1) (blank, l_1, blank,
  ..., padded labels read as blank), the skip mask ``s - 2 -> s`` and the
  length 2L + 1. A label state may be entered from the previous label unless
  the two labels are equal (the blank between them is then mandatory); the
  rule is applied to the padded labels too, as optax does, so that the forward
  variables past the labels equal optax's for blank-padded labels (the loss
  never reads them)."""
  lab_BxN = jnp.where(labels_BxN < 0, blank_id, labels_BxN)
  b, n = lab_BxN.shape
  ext_BxS = jnp.full((b, 2 * n + 1), blank_id, lab_BxN.dtype)
  ext_BxS = ext_BxS.at[:, 1::2].set(lab_BxN)
  new_label = jnp.concatenate([jnp.zeros((b, 1), bool), lab_BxN[:, 1:] != lab_BxN[:, :-1]], axis=1)
  skip_BxS = jnp.zeros((b, 2 * n + 1), bool).at[:, 1::2].set(new_label)
  return ext_BxS, skip_BxS, 2 * jnp.sum(labels_BxN >= 0, axis=1) + 1


def _alpha_step(prev_BxS, e_BxS, ok_B, skip_pen_BxS):
  """alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) [+ alpha_{t-1}(s-2) if
  skip]) * y_t(l'_s), in log space; padded frames (``ok`` False) keep alpha."""
  lz = jnp.full((prev_BxS.shape[0], 2), _LZ, prev_BxS.dtype)
  padded = jnp.concatenate([lz, prev_BxS], axis=1)
  new = _lse3(prev_BxS, padded[:, 1:-1], padded[:, :-2] + skip_pen_BxS) + e_BxS
  if ok_B is not None:
    new = jnp.where(ok_B[:, None], new, prev_BxS)
  return new


def _beta_step(next_BxS, e_next_BxS, skip_pen_next_BxS):
  """beta_t(s) = sum over s' in {s, s+1, s+2 if skip} of y_{t+1}(l'_s')
  beta_{t+1}(s'), in log space (beta excludes the emission at t)."""
  x = next_BxS + e_next_BxS
  lz = jnp.full((x.shape[0], 2), _LZ, x.dtype)
  padded = jnp.concatenate([x, lz], axis=1)
  return _lse3(x, padded[:, 1:-1], padded[:, 2:] + skip_pen_next_BxS)


def _setup(z_BxTxK, labels_BxN, blank_id):
  """log-softmax, l', and the emissions y_t(l'_s) time-major (T, B, S)."""
  lp_BxTxK = jax.nn.log_softmax(z_BxTxK, axis=-1)
  k = z_BxTxK.shape[-1]
  ext_BxS, skip_BxS, ext_len_B = _extend(jnp.where(labels_BxN >= k, -1, labels_BxN), blank_id)
  e_BxTxS = jnp.take_along_axis(lp_BxTxK, ext_BxS[:, None, :], axis=2)
  skip_pen_BxS = jnp.where(skip_BxS, 0.0, _LZ).astype(lp_BxTxK.dtype)
  return lp_BxTxK, ext_BxS, skip_pen_BxS, ext_len_B, jnp.swapaxes(e_BxTxS, 0, 1)


def _init(e_TxBxS):
  return jnp.full(e_TxBxS.shape[1:], _LZ, e_TxBxS.dtype).at[:, 0].set(0.0)


def _alpha_scan(e_TxBxS, skip_pen_BxS, ok_TxB, keep):
  """The forward variables: alpha_T (B, S) at the last frame and, if
  ``keep``, alpha_t for every frame (T, B, S). The loss and the forward
  probabilities both come from here."""

  def step(prev, xs):
    new = _alpha_step(prev, *xs, skip_pen_BxS)
    return new, (new if keep else None)

  return jax.lax.scan(step, _init(e_TxBxS), (e_TxBxS, ok_TxB))


def _final(last_BxS, ext_len_B):
  """log p(l | x) = log(alpha_T(2L) + alpha_T(2L - 1)) (0-based l')."""
  a1 = jnp.take_along_axis(last_BxS, (ext_len_B - 1)[:, None], 1)[:, 0]
  a2 = jnp.take_along_axis(last_BxS, jnp.maximum(ext_len_B - 2, 0)[:, None], 1)[:, 0]
  return jnp.logaddexp(a1, jnp.where(ext_len_B > 1, a2, _LZ))


def _posterior_scan(e_TxBxS, skip_pen_BxS, ext_len_B, ok_TxB, last_frame):
  """log p(l | x) and the log forward and backward variables (T, B, S) for
  the hand-derived rule, in one ``lax.scan`` (beta from the end of time; the
  two recursions are independent, so one loop of T steps costs less than
  two). alpha comes from ``_alpha_step``, the loss's recursion."""
  s = e_TxBxS.shape[2]
  pos = jnp.arange(s)[None, :]
  terminal = jnp.where(
    (pos == ext_len_B[:, None] - 1) | ((pos == ext_len_B[:, None] - 2) & (ext_len_B[:, None] > 1)),
    0.0,
    _LZ,
  ).astype(e_TxBxS.dtype)
  skip_pen_next = jnp.pad(
    skip_pen_BxS[:, 2:], ((0, 0), (0, 2)), constant_values=_LZ
  )  # s -> s + 2 ?
  t_len = e_TxBxS.shape[0]
  # step i: alpha at frame i, beta at frame T - 1 - i (needs y at T - i)
  e_next_rev = jnp.concatenate([jnp.full_like(e_TxBxS[:1], _LZ), e_TxBxS[:0:-1]], axis=0)
  t_rev = jnp.arange(t_len - 1, -1, -1)

  def step(carry, xs):
    prev, nxt = carry
    e_t, ok, e_t1, t = xs
    new = _alpha_step(prev, e_t, ok, skip_pen_BxS)
    beta = jnp.where(
      t >= last_frame,
      terminal,  # terminal at the end
      _beta_step(nxt, e_t1, skip_pen_next),
    )
    return (new, beta), (new, beta)

  (last, _), (alphas, betas) = jax.lax.scan(
    step, (_init(e_TxBxS), terminal), (e_TxBxS, ok_TxB, e_next_rev, t_rev)
  )
  return _final(last, ext_len_B), alphas, betas[::-1]


def _value_and_grad(z, labels, frame_ok, blank_id):
  """The loss -log p(l | x) and its derivative dL/dz = softmax(z)_t - gamma_t,
  gamma_t(k) the posterior of class k at frame t: the sum over s with
  l'_s = k of alpha_t(s) beta_t(s) / p(l | x) (note 004). Plain jnp and
  ``lax.scan``, so JAX differentiates it again for the higher orders."""
  bad = jnp.any(labels >= z.shape[-1], axis=1)
  lp, ext, skip_pen, ext_len, e_TxBxS = _setup(z, labels, blank_id)
  ok_TxB = None if frame_ok is None else frame_ok.T
  last_frame = z.shape[1] - 1 if frame_ok is None else (jnp.sum(frame_ok, axis=1) - 1)[:, None]
  logp, alphas, betas = _posterior_scan(e_TxBxS, skip_pen, ext_len, ok_TxB, last_frame)
  occ_TxBxS = jnp.exp(alphas + betas - logp[None, :, None])
  occ_BxTxS = jnp.swapaxes(occ_TxBxS, 0, 1)
  if frame_ok is not None:
    occ_BxTxS = jnp.where(frame_ok[..., None], occ_BxTxS, 0.0)
  onehot = jax.nn.one_hot(ext, lp.shape[-1], dtype=lp.dtype)  # (B, S, K)
  post = occ_BxTxS @ onehot  # (B, T, K)
  # sum_s alpha_t(s) beta_t(s) = p(l | x) at every frame, so gamma_t sums to
  # 1: dividing by the sum normalises per frame, which cancels the float32
  # error of alpha + beta - log p (each term ~T log K) common to a frame, e.g.
  # all of it when the alignment is forced (one state per frame).
  tot = jnp.sum(post, -1, keepdims=True)  # 0: padded
  gz = jnp.exp(lp) - post / jnp.where(tot > 0, tot, 1.0)  # p - gamma
  if frame_ok is not None:
    gz = jnp.where(frame_ok[..., None], gz, 0.0)
  v = jnp.where(bad, jnp.nan, -logp)
  return v, jnp.where(bad[:, None, None], jnp.nan, gz)


def _value(z, labels, frame_ok, last, blank_id):
  """-log p(l | x) from alpha_T (``last``), computed here when None."""
  bad = jnp.any(labels >= z.shape[-1], axis=1)
  _, _, skip_pen, ext_len, e_TxBxS = _setup(z, labels, blank_id)
  if last is None:
    last, _ = _alpha_scan(e_TxBxS, skip_pen, None if frame_ok is None else frame_ok.T, False)
  return jnp.where(bad, jnp.nan, -_final(last, ext_len))


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _ctc(z, labels, frame_ok, last, blank_id):
  """The loss, with the hand-derived rule. ``last``: None, or alpha_T of the
  same (z, labels) already computed by the caller (``ctc_with_forward_probs``),
  passed under ``stop_gradient``: the rule gives the total derivative in z."""
  return _value(z, labels, frame_ok, last, blank_id)


def _ctc_jvp(blank_id, primals, tangents):
  z, labels, frame_ok, last = primals
  dz = tangents[0]
  if not C.has_tangent(dz):
    v = _value(z, labels, frame_ok, last, blank_id)
    return v, jnp.zeros_like(v)
  v, gz = _value_and_grad(z, labels, frame_ok, blank_id)
  return v, C.tangent_sum(v, [jnp.sum(gz * dz, axis=(1, 2))])


_ctc.defjvp(_ctc_jvp, symbolic_zeros=True)


def _prepare(fn, logits, labels, where, weights, logit_paddings):
  """Checks and flattens the batch: z (n, T, K), labels (n, N), frame_ok
  (n, T) or None, the mask (lead) or None, lead, output dtype."""
  C.check_floating(logits, "logits", fn)
  C.check_integer(labels, "labels", fn)
  C.check_min_rank(logits, 2, "logits", fn)
  C.check_min_rank(labels, 1, "labels", fn)
  lead = jnp.shape(logits)[:-2]
  if jnp.shape(labels)[:-1] != lead:
    raise ValueError(
      f"{fn}: logits shape {jnp.shape(logits)} (..., T, K) and "
      f"labels shape {jnp.shape(labels)} (..., N) disagree on "
      "the batch dimensions."
    )
  t_len, k = jnp.shape(logits)[-2:]
  if logit_paddings is not None and jnp.shape(logit_paddings) != lead + (t_len,):
    raise ValueError(
      f"{fn}: logit_paddings shape {jnp.shape(logit_paddings)}"
      f" must be {lead + (t_len,)} for logits shape "
      f"{jnp.shape(logits)}."
    )
  C.check_broadcast_to(where, lead, "where", fn)
  C.check_broadcast_to(weights, lead, "weights", fn)
  cdt, odt = C.compute_dtype(logits)
  n = math.prod(lead)
  z = jnp.asarray(logits).astype(cdt).reshape(n, t_len, k)
  lab = jnp.asarray(labels).astype(jnp.int32).reshape(n, -1)
  # no paddings: a static fast path without per-frame selects
  ok = None if logit_paddings is None else jnp.asarray(logit_paddings).reshape(n, t_len) == 0
  mask = C.as_mask(where, lead)
  if mask is not None:  # masked sequences: zero logits, empty labels
    m = mask.reshape(n)
    z = jnp.where(m[:, None, None], z, 0.0)
    lab = jnp.where(m[:, None], lab, -1)
  return z, lab, ok, mask, lead, odt


@functools.partial(jax.jit, static_argnames=("blank_id",))
def _ctc_jit(logits, labels, where, weights, logit_paddings, blank_id):
  z, lab, ok, mask, lead, odt = _prepare("ctc", logits, labels, where, weights, logit_paddings)
  v = _ctc(z, lab, ok, None, blank_id).reshape(lead)
  return C.finish(v, mask, weights, odt)


def ctc(
  logits: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  logit_paddings: ArrayLike | None = None,
  blank_id: int = 0,
) -> jax.Array:
  """Connectionist temporal classification loss ``-log p(labels | x)``
  (note 004), one value per sequence.

  ``logits``: (..., T, K); ``labels``: (..., N) integers with *trailing*
  negative entries as padding (our "negative = ignore" convention);
  ``logit_paddings``: optional (..., T), 1 for padded frames (as in
  ``optax.ctc_loss``; trailing). Blank is ``blank_id``; labels must not
  contain it. The forward variables alpha are computed in log space with
  ``lax.scan``; the hand-derived gradient (given as a custom JVP) runs the
  backward variables beta and gives
  ``softmax(z)_t - sum_{s: l'_s = k} exp(alpha_t(s) + beta_t(s) - log p)``,
  the posterior normalised to sum to 1 per frame.
  Impossible alignments use log(0) := -1e30, so the loss is large but
  finite. Labels >= K: ValueError (concrete) / NaN (jit).
  """
  C.check_floating(logits, "logits", "ctc")
  C.check_integer(labels, "labels", "ctc")
  C.check_label_values(labels, jnp.shape(logits)[-1], "ctc")
  return _ctc_jit(logits, labels, where, weights, logit_paddings, blank_id)


@functools.partial(jax.jit, static_argnames=("blank_id",))
def _ctc_fp_jit(logits, labels, where, weights, logit_paddings, blank_id):
  fn = "ctc_with_forward_probs"
  z, lab, ok, mask, lead, odt = _prepare(fn, logits, labels, where, weights, logit_paddings)
  _, _, skip_pen, _, e_TxBxS = _setup(z, lab, blank_id)
  last, alphas_TxBxS = _alpha_scan(e_TxBxS, skip_pen, None if ok is None else ok.T, True)
  # the loss reads the same alpha_T: one recursion, the hand-derived rule
  v = _ctc(z, lab, ok, jax.lax.stop_gradient(last), blank_id)
  blank_TxBxN1, emit_TxBxN = alphas_TxBxS[..., 0::2], alphas_TxBxS[..., 1::2]
  # optax's last row: blank(n) += emit(n - 1), "n labels done at the end"
  blank_TxBxN1 = blank_TxBxN1.at[-1, :, 1:].set(
    jnp.logaddexp(blank_TxBxN1[-1, :, 1:], emit_TxBxN[-1])
  )
  drop = jnp.any(lab >= z.shape[-1], axis=1)  # NaN rows
  keep = None if mask is None else mask.reshape(-1)  # log 0 rows
  t_len = z.shape[1]

  def out(a_TxBxM):
    a_TxBxM = jnp.where(drop[None, :, None], jnp.nan, a_TxBxM)
    if keep is not None:
      a_TxBxM = jnp.where(keep[None, :, None], a_TxBxM, _LZ)
    return a_TxBxM.reshape((t_len,) + lead + a_TxBxM.shape[-1:]).astype(odt)

  return (C.finish(v.reshape(lead), mask, weights, odt), out(blank_TxBxN1), out(emit_TxBxN))


def ctc_with_forward_probs(
  logits: ArrayLike,
  labels: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
  logit_paddings: ArrayLike | None = None,
  blank_id: int = 0,
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``ctc`` and the CTC forward variables, as
  ``optax.losses.ctc_loss_with_forward_probs``: returns
  ``(loss, log_alpha_blank, log_alpha_emit)``, ``loss`` (...) equal to
  ``ctc(...)``, ``log_alpha_blank`` (T, ..., N + 1) and ``log_alpha_emit``
  (T, ..., N) (time first, like optax).

  With l' = (blank, l_1, blank, ..., l_N, blank) and alpha_t(s) the forward
  variable of note 004 (probability of the prefixes ending in state s at frame
  t, emission at t included): ``log_alpha_blank[t, ..., n] =
  log alpha_t(2n)`` (blank after n labels) and ``log_alpha_emit[t, ..., n] =
  log alpha_t(2n + 1)`` (label n + 1, 1-based), except that the last row
  ``t = T - 1`` of ``log_alpha_blank`` holds ``log(alpha(2n) + alpha(2n -
  1))`` for n >= 1 (n labels emitted by the end; the loss is ``-`` its entry
  n = L), as optax has it. Padded frames (``logit_paddings``) keep alpha.

  Mapping to optax: the values equal optax's called with ``labels``' padding
  replaced by ``blank_id`` and ``label_paddings = labels < 0`` (entries past
  the labels included), where the state is reachable. Unreachable states are
  our log 0, -1e30 (or below), where optax has ``log_epsilon`` (-1e5) plus
  log-probabilities. Masked sequences (``where``) give log 0 everywhere;
  labels >= K give NaN.

  Differentiation: the loss has ``ctc``'s hand-derived rule (forward and
  reverse mode, every order); the forward variables are differentiated by
  ordinary JAX autodiff through the recursion (exact, any order; their
  derivatives cost a trace of the scan). The loss is computed from the same
  alpha_T, without a second forward recursion.
  """
  fn = "ctc_with_forward_probs"
  C.check_floating(logits, "logits", fn)
  C.check_integer(labels, "labels", fn)
  C.check_label_values(labels, jnp.shape(logits)[-1], fn)
  return _ctc_fp_jit(logits, labels, where, weights, logit_paddings, blank_id)
