"""GAN losses on discriminator logits (note 000 "Generative Networks"; the
standard minimax objective of Goodfellow et al.).

``D(x) = sigma(logit)``. All are elementwise (one value per logit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C


_sp = C.softplus


def _single(fn, core, logits, where, weights, name="fake_logits"):
  C.check_floating(logits, name, fn)
  shape = jnp.shape(logits)
  C.check_broadcast_to(where, shape, "where", fn)
  C.check_broadcast_to(weights, shape, "weights", fn)
  cdt, odt = C.compute_dtype(logits)
  mask = C.as_mask(where, shape)
  z = C.safe(jnp.asarray(logits).astype(cdt), mask)
  return C.finish(core(z), mask, weights, odt)


# The partials are written as -sigma(-z) rather than sigma(z) - 1: the same
# number, without cancellation for large z (sigma's own derivative,
# sigma(z) sigma(-z), keeps the higher orders finite at +-1e4 and +-inf).
@jax.custom_jvp
def _disc(r, f):
  return _sp(-r) + _sp(f)


def _disc_jvp(primals, tangents):
  r, f = primals
  tr, tf = tangents
  v = _disc(r, f)
  return v, C.tangent_sum(
    v,
    [
      -jax.nn.sigmoid(-r) * tr if C.has_tangent(tr) else None,
      jax.nn.sigmoid(f) * tf if C.has_tangent(tf) else None,
    ],
  )


_disc.defjvp(_disc_jvp, symbolic_zeros=True)


@jax.jit
def gan_discriminator(
  real_logits: ArrayLike,
  fake_logits: ArrayLike,
  *,
  where: ArrayLike | None = None,
  weights: ArrayLike | None = None,
) -> jax.Array:
  """Discriminator loss ``-log D(x) - log(1 - D(G(z)))`` =
  ``softplus(-real) + softplus(fake)`` (BCE with targets 1 and 0).

  Gradients: ``sigma(real) - 1`` and ``sigma(fake)`` (note 003's sigma - t).
  ``real_logits`` and ``fake_logits`` must have the same shape.
  """
  return C.elementwise(
    "gan_discriminator",
    _disc,
    real_logits,
    fake_logits,
    where,
    weights,
    names=("real_logits", "fake_logits"),
    targets_float=True,
  )


@jax.custom_jvp
def _gen_ns(f):
  return _sp(-f)


def _gen_ns_jvp(primals, tangents):
  (f,), (tf,) = primals, tangents
  v = _gen_ns(f)
  return v, C.tangent_sum(v, [-jax.nn.sigmoid(-f) * tf if C.has_tangent(tf) else None])


_gen_ns.defjvp(_gen_ns_jvp, symbolic_zeros=True)


@jax.jit
def gan_generator_nonsaturating(
  fake_logits: ArrayLike, *, where: ArrayLike | None = None, weights: ArrayLike | None = None
) -> jax.Array:
  """Non-saturating generator loss ``-log D(G(z)) = softplus(-fake)``.

  Gradient ``sigma(fake) - 1``: strong when the discriminator wins (fake
  logits very negative), unlike the minimax form.
  """
  return _single("gan_generator_nonsaturating", _gen_ns, fake_logits, where, weights)


@jax.custom_jvp
def _gen_mm(f):
  return -_sp(f)


def _gen_mm_jvp(primals, tangents):
  (f,), (tf,) = primals, tangents
  v = _gen_mm(f)
  return v, C.tangent_sum(v, [-jax.nn.sigmoid(f) * tf if C.has_tangent(tf) else None])


_gen_mm.defjvp(_gen_mm_jvp, symbolic_zeros=True)


@jax.jit
def gan_generator_minimax(
  fake_logits: ArrayLike, *, where: ArrayLike | None = None, weights: ArrayLike | None = None
) -> jax.Array:
  """Minimax generator loss ``log(1 - D(G(z))) = -softplus(fake)`` (to be
  minimised). Gradient ``-sigma(fake)``, which vanishes when the
  discriminator confidently rejects the fakes (the saturation problem).
  """
  return _single("gan_generator_minimax", _gen_mm, fake_logits, where, weights)
