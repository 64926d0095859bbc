"""Item 6: cross-checks against optax (and torch, when installed) on random
inputs, values and gradients, with the real differences documented:

* ``multiclass_hinge`` is Weston-Watkins (sum over violating classes);
  ``optax.losses.multiclass_hinge_loss`` is Crammer-Singer (the worst one only), which
  is ``crammer_singer_hinge`` here; torch's ``multi_margin_loss`` is
  Weston-Watkins divided by C.
* ``dice`` smooths as (2I + s)/(P + T + s); optax's dice_loss as
  (I + s)/(P/2 + T/2 + s), i.e. ours with smooth = 2 s.
* triplet: torch/optax add eps = 1e-6 inside the distance; we do not.
* ``smooth_l1(beta)`` = ``optax.losses.huber_loss(delta=beta) / beta``.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import _loss_cases as lc
import losses

pytestmark = pytest.mark.usefixtures("enable_x64")
enable_x64 = lc.enable_x64

R = np.random.default_rng(0)
Z = R.normal(size=(6, 5)) * 2
Y = R.normal(size=(6, 5))
U = R.uniform(0.02, 0.98, size=(6, 5))
T = np.exp(Y) / np.exp(Y).sum(-1, keepdims=True)
L = R.integers(0, 5, size=6)
PM = np.sign(Y)
IMG = R.normal(size=(2, 4, 4, 3)) * 2
OH = np.eye(3)[R.integers(0, 3, size=(2, 4, 4))]
CTC_Z = R.normal(size=(3, 9, 5))
CTC_L = np.array([[1, 2, 2, 3], [4, 1, -1, -1], [2, -1, -1, -1]])


def _smooth(a):
  return optax.losses.smooth_labels(jax.nn.one_hot(L, 5), a)


OPTAX = {
    "squared_error": (lambda z: losses.squared_error(z, Y),
                      lambda z: optax.losses.squared_error(z, Y), Z),
    "huber": (lambda z: losses.huber(z, Y, delta=0.7),
              lambda z: optax.losses.huber_loss(z, Y, delta=0.7), Z),
    "smooth_l1": (lambda z: losses.smooth_l1(z, Y, beta=0.5),
                  lambda z: optax.losses.huber_loss(z, Y, delta=0.5) / 0.5, Z),
    "log_cosh": (lambda z: losses.log_cosh(z, Y),
                 lambda z: optax.losses.log_cosh(z, Y), Z),
    "sigmoid_binary_cross_entropy": (
        lambda z: losses.sigmoid_binary_cross_entropy(z, U),
        lambda z: optax.losses.sigmoid_binary_cross_entropy(z, U), Z),
    "softmax_cross_entropy": (
        lambda z: losses.softmax_cross_entropy(z, T),
        lambda z: optax.losses.softmax_cross_entropy(z, T), Z),
    "softmax_cross_entropy_with_integer_labels": (
        lambda z: losses.softmax_cross_entropy_with_integer_labels(z, L),
        lambda z: optax.losses.softmax_cross_entropy_with_integer_labels(z, L), Z),
    "softmax_cross_entropy_with_integer_labels[label_smoothing]": (
        lambda z: losses.softmax_cross_entropy_with_integer_labels(
            z, L, label_smoothing=0.2),
        lambda z: optax.losses.softmax_cross_entropy(z, _smooth(0.2)), Z),
    "kl_divergence": (lambda z: losses.kl_divergence(z, T),
                      lambda z: optax.losses.kl_divergence(jax.nn.log_softmax(z), T),
                      Z),
    "binary_hinge": (lambda z: losses.binary_hinge(z, PM),
                     lambda z: optax.losses.hinge_loss(z, PM), Z),
    "crammer_singer_hinge": (lambda z: losses.crammer_singer_hinge(z, L),
                             lambda z: optax.losses.multiclass_hinge_loss(z, L), Z),
    "sigmoid_focal": (
        lambda z: losses.sigmoid_focal(z, U, gamma=2.0, alpha=0.25),
        lambda z: optax.losses.sigmoid_focal_loss(z, U, alpha=0.25, gamma=2.0), Z),
    "softmax_focal[gamma=0]": (
        lambda z: losses.softmax_focal(z, T, gamma=0.0),
        lambda z: optax.losses.softmax_cross_entropy(z, T), Z),
    "dice[multiclass]": (
        lambda z: losses.dice(z, OH, smooth=1.0),
        lambda z: optax.losses.dice_loss(z, OH, smooth=0.5), IMG),
    "dice[binary]": (
        lambda z: losses.dice(z[..., 0], OH[..., 0], mode="binary"),
        lambda z: optax.losses.binary_dice_loss(z[..., 0], OH[..., 0], smooth=0.5),
        IMG),
    "tversky[multiclass]": (
        lambda z: losses.tversky(z, OH, alpha=0.3, beta=0.7),
        lambda z: optax.losses.dice_loss(z, OH, alpha=0.3, beta=0.7), IMG),
    "ctc": (lambda z: losses.ctc(z, CTC_L),
            lambda z: optax.losses.ctc_loss(z, np.zeros(z.shape[:2]),
                                     np.maximum(CTC_L, 0),
                                     (CTC_L < 0).astype(float)), CTC_Z),
    "triplet_margin": (
        lambda z: losses.triplet_margin(z, Y, U, margin=1.5),
        lambda z: optax.losses.triplet_margin_loss(z, Y, U, margin=1.5,
                                                   eps=0.0), Z),
}


@pytest.mark.parametrize("name", list(OPTAX))
def test_matches_optax(name):
  ours, theirs, x = OPTAX[name]
  x = jnp.asarray(x)

  @lc.jit
  def both(x):
    return [(f(x), jax.grad(lambda a: jnp.sum(f(a)))(x))
            for f in (ours, theirs)]
  (v1, g1), (v2, g2) = both(x)
  np.testing.assert_allclose(v1, v2, rtol=1e-9, atol=1e-9)
  np.testing.assert_allclose(g1, g2, rtol=1e-7, atol=1e-9)


def test_weston_watkins_vs_crammer_singer_documented_difference():
  ww = np.asarray(losses.multiclass_hinge(Z, L))
  cs = np.asarray(lc.jit(optax.losses.multiclass_hinge_loss)(Z, L))
  # WW sums every violating class, CS keeps the worst: WW >= CS, equal when
  # at most one class violates the margin.
  assert np.all(ww >= cs - 1e-12)
  violations = np.sum(
      (Z - Z[np.arange(6), L][:, None] + 1 > 0) & (np.arange(5) != L[:, None]),
      axis=1)
  np.testing.assert_allclose(ww[violations <= 1], cs[violations <= 1])
  assert np.any(ww[violations > 1] > cs[violations > 1])


# --- torch -------------------------------------------------------------------------
def _torch_cases(torch):
  F = torch.nn.functional
  t = lambda a: torch.tensor(np.asarray(a))  # noqa: E731
  tl = lambda a: torch.tensor(np.asarray(a), dtype=torch.long)  # noqa: E731
  return {
      # torch's multi_margin_loss is Weston-Watkins divided by C
      "multiclass_hinge": (lambda z: losses.multiclass_hinge(z, L) / 5,
                           lambda z: F.multi_margin_loss(z, tl(L),
                                                         reduction="none"), Z),
      "smooth_l1": (lambda z: losses.smooth_l1(z, Y, beta=0.5),
                    lambda z: F.smooth_l1_loss(z, t(Y), reduction="none",
                                               beta=0.5), Z),
      "huber": (lambda z: losses.huber(z, Y, delta=0.7),
                lambda z: F.huber_loss(z, t(Y), reduction="none", delta=0.7),
                Z),
      "binary_cross_entropy": (
          lambda p: losses.binary_cross_entropy(p, (Y > 0) * 1.0),
          lambda p: F.binary_cross_entropy(p, t((Y > 0) * 1.0),
                                           reduction="none"), U),
      "sigmoid_binary_cross_entropy[pos_weight]": (
          lambda z: losses.sigmoid_binary_cross_entropy(z, U, pos_weight=3.0),
          lambda z: F.binary_cross_entropy_with_logits(
              z, t(U), pos_weight=torch.tensor(3.0, dtype=torch.float64),
              reduction="none"), Z),
      "softmax_cross_entropy_with_integer_labels[label_smoothing]": (
          lambda z: losses.softmax_cross_entropy_with_integer_labels(
              z, L, label_smoothing=0.1),
          lambda z: F.cross_entropy(z, tl(L), label_smoothing=0.1,
                                    reduction="none"), Z),
      "nll": (lambda p: losses.nll(p, L),
              lambda p: F.nll_loss(torch.log(p), tl(L), reduction="none"), T),
      "kl_divergence": (lambda z: losses.kl_divergence(z, T),
                        lambda z: F.kl_div(F.log_softmax(z, -1), t(T),
                                           reduction="none").sum(-1), Z),
      "pairwise_margin_ranking": (
          lambda z: losses.pairwise_margin_ranking(z, Y, margin=0.5),
          lambda z: F.margin_ranking_loss(z, t(Y), torch.ones_like(z),
                                          margin=0.5, reduction="none"), Z),
      "triplet_margin[p=1]": (
          lambda z: losses.triplet_margin(z, Y, U, margin=2.0, p=1),
          lambda z: F.triplet_margin_loss(z, t(Y), t(U), margin=2.0, p=1,
                                          reduction="none"), Z),
      "gan_discriminator": (
          lambda z: losses.gan_discriminator(z, Y),
          lambda z: (F.binary_cross_entropy_with_logits(
              z, torch.ones_like(z), reduction="none")
                     + F.binary_cross_entropy_with_logits(
                         t(Y), torch.zeros_like(z), reduction="none")), Z),
      "ctc": (lambda z: losses.ctc(z, CTC_L),
              lambda z: F.ctc_loss(
                  F.log_softmax(z, -1).transpose(0, 1),
                  tl(np.maximum(CTC_L, 0)), tl([9, 9, 9]),
                  tl((CTC_L >= 0).sum(1)), blank=0, reduction="none"),
              CTC_Z),
  }


TORCH_NAMES = ["multiclass_hinge", "smooth_l1", "huber", "binary_cross_entropy",
               "sigmoid_binary_cross_entropy[pos_weight]",
               "softmax_cross_entropy_with_integer_labels[label_smoothing]",
               "nll", "kl_divergence", "pairwise_margin_ranking",
               "triplet_margin[p=1]", "gan_discriminator", "ctc"]


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_matches_torch(name):
  torch = pytest.importorskip("torch")
  ours, theirs, x = _torch_cases(torch)[name]
  v, (v1, g1) = lc.jit(lambda a: (   # one program
      ours(a), jax.value_and_grad(lambda a: jnp.sum(ours(a)))(a)))(jnp.asarray(x))
  xt = torch.tensor(np.asarray(x), requires_grad=True)
  out = theirs(xt)
  out.sum().backward()
  tol = 1e-5 if "triplet" in name else 1e-9
  np.testing.assert_allclose(v, out.detach().numpy(),
                             rtol=1e-7, atol=tol)
  np.testing.assert_allclose(g1, xt.grad.numpy(), rtol=1e-6, atol=tol)


@pytest.mark.parametrize("axis", [(2, 3), (3, 1), (-1,)])
def test_a_tuple_axis_is_one_flattened_class_axis_as_in_optax(axis):
  z = R.normal(size=(2, 3, 4, 5)) * 2
  classes = [a % 4 for a in axis]
  batch = tuple(i for i in range(4) if i not in classes)
  flat = np.transpose(z, batch + tuple(classes)).reshape(
      tuple(z.shape[i] for i in batch) + (-1,))
  t = lc._softmax(R.normal(size=flat.shape)).reshape(
      tuple(z.shape[i] for i in batch) + tuple(z.shape[i] for i in classes))
  t = np.transpose(t, np.argsort(batch + tuple(classes)))
  labels = R.integers(0, flat.shape[-1], size=flat.shape[:-1])
  pairs = lc.jit(lambda z, t: [   # ours and optax's, in one program
      (losses.softmax_cross_entropy(z, t, axis=axis),
       optax.losses.softmax_cross_entropy(z, t, axis=axis)),
      (losses.kl_divergence(z, t, axis=axis),
       optax.losses.kl_divergence(jax.nn.log_softmax(z, axis=axis), t, axis=axis)),
      (losses.softmax_cross_entropy_with_integer_labels(z, labels, axis=axis),
       optax.losses.softmax_cross_entropy_with_integer_labels(z, labels, axis=axis)),
  ])(z, t)
  for ours, theirs in pairs:
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
  with pytest.raises(ValueError, match="names an axis twice"):
    losses.softmax_cross_entropy(z, t, axis=(1, -3))
