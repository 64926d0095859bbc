"""Reconstruction error of autoencoders (notes 000 "AutoEncoders: Dimensionality
Compression", L(I^1, I^2) = sum_pix MSE(I^1_pix, I^2_pix)).

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
    raise ValueError(f"reconstruction_mse: logits {jnp.shape(logits)} and images "
                     f"{jnp.shape(images)} must have the same shape")
  recon = jax.nn.sigmoid(jnp.asarray(logits, jnp.float32))
  return jnp.mean(jnp.square(recon - jnp.asarray(images, jnp.float32)))
