"""CTC: ``ctc_with_forward_probs`` against optax's forward probabilities, its
loss against ``ctc``, its derivatives, and ``ctc``'s float32 gradient accuracy
(note 004; issue 16)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

import losses

T, K = 12, 6
LABELS = np.array([[1, 2, 2, 3, 4], [4, 1, -1, -1, -1], [2, -1, -1, -1, -1],
                   [3, 3, 3, -1, -1], [-1, -1, -1, -1, -1]])
FRAMES = np.array([12, 9, 5, 10, 7])       # real frames per sequence


def _optax(z, labels, paddings, blank_id=0):
  return optax.losses.ctc_loss_with_forward_probs(
      z, paddings, np.where(labels < 0, blank_id, labels),
      (labels < 0).astype(z.dtype), blank_id=blank_id)


@pytest.mark.parametrize("padded", [False, True])
def test_forward_probs_equal_optax_float64(padded):
  with jax.enable_x64(True):
    z = np.random.default_rng(1).normal(size=(5, T, K)) * 2
    paddings = ((np.arange(T)[None] >= FRAMES[:, None]).astype(float)
                if padded else np.zeros((5, T)))
    v, blank, emit = losses.ctc_with_forward_probs(
        z, LABELS, logit_paddings=paddings if padded else None)
    ov, oblank, oemit = _optax(z, LABELS, paddings)
    assert blank.shape == (T, 5, 6) and emit.shape == (T, 5, 5)
    np.testing.assert_allclose(v, ov, rtol=1e-12)
    for ours, theirs in ((blank, oblank), (emit, oemit)):
      ours, theirs = np.asarray(ours), np.asarray(theirs)
      reachable = theirs > -1e4           # optax's log 0 is -1e5 + log-probs
      assert 0.4 < reachable.mean() < 0.9
      np.testing.assert_allclose(ours[reachable], theirs[reachable],
                                 rtol=1e-12, atol=1e-12)
      assert np.all(ours[~reachable] <= -1e29)   # ours is -1e30


def test_forward_probs_blank_id_and_batch_dims():
  with jax.enable_x64(True):
    z = np.random.default_rng(2).normal(size=(2, 2, T, K))
    lab = np.array([[[0, 1, -1], [2, 2, 3]], [[4, -1, -1], [1, 3, 0]]])
    v, blank, emit = losses.ctc_with_forward_probs(z, lab, blank_id=5)
    assert blank.shape == (T, 2, 2, 4) and emit.shape == (T, 2, 2, 3)
    ov, oblank, _ = _optax(z.reshape(4, T, K), lab.reshape(4, 3),
                           np.zeros((4, T)), blank_id=5)
    np.testing.assert_allclose(np.asarray(v).ravel(), ov, rtol=1e-12)
    np.testing.assert_allclose(blank[-1].reshape(4, 4)[np.arange(4), [2, 3, 1, 3]],
                               -ov, rtol=1e-12)


def test_loss_equals_ctc_with_where_and_weights():
  z = jnp.asarray(np.random.default_rng(3).normal(size=(5, T, K)), jnp.float32)
  where = np.array([True, True, False, True, True])
  w = np.arange(1.0, 6.0)
  paddings = (np.arange(T)[None] >= FRAMES[:, None]).astype(np.float32)
  kw = dict(where=where, weights=w, logit_paddings=paddings)
  v, blank, emit = losses.ctc_with_forward_probs(z, LABELS, **kw)
  np.testing.assert_array_equal(v, losses.ctc(z, LABELS, **kw))
  assert v[2] == 0.0 and np.all(blank[:, 2] == -1e30) and np.all(emit[:, 2] == -1e30)
  g = jax.grad(lambda z: jnp.sum(losses.ctc_with_forward_probs(z, LABELS, **kw)[0]))(z)
  np.testing.assert_allclose(g, jax.grad(lambda z: jnp.sum(losses.ctc(z, LABELS, **kw)))(z),
                             rtol=1e-6, atol=1e-7)
  assert np.abs(g).max() > 0.1


def test_derivatives_jvp_vjp_and_finite_differences_float64():
  with jax.enable_x64(True):
    r = np.random.default_rng(4)
    z = r.normal(size=(3, 5, 4))
    lab = np.array([[1, 2], [3, 3], [2, -1]])
    pad = np.zeros((3, 5)); pad[2, 4] = 1.0
    f = jax.jit(lambda z: losses.ctc_with_forward_probs(z, lab, logit_paddings=pad)[0])
    dz = r.normal(size=z.shape)
    v, jv = jax.jvp(f, (z,), (dz,))
    _, vjp = jax.vjp(f, z)
    ct = r.normal(size=v.shape)
    np.testing.assert_allclose(np.sum(vjp(ct)[0] * dz), np.sum(ct * jv), rtol=1e-10)
    # second order in every mode: the generic "ctc" case (same rule)
    check_grads(f, (z,), order=1, modes=["fwd", "rev"], eps=1e-5)
    # the forward variables: plain autodiff through the recursion (reachable
    # entries: log 0 + log y keeps the derivative of log y, -1e30 absorbs it)
    fb = jax.jit(lambda z: losses.ctc_with_forward_probs(
        z, lab, logit_paddings=pad)[1][2:, :, :2])
    check_grads(fb, (z,), order=1, modes=["fwd", "rev"], eps=1e-5)


def test_float32_gradient_accuracy_on_random_alignments():
  """Measured (issue 16): ours 6.3e-6 .. 1.2e-5 relative to the largest
  gradient, optax 1.7e-7 .. 3.8e-7 (b=8, T=50, K=40, L 10..30, logit scale
  1..3). The float32 rounding of log alpha and log beta (~eps |log alpha|,
  |log alpha| up to ~T log K) is the cause; this bounds it."""
  r = np.random.default_rng(0)
  b, frames, k = 8, 50, 40
  z = r.normal(size=(b, frames, k)) * r.uniform(1, 3)
  lab = np.where(np.arange(30) < r.integers(10, 31, size=(b, 1)),
                 r.integers(1, k, size=(b, 30)), -1)
  grad = lambda z: jax.grad(lambda z: jnp.sum(losses.ctc(z, lab)))(z)  # noqa: E731
  g32 = np.asarray(grad(jnp.asarray(z, jnp.float32)), np.float64)
  with jax.enable_x64(True):
    g64 = np.asarray(grad(jnp.asarray(z, jnp.float64)))
  assert np.abs(g32 - g64).max() / np.abs(g64).max() < 2e-5
