"""Autoencoder with a 2-D latent: pixel BCE, scatter plot of test codes by class (notes 000).

The autoencoder_bce network with latent_dim = 2, so every digit's code is a point in
the plane: plots/latent.png scatters the test digits' codes coloured by class
(classes form clusters although the autoencoder never saw a label), and
plots/reconstructions.png shows what two numbers can keep of a digit.
"""
from experiments import _autoencoder

REPORT = _autoencoder.report("bce", 2, bar="≤ 0.06")
run = _autoencoder.run


def get_config(variant=None):
  return _autoencoder.config("bce", latent_dim=2, variant=variant, num_steps=4000)
