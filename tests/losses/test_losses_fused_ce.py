"""The fused linear + softmax cross-entropy (issue 11, item 4): equal to the
dense computation on ``hidden @ weight + bias`` (values and the gradients for
hidden, weight and bias; 1e-5 in float32, 1e-10 in float64) for chunk sizes
that divide V, that leave a ragged last chunk, and that exceed V; label
smoothing, z-loss, ignored labels, ``where``/``weights``; reverse mode by
finite differences; the ignore and out-of-range conventions; and the memory claim (no N x V buffer
in the compiled value-and-gradient). Its place in the package and its bad-input
errors: test_losses_fused_ce_inputs.py."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

import _loss_cases as lc
import losses

enable_x64 = lc.enable_x64  # the fixture, for usefixtures
fused = losses.linear_softmax_cross_entropy_with_integer_labels
FN = "linear_softmax_cross_entropy_with_integer_labels"
LEAD, D, V = (4, 6), 8, 40


def _inputs(dtype=np.float32, seed=0, v=V, ignore=True):
  r = np.random.default_rng(seed)
  h = r.normal(size=LEAD + (D,)).astype(dtype)
  w = (r.normal(size=(D, v)) * 0.7).astype(dtype)
  b = r.normal(size=(v,)).astype(dtype)
  y = r.integers(0, v, size=LEAD)
  if ignore:
    y[0, :2] = -1                    # ignored tokens (negative labels)
    y[1, 0] = -100                   # any negative value
  cot = r.uniform(0.5, 1.5, size=LEAD).astype(dtype)
  return (jnp.asarray(h), jnp.asarray(w), jnp.asarray(b), jnp.asarray(y),
          jnp.asarray(cot))


def dense(h, w, b, y, label_smoothing=0.0, z_loss=0.0):
  """The same loss on materialised logits, written out by hand."""
  z = h @ w + (0.0 if b is None else b)
  lse = jax.nn.logsumexp(z, axis=-1)
  log_p = z - lse[..., None]
  v = z.shape[-1]
  t = (1 - label_smoothing) * jax.nn.one_hot(jnp.maximum(y, 0), v,
                                             dtype=z.dtype)
  t = t + label_smoothing / v
  loss = -jnp.sum(t * log_p, axis=-1) + z_loss * lse ** 2
  return jnp.where(y >= 0, loss, 0.0)


def _value_and_grads(fn, h, w, b, y, cot):
  argnums = (0, 1) if b is None else (0, 1, 2)
  return jax.value_and_grad(lambda h, w, b: jnp.sum(cot * fn(h, w, b, y)),
                            argnums)(h, w, b)


# The dense reference, compiled once per input structure and dtype (its
# hyperparameters are traced) instead of op by op.
@lc.jit
def _dense_jit(h, w, b, y, label_smoothing, z_loss):
  return dense(h, w, b, y, label_smoothing=label_smoothing, z_loss=z_loss)


@lc.jit
def _dense_value_and_grads_jit(h, w, b, y, cot, label_smoothing, z_loss):
  return _value_and_grads(
      lambda h, w, b, y: dense(h, w, b, y, label_smoothing=label_smoothing,
                               z_loss=z_loss), h, w, b, y, cot)


def _hyper(kw):
  return kw.get("label_smoothing", 0.0), kw.get("z_loss", 0.0)


def _close(got, want, tol):
  """Within ``tol`` of the largest entry of ``want`` (float rounding of the
  matmuls' sums differs between one dot and a dot per chunk)."""
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  scale = max(np.abs(want).max(), 1.0)
  np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


VARIANTS = {"plain": {}, "smoothing": {"label_smoothing": 0.1},
            "z_loss": {"z_loss": 1e-2},
            "both": {"label_smoothing": 0.3, "z_loss": 1e-3}}


CASES = [(c, v, True) for c in ("divides", "ragged", "one_chunk", "larger")
         for v in VARIANTS] + [("ragged", "plain", False),
                               ("divides", "both", False)]
CHUNKS = {"divides": 8, "ragged": 7, "one_chunk": V, "larger": 64}


@pytest.mark.parametrize("chunk_kind,variant,with_bias", CASES, ids=[
    f"{c}-{v}-{'bias' if b else 'no_bias'}" for c, v, b in CASES])
def test_matches_dense_float32(chunk_kind, variant, with_bias):
  chunk = CHUNKS[chunk_kind]
  kw = VARIANTS[variant]
  h, w, b, y, cot = _inputs()
  if not with_bias:
    b = None
  _fused_equals_dense(h, w, b, y, cot, chunk, kw, 1e-5, jnp.float32)
  per_token = fused(h, w, y, bias=b, chunk_size=chunk, **kw)
  assert per_token.shape == LEAD and per_token.dtype == jnp.float32
  _close(per_token, _dense_jit(h, w, b, y, *_hyper(kw)), 1e-5)
  assert np.all(per_token[y < 0] == 0.0)


def _fused_equals_dense(h, w, b, y, cot, chunk, kw, tol, dtype) -> None:
  """Value and gradients (hidden, weight, bias) of the fused loss equal the dense."""
  ours = _value_and_grads(
      lambda h, w, b, y: fused(h, w, y, bias=b, chunk_size=chunk, **kw),
      h, w, b, y, cot)
  ref = _dense_value_and_grads_jit(h, w, b, y, cot, *_hyper(kw))
  _close(ours[0], ref[0], tol)
  for g, g_ref in zip(ours[1], ref[1]):
    assert g.dtype == dtype
    _close(g, g_ref, tol)


def test_matches_optax_on_the_logits():
  h, w, b, y, _ = _inputs(ignore=False)
  want = lc.jit(lambda h, w, b, y: optax.softmax_cross_entropy_with_integer_labels(
      h @ w + b, y))(h, w, b, y)
  _close(fused(h, w, y, bias=b, chunk_size=16), want, 1e-5)


@pytest.mark.usefixtures("enable_x64")
@pytest.mark.parametrize("chunk", [8, 7])
def test_matches_dense_float64(chunk):
  kw = VARIANTS["both"]
  h, w, b, y, cot = _inputs(np.float64)
  _fused_equals_dense(h, w, b, y, cot, chunk, kw, 1e-10, jnp.float64)


@pytest.mark.usefixtures("enable_x64")
def test_check_grads_reverse_mode_float64():
  """Finite differences, independent of the dense formula; to second order
  in reverse mode (JAX differentiates the backward rule)."""
  h, w, b, y, cot = _inputs(np.float64, seed=1)

  def f(h, w, b):
    v = fused(h, w, y, bias=b, chunk_size=7, label_smoothing=0.2, z_loss=0.01)
    return jnp.sum(cot * v * v)

  check_grads(f, (h, w, b), order=2, modes=("rev",), atol=1e-5, rtol=1e-5,
              eps=1e-5)


@pytest.mark.usefixtures("enable_x64")
def test_forward_over_reverse_hessian_vector_products():
  """jvp of the gradient (what Hessian-vector products use) works: the outer
  forward mode differentiates the backward rule's plain jnp code."""
  h, w, b, y, cot = _inputs(np.float64, seed=2)
  kw = VARIANTS["both"]

  def grad_of(fn):
    return jax.grad(lambda h, w: jnp.sum(cot * fn(h, w)), (0, 1))

  ours = grad_of(lambda h, w: fused(h, w, y, bias=b, chunk_size=7, **kw))
  ref = grad_of(lambda h, w: dense(h, w, b, y, **kw))
  tangents = (jnp.ones_like(h), jnp.full_like(w, 0.5))
  # ours and the reference in one program
  both = lc.jit(lambda h, w, tangents: (jax.jvp(ours, (h, w), tangents)[1],
                                        jax.jvp(ref, (h, w), tangents)[1]))
  for a, c in zip(*both(h, w, tangents)):
    _close(a, c, 1e-10)


def test_forward_mode_raises_clearly():
  h, w, b, y, _ = _inputs()
  with pytest.raises(TypeError, match="forward-mode"):
    jax.jvp(lambda h: fused(h, w, y, bias=b), (h,), (h,))


def test_all_ignored_is_zero_with_zero_gradients_even_over_nan():
  h, w, b, _, _ = _inputs()
  h = np.array(h)
  h[0, 0] = np.nan                   # padding garbage in an ignored token
  h = jnp.asarray(h)
  y = -jnp.ones(LEAD, jnp.int32)
  v = fused(h, w, y, bias=b, chunk_size=7)
  assert np.all(v == 0.0)
  # both derivatives in one program
  (val, grads), g = lc.jit(lambda h, w, b: (
      jax.value_and_grad(
          lambda h, w, b: jnp.sum(fused(h, w, y, bias=b, chunk_size=7)),
          (0, 1, 2))(h, w, b),
      # the mean over kept tokens (losses.reduce) is 0 with zero gradient too
      jax.grad(lambda h: losses.reduce(fused(h, w, y, bias=b),
                                       where=y >= 0))(h)))(h, w, b)
  assert val == 0.0
  for g_ in grads:
    assert np.all(g_ == 0.0)
  assert np.all(g == 0.0)


def test_where_and_weights_follow_the_package_convention():
  h, w, b, y, _ = _inputs()
  where = jnp.arange(np.prod(LEAD)).reshape(LEAD) % 3 != 0
  weights = jnp.linspace(0.5, 2.0, np.prod(LEAD)).reshape(LEAD)
  h = jnp.where(where[..., None], h, jnp.nan)      # masked tokens: garbage

  def ours(h, w, b):
    return jnp.sum(fused(h, w, y, bias=b, where=where, weights=weights,
                         chunk_size=7, label_smoothing=0.1))

  def ref(h, w, b):
    z = jnp.where(where[..., None], h, 0.0) @ w + b
    return jnp.sum(losses.softmax_cross_entropy_with_integer_labels(
        z, y, where=where, weights=weights, label_smoothing=0.1))

  (v, g), (v_ref, g_ref) = lc.jit(lambda h, w, b: [   # in one program
      jax.value_and_grad(f, (0, 1, 2))(h, w, b) for f in (ours, ref)])(h, w, b)
  _close(v, v_ref, 1e-5)
  for a, c in zip(g, g_ref):
    assert np.all(np.isfinite(a))
    _close(a, c, 1e-5)


def test_large_logits_stay_exact():
  """Logits of +-1e4: lse - z_y is computed as a difference of nearby
  logits, as the dense integer-label CE does."""
  h, w, b, y, _ = _inputs(ignore=False)
  w = w * 2e3
  z = h @ w + b
  want = losses.softmax_cross_entropy_with_integer_labels(z, y)
  got = fused(h, w, y, bias=b, chunk_size=7)
  assert np.abs(z).max() > 1e4
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
  g = jax.grad(lambda h: jnp.sum(fused(h, w, y, bias=b, chunk_size=7)))(h)
  assert np.all(np.isfinite(g))


def test_half_precision_computes_in_float32():
  h, w, b, y, _ = _inputs()
  bf = [x.astype(jnp.bfloat16) for x in (h, w, b)]
  v = fused(bf[0], bf[1], y, bias=bf[2], chunk_size=7)
  assert v.dtype == jnp.bfloat16
  want = _dense_jit(*[x.astype(jnp.float32) for x in bf], y, 0.0, 0.0)
  np.testing.assert_allclose(np.asarray(v, np.float32), want, rtol=2e-2,
                             atol=2e-2)
  grads = lc.jit(jax.grad(lambda h, w, b: jnp.sum(fused(h, w, y, bias=b)),
                          (0, 1, 2)))(*bf)
  assert all(g.dtype == jnp.bfloat16 for g in grads)


def test_labels_out_of_range():
  h, w, b, y, _ = _inputs()
  bad = y.at[2, 3].set(V)
  with pytest.raises(ValueError, match=f"{FN}: labels contain {V} but there "
                     f"are only {V} classes"):
    fused(h, w, bad, bias=b)
  # under jit the labels cannot be inspected: NaN, never a plausible number
  v, g = jax.jit(jax.value_and_grad(
      lambda h, y: jnp.sum(fused(h, w, y, bias=b))))(h, bad)
  assert np.isnan(v) and np.all(np.isnan(g[2, 3]))
  per = jax.jit(lambda y: fused(h, w, y, bias=b))(bad)
  assert np.isnan(per[2, 3]) and np.all(np.isfinite(np.delete(
      np.asarray(per).ravel(), 2 * LEAD[1] + 3)))


def _temp_bytes(loss, h, w):
  """Working memory of the compiled value-and-gradient of loss(h, w), beyond
  that of a plain matmul's (a GPU's temp includes the cuBLAS workspace, 32 MiB)."""
  def temp(fn):
    compiled = lc.jit(jax.value_and_grad(fn, (0, 1))).lower(h, w).compile()
    return compiled.memory_analysis().temp_size_in_bytes
  return temp(loss) - temp(lambda h, w: jnp.sum(h @ w[:, :8]))


def test_hyperparameters_are_traced_and_chunks_bound_memory():
  h, w, b, y, _ = _inputs()
  fused(h, w, y, label_smoothing=0.1, z_loss=1e-3)
  cache_size = losses._fused_ce._jit._cache_size  # pylint: disable=W0212
  size = cache_size()
  fused(h, w, y, label_smoothing=0.2, z_loss=1e-2)
  assert cache_size() == size
  # memory: the compiled value-and-gradient has no N x V buffer
  n, d, v, chunk = 256, 32, 4096, 128
  r = np.random.default_rng(2)
  hh = jnp.asarray(r.normal(size=(n, d)), jnp.float32)
  ww = jnp.asarray(r.normal(size=(d, v)), jnp.float32)
  yy = jnp.asarray(r.integers(0, v, size=n))

  ours = _temp_bytes(lambda h, w: jnp.mean(fused(h, w, yy, chunk_size=chunk)),
                     hh, ww)
  ref = _temp_bytes(lambda h, w: jnp.mean(dense(h, w, None, yy)), hh, ww)
  assert ours < n * v * 4 // 4 < ref, (ours, ref)


REDUCED = [(how, rows) for how in ("sum", "mean", "weighted_mean")
           for rows in (5, 64)]


@pytest.mark.usefixtures("enable_x64")
@pytest.mark.parametrize("how,rows", REDUCED,
                         ids=[f"{h}-rows{r}" for h, r in REDUCED])
def test_reduced_equals_reduce_of_the_dense_loss(how, rows):
  """reduction=how is losses.reduce(dense per-token, where, weights, how):
  value, the gradients for h, W, b and the weights (d/dw_n = the token's loss),
  in float64 to 1e-10; with a ragged last block of rows (24 tokens, 5 a block)
  and with one block larger than the batch."""
  h, w, b, y, cot = _inputs(np.float64)
  mask = jnp.asarray(np.random.default_rng(3).uniform(size=LEAD) > 0.25)
  kw = VARIANTS["both"]

  def ours(h, w, b, weights):
    return fused(h, w, y, bias=b, where=mask, weights=weights, reduction=how,
                 row_block=rows, **kw)

  def want(h, w, b, weights):
    return losses.reduce(dense(h, w, b, y, **kw), where=mask, weights=weights,
                         how=how)

  (got_v, got_g), (want_v, want_g) = lc.jit(lambda *args: [  # one program
      jax.value_and_grad(f, (0, 1, 2, 3))(*args) for f in (ours, want)])(
          h, w, b, cot)
  _close(got_v, want_v, 1e-10)
  for g, g_ref in zip(got_g, want_g):
    _close(g, g_ref, 1e-10)
  # evaluated without differentiation (the forward-only scan)
  _close(jax.jit(ours)(h, w, b, cot), want_v, 1e-10)


@pytest.mark.usefixtures("enable_x64")
def test_reduced_second_derivatives_match_dense():
  """Hessian-vector products (forward over reverse) and a gradient of a
  gradient (reverse over reverse) of the reduced loss: JAX differentiates the
  forward rule that computes the gradients."""
  h, w, b, y, _ = _inputs(np.float64, seed=4)
  kw = VARIANTS["both"]

  def ours(h, w):
    return fused(h, w, y, bias=b, reduction="mean", row_block=7, **kw)

  def want(h, w):
    return jnp.mean(dense(h, w, b, y, **kw))

  def hvp(fn):
    return jax.jvp(jax.grad(fn), (h, w), (jnp.ones_like(h), jnp.ones_like(w)))[1]

  def grad_of_grad(fn):
    return jax.grad(lambda w: jnp.sum(jax.grad(fn)(h, w) ** 2))(w)

  # ours and the reference, in one program
  hvps, grads_of_grads = lc.jit(lambda: (
      (hvp(ours), hvp(want)), (grad_of_grad(ours), grad_of_grad(want))))()
  _close(*hvps, 1e-9)
  _close(*grads_of_grads, 1e-9)


@pytest.mark.usefixtures("enable_x64")
def test_reduced_writes_dz_over_the_logits_in_sub_blocks():
  """Blocks of 300 rows: dz is written over each block's logits in two full
  sub-blocks of SUB_ROWS = 128 rows and a ragged one of 44; the last block holds
  100 tokens and 200 padding rows. Value and gradients equal dense in float64."""
  assert losses._fused_ce_rows.SUB_ROWS == 128  # pylint: disable=W0212
  r = np.random.default_rng(5)
  n, d, v = 700, 4, 24
  h, w, b = (jnp.asarray(r.normal(size=s)) for s in ((n, d), (d, v), (v,)))
  y = jnp.asarray(np.where(r.uniform(size=n) < 0.1, -1, r.integers(0, v, size=n)))
  kw = VARIANTS["both"]
  ours = lambda h, w, b: fused(h, w, y, bias=b, reduction="mean", row_block=300, **kw)
  want = lambda h, w, b: losses.reduce(dense(h, w, b, y, **kw), how="mean")
  (got_v, got_g), (want_v, want_g) = lc.jit(lambda *a: [
      jax.value_and_grad(f, (0, 1, 2))(*a) for f in (ours, want)])(h, w, b)
  _close(got_v, want_v, 1e-10)
  for g, g_ref in zip(got_g, want_g):
    _close(g, g_ref, 1e-10)


@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
def test_reduced_bounds_memory_by_the_row_block(bias):
  """The compiled value-and-gradient of reduction='mean' holds a block of rows'
  logits, not N x V, with dz written over them; bf16 inputs keep their dtype in
  the gradients. Measured, in blocks of row_block x V float32: on an H200 1.26
  without a bias (at 1,024 x 65,536 with one, 1 block and the cuBLAS workspace),
  2.0 with one (XLA keeps hW and hW + b apart at this size); on a CPU 2.0 (XLA:CPU
  copies the matmul's output before the first write), 3.0 with a bias before dz
  was written in place."""
  n, d, v, rows = 1024, 32, 4096, 256
  r = np.random.default_rng(2)
  hh = jnp.asarray(r.normal(size=(n, d)), jnp.float32)
  ww = jnp.asarray(r.normal(size=(d, v)), jnp.float32)
  yy = jnp.asarray(r.integers(0, v, size=n))
  bb = jnp.asarray(r.normal(size=v), jnp.float32) if bias else None

  ours = _temp_bytes(
      lambda h, w: fused(h, w, yy, bias=bb, reduction="mean", row_block=rows), hh, ww)
  ref = _temp_bytes(lambda h, w: jnp.mean(dense(h, w, bb, yy)), hh, ww)
  blocks = 1.5 if jax.default_backend() == "gpu" and not bias else 2.5
  assert ours < blocks * rows * v * 4 < n * v * 4 < ref, (ours, rows * v * 4, ref)
  g_h, g_w = jax.grad(lambda h, w: fused(h, w, yy, reduction="sum", row_block=rows),
                      (0, 1))(hh.astype(jnp.bfloat16), ww.astype(jnp.bfloat16))
  assert g_h.dtype == g_w.dtype == jnp.bfloat16
