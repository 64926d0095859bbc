"""Autoencoder: MNIST digits through a 32-d bottleneck, pixel BCE on sigmoid outputs (notes 000).

Dense autoencoder (784-256-128-32-128-256-784) emitting logits z; the
reconstruction is sigma(z). Notes 000's two pixel losses, both on the same logits:

  pixel BCE:  sum_pix BCE(sigma(z_pix), I_pix)   -> losses.sigmoid_binary_cross_entropy
  pixel MSE:  sum_pix (sigma(z_pix) - I_pix)^2   -> losses.sigmoid_squared_error

(the loop averages over pixels, i.e. the notes' sum / 784), with the grey levels in
[0, 1] as soft targets. One metric, reconstruction_mse = mean (sigma(z) - I)^2,
compares them. Plot: test digits and their reconstructions.
"""
from . import _base

REPORT = dict(task="autoencoder, 32-d bottleneck", output="sigmoid (per pixel)",
              loss="sigmoid_binary_cross_entropy (pixel BCE)",
              model="mlp_autoencoder (latent 32)", data="mnist10k (targets = inputs)",
              metric="test/reconstruction_mse", bar="≤ 0.015")


def get_config():
  """Shared by the other autoencoder experiments."""
  c = _base.base_config()
  c.data.name = "mnist10k"
  c.data.target_transform = dict(name="inputs")
  c.model = dict(name="mlp_autoencoder", input_shape=(28, 28, 1), latent_dim=32,
                 hidden=(256, 128), activation="relu", output_activation="identity")
  c.loss = dict(name="sigmoid_binary_cross_entropy")
  c.optimizer = dict(name="adam", learning_rate=2e-3)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.num_steps = 3000
  c.batch_size = 128
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.metrics = ("reconstruction_mse",)
  c.plots = ("reconstructions",)
  return c
