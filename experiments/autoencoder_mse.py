"""Autoencoder: MNIST digits through a 32-d bottleneck, pixel MSE on sigmoid outputs (notes 000).

autoencoder_bce's network and recipe with the loss sum_pix (sigma(z_pix) - I_pix)^2
(`losses.sigmoid_squared_error` on the logits, i.e. a sigmoid output with squared
error). Plot: test digits and their reconstructions.
"""
from . import autoencoder_bce

REPORT = dict(task="autoencoder, 32-d bottleneck", output="sigmoid (per pixel)",
              loss="sigmoid_squared_error (pixel MSE)",
              model="mlp_autoencoder (latent 32)", data="mnist10k (targets = inputs)",
              metric="test/reconstruction_mse", bar="≤ 0.015")


def get_config():
  c = autoencoder_bce.get_config()
  c.loss.name = "sigmoid_squared_error"
  return c
