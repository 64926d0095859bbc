"""Autoencoder: MNIST digits through a 32-d bottleneck, pixel MSE on sigmoid outputs (notes 000).

Dense autoencoder (784-256-128-32-128-256-784), loss sum_pix (sigma(z_pix) - I_pix)^2
(`losses.sigmoid_squared_error` on the logits, i.e. a sigmoid output with squared
error). Plot: test digits and their reconstructions. See experiments/_autoencoder.py.
"""
from experiments import _autoencoder

REPORT = _autoencoder.report("mse", 32, bar="≤ 0.015")
run = _autoencoder.run


def get_config(variant=None):
  return _autoencoder.config("mse", latent_dim=32, variant=variant)
