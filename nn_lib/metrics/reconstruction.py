"""Reconstruction error of autoencoders (notes 000 "AutoEncoders: Dimensionality
Compression", L(I^1, I^2) = sum_pix MSE(I^1_pix, I^2_pix)), and the PSNR that
neural fields (notes 000 "Neural Radiance Fields") report for reconstructed images.

Autoencoders in the zoo emit logits (their default output_activation="identity"),
whether trained with pixel BCE on the logits or with pixel MSE on sigmoid(logits),
so one metric compares both: the reconstruction is sigma(logits).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nn_lib.metrics.registry import register


@register("reconstruction_mse")
def reconstruction_mse(logits: jax.Array, images: jax.Array) -> jax.Array:
  """Mean over images and pixels of (sigma(z_pix) - I_pix)^2, for images in [0, 1]:
  the notes' per-image sum over pixels divided by the number of pixels."""
  if jnp.shape(logits) != jnp.shape(images):
    raise ValueError(
      f"reconstruction_mse: logits {jnp.shape(logits)} and images "
      f"{jnp.shape(images)} must have the same shape"
    )
  recon = jax.nn.sigmoid(jnp.asarray(logits, jnp.float32))
  return jnp.mean(jnp.square(recon - jnp.asarray(images, jnp.float32)))


# PSNR of a perfect reconstruction would be +inf (MSE 0): the MSE is floored here,
# so it reads 100 dB, and summaries stay finite numbers.
_PSNR_MIN_MSE = 1e-10


@register("psnr")
def psnr(predictions: jax.Array, targets: jax.Array) -> jax.Array:
  """Peak signal-to-noise ratio in dB, PSNR = 10 log10(MAX^2 / MSE) with MAX = 1:
  the predictions are images (pixels, colours) in [0, 1], compared as they are
  (no sigmoid: a model ending in a sigmoid, or clipped values), and MSE is the mean
  over every value of (prediction - target)^2. MSE 0.01 -> 20 dB; each halving of
  the error's RMS adds 6.02 dB. The NeRF paper reports it (Mildenhall et al. 2020).
  Over a whole split it is the PSNR of the split's pooled MSE, not a mean of
  per-image PSNRs; an MSE below 1e-10 counts as 1e-10 (100 dB)."""
  if jnp.shape(predictions) != jnp.shape(targets):
    raise ValueError(
      f"psnr: predictions {jnp.shape(predictions)} and targets "
      f"{jnp.shape(targets)} must have the same shape"
    )
  diff = jnp.asarray(predictions, jnp.float32) - jnp.asarray(targets, jnp.float32)
  mse = jnp.maximum(jnp.mean(jnp.square(diff)), _PSNR_MIN_MSE)
  return -10.0 * jnp.log10(mse)  # 10 log10(1 / MSE)
