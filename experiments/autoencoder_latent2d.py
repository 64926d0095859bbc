"""Autoencoder with a 2-D latent: pixel BCE, scatter plot of test codes by class (notes 000).

The autoencoder_bce network with latent_dim = 2, so every digit's code is a point in
the plane: plots/latent.png scatters the test digits' codes coloured by class
(classes form clusters although the autoencoder never saw a label), and
plots/reconstructions.png shows what two numbers can keep of a digit.
"""
from . import autoencoder_bce

REPORT = dict(task="autoencoder, 2-d bottleneck", output="sigmoid (per pixel)",
              loss="sigmoid_binary_cross_entropy (pixel BCE)",
              model="mlp_autoencoder (latent 2)", data="mnist10k (targets = inputs)",
              metric="test/reconstruction_mse", bar="≤ 0.06")


def get_config():
  c = autoencoder_bce.get_config()
  c.model.latent_dim = 2
  c.num_steps = 4000
  c.plots = ("reconstructions", "latent_scatter")
  return c
