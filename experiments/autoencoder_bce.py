"""Autoencoder: MNIST digits through a 32-d bottleneck, pixel BCE on sigmoid outputs (notes 000).

Dense autoencoder (784-256-128-32-128-256-784), loss sum_pix BCE(sigma(z_pix), I_pix)
(`losses.sigmoid_binary_cross_entropy` on the logits, with the grey levels in [0, 1]
as soft targets). Plot: test digits and their reconstructions. See
experiments/_autoencoder.py.
"""
from experiments import _autoencoder

REPORT = _autoencoder.report("bce", 32, bar="≤ 0.015")
run = _autoencoder.run


def get_config(variant=None):
  return _autoencoder.config("bce", latent_dim=32, variant=variant)
