"""The fused linear + softmax cross-entropy reduced to one number: gradients
computed in the forward pass, over blocks of rows (issue 11).

When the caller wants ``sum_n s_n loss_n`` (a weighted sum or a mean), the
cotangent that reaches the backward pass is one scalar ``g``, and every
gradient is ``g`` times the gradient of the sum. So the forward pass can
compute the gradients themselves, while each block's logits are at hand:
per block of ``row_block`` tokens, the logits over the whole vocabulary
(matmul 1), the softmax and ``dz`` (notes 001/003: ``p - t`` plus the z-loss
term), ``dh = dz W^T`` (matmul 2) and ``dW += h^T dz`` (matmul 3). The
backward pass only scales them by ``g``. Three N x D x V matmuls, as the dense
computation does, against four for the per-token kernel (``_fused_ce``),
whose backward pass must recompute every chunk's logits because its cotangent
differs per token. Working memory is O(row_block x V) instead of O(N x V): one
buffer on a GPU, since dz is written over the block's logits.

Second derivatives are right as well: JAX differentiates this forward rule's
plain jnp code for reverse-over-reverse and forward-over-reverse.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from losses import _common as C


def linear_logits(h_nd, w_dc, b_c, acc):
  """``h W_c + b_c``, the logits of a linear layer's columns ``c`` (the fused
  cross-entropy's chunks), accumulated in ``acc`` (>= float32) whatever the
  input dtype: bf16 matmuls keep their fast path, the softmax stays exact."""
  z_nc = jnp.dot(h_nd, w_dc, preferred_element_type=acc)
  return z_nc if b_c is None else z_nc + b_c.astype(acc)


def label_columns(lab_n, start, size):
  """(iota == label - start) over a chunk, N x size: where the label is."""
  iota = jax.lax.broadcasted_iota(jnp.int32, (lab_n.shape[0], size), 1)
  return iota == (lab_n - start)[:, None]


# dz is written over the block's logits SUB_ROWS rows at a time (a loop of in-place
# dynamic_update_slices): XLA gives an elementwise dz of its own a second
# row_block x V buffer, and on a GPU the two were 0.142 of dense's memory at 1,024
# rows against 0.090 written in place, for the same time (H200, bench/fused_ce.py).
SUB_ROWS = 128


def _block(h_rd, w_dv, b_v, lab_r, scale_r, eps, zl, smooth, acc):
  """(sum_r scale_r loss_r, loss_r, dz of that sum) for one block of rows, logits of
  the whole vocabulary; the same arithmetic as the per-token kernel."""
  num_classes = w_dv.shape[1]
  z_rv = linear_logits(h_rd, w_dv, b_v, acc)
  m_r = jnp.max(z_rv, axis=-1)
  shift = jnp.where(jnp.isfinite(m_r), m_r, 0.0)
  log_s = jnp.log(jnp.sum(jnp.exp(z_rv - shift[:, None]), axis=-1))
  lse_r = log_s + shift
  zy_r = jnp.take_along_axis(z_rv, lab_r[:, None], axis=1, mode="clip")[:, 0]
  # lse - z_y as log(s) - (z_y - max), exact for large logits (as _fused_ce)
  if smooth:
    v_r = log_s - (1.0 - eps) * (zy_r - shift) - eps * (jnp.mean(z_rv, axis=-1) - shift)
  else:
    v_r = log_s - (zy_r - shift)
  v_r = v_r + zl * lse_r * lse_r
  # dz = softmax(z) p_r - onehot(y) y_r - c_r (notes 001/003, plus the z-loss term)
  p_r = scale_r * (1.0 + 2.0 * zl * lse_r)
  y_r = scale_r * (1.0 - eps)
  c_r = scale_r * eps / num_classes if smooth else None
  dz_rv = _dz_over_logits(z_rv, lse_r, p_r, y_r, c_r, lab_r)
  # 0 * (finite loss) for ignored rows; NaN for out-of-range labels
  return jnp.sum(scale_r * v_r), v_r, dz_rv


def _dz_over_logits(z_rv, lse_r, p_r, y_r, c_r, lab_r):
  """dz, computed from the logits z and written over them, SUB_ROWS rows at a time."""
  rows, num_classes = z_rv.shape
  sub = min(SUB_ROWS, rows)

  def write_dz(start, size, z_rv):
    def cut(a_r):
      return jax.lax.dynamic_slice_in_dim(a_r, start, size)

    z_sv = jax.lax.dynamic_slice_in_dim(z_rv, start, size)
    dz_sv = jnp.exp(z_sv - cut(lse_r)[:, None]) * cut(p_r)[:, None]
    dz_sv = dz_sv - jnp.where(label_columns(cut(lab_r), 0, num_classes), cut(y_r)[:, None], 0.0)
    if c_r is not None:
      dz_sv = dz_sv - cut(c_r)[:, None]
    return jax.lax.dynamic_update_slice_in_dim(z_rv, dz_sv, start, 0)

  full = rows // sub
  z_rv = jax.lax.fori_loop(0, full, lambda i, z: write_dz(i * sub, sub, z), z_rv)
  if rows % sub:
    z_rv = write_dz(full * sub, rows % sub, z_rv)
  return z_rv


def _blocks(h_nd, labels_n, scale_n, num_classes, rows, acc):
  """h, safe labels and scales cut into blocks of ``rows`` tokens; the last
  block is padded with tokens of scale 0."""
  n, d = h_nd.shape
  lab_n, _, _ = C.label_status(labels_n, num_classes)
  blocks = -(-n // rows)
  pad = blocks * rows - n
  return (
    jnp.pad(h_nd, ((0, pad), (0, 0))).reshape(blocks, rows, d),
    jnp.pad(lab_n, (0, pad)).reshape(blocks, rows),
    jnp.pad(scale_n.astype(acc), (0, pad)).reshape(blocks, rows),
  )


def _forward_and_grads(h_nd, w_dv, b_v, labels_n, scale_n, eps, zl, rows, smooth):
  """(sum_n scale_n loss_n, loss_n, (dh, dW, db) in the inputs' dtypes)."""
  n, d = h_nd.shape
  acc = jnp.promote_types(h_nd.dtype, jnp.float32)
  xs = _blocks(h_nd, labels_n, scale_n, w_dv.shape[1], rows, acc)

  def body(carry, x):
    total, dw_dv, db_v = carry
    h_rd, lab_r, scale_r = x
    loss, v_r, dz_rv = _block(h_rd, w_dv, b_v, lab_r, scale_r, eps, zl, smooth, acc)
    # the matmuls take the inputs' dtype (bf16 stays bf16), accumulate in acc
    dz_in = dz_rv.astype(h_nd.dtype)
    dh_rd = jnp.dot(dz_in, w_dv.T, preferred_element_type=acc)
    dw_dv = dw_dv + jnp.dot(h_rd.T, dz_in, preferred_element_type=acc)
    if db_v is not None:
      db_v = db_v + jnp.sum(dz_rv, axis=0)
    return (total + loss, dw_dv, db_v), (dh_rd, v_r)

  init = (
    jnp.zeros((), acc),
    jnp.zeros(w_dv.shape, acc),
    None if b_v is None else jnp.zeros(b_v.shape, acc),
  )
  (total, dw_dv, db_v), (dh_bRd, v_bR) = jax.lax.scan(body, init, xs)
  dh_nd = dh_bRd.reshape(-1, d)[:n].astype(h_nd.dtype)
  grads = (dh_nd, dw_dv.astype(w_dv.dtype), None if db_v is None else db_v.astype(b_v.dtype))
  return total, v_bR.reshape(-1)[:n], grads


@functools.partial(jax.custom_vjp, nondiff_argnums=(7, 8))
def reduced(h_nd, w_dv, b_v, labels_n, scale_n, eps, zl, rows, smooth):
  """sum_n scale_n loss_n; evaluated without differentiation, one matmul."""
  acc = jnp.promote_types(h_nd.dtype, jnp.float32)

  def body(total, x):
    h_rd, lab_r, scale_r = x
    return total + _block(h_rd, w_dv, b_v, lab_r, scale_r, eps, zl, smooth, acc)[0], None

  xs = _blocks(h_nd, labels_n, scale_n, w_dv.shape[1], rows, acc)
  return jax.lax.scan(body, jnp.zeros((), acc), xs)[0]


def _reduced_fwd(h_nd, w_dv, b_v, labels_n, scale_n, eps, zl, rows, smooth):
  total, v_n, (dh_nd, dw_dv, db_v) = _forward_and_grads(
    h_nd, w_dv, b_v, labels_n, scale_n, eps, zl, rows, smooth
  )
  return total, (dh_nd, dw_dv, db_v, v_n)


def _reduced_bwd(rows, smooth, res, g):
  del rows, smooth
  dh_nd, dw_dv, db_v, v_n = res

  def times_g(x):
    return None if x is None else (x * g).astype(x.dtype)

  # the scales (weights, masks; in the accumulation dtype, as loss_n) get
  # d total / d s_n = loss_n; labels and the hyperparameters eps, zl get none
  return (times_g(dh_nd), times_g(dw_dv), times_g(db_v), None, v_n * g, None, None)


reduced.defvjp(_reduced_fwd, _reduced_bwd)
