"""What the autoencoder experiments share (notes 000 "AutoEncoders: Dimensionality
Compression"): the config and the plots.

The network is the zoo's dense `mlp_autoencoder` (784 -> 256 -> 128 -> latent ->
128 -> 256 -> 784) emitting logits; the reconstruction is sigma(logits). The two
pixel losses of the notes, both on the same logits:

  pixel MSE:  sum_pix (sigma(z_pix) - I_pix)^2   -> losses.sigmoid_squared_error
  pixel BCE:  sum_pix BCE(sigma(z_pix), I_pix)   -> losses.sigmoid_binary_cross_entropy

(the loop averages over pixels, i.e. the notes' sum / 784). The first is exactly a
sigmoid output layer with squared error; keeping logits as the output for both lets
one metric, `reconstruction_mse` = mean (sigma(z) - I)^2, compare them.
"""
from __future__ import annotations

import functools
from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import _base, _sweep
from nn_lib import data as data_lib
from nn_lib.plots import images

LOSSES = {"mse": "sigmoid_squared_error", "bce": "sigmoid_binary_cross_entropy"}


def report(pixel_loss: str, latent_dim: int, bar: str) -> dict:
  return dict(task=f"autoencoder, {latent_dim}-d bottleneck",
              output="sigmoid (per pixel)", loss=f"{LOSSES[pixel_loss]} (pixel "
              f"{pixel_loss.upper()})", model=f"mlp_autoencoder (latent {latent_dim})",
              data="mnist10k (targets = inputs)", metric="test/reconstruction_mse", bar=bar)


def config(pixel_loss: str, latent_dim: int, variant: str | None,
           num_steps: int = 3000) -> ml_collections.ConfigDict:
  if pixel_loss not in LOSSES:
    raise ValueError(f"pixel_loss must be one of {sorted(LOSSES)}, got {pixel_loss!r}")
  c = _base.base_config()
  c.data.name = "mnist10k"
  c.data.target_transform = "inputs"
  c.model = dict(name="mlp_autoencoder", input_shape=(28, 28, 1), latent_dim=latent_dim,
                 hidden=(256, 128), activation="relu", output_activation="identity")
  c.loss = dict(name=LOSSES[pixel_loss])
  c.optimizer = dict(name="adam", learning_rate=2e-3)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.num_steps = num_steps
  c.batch_size = 128
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.metrics = ("reconstruction_mse",)
  return _base.apply_variant(c, variant)


def run(cfg, workdir):
  """The module-level `run` hook of every autoencoder experiment."""
  return _sweep.run_with_hooks(cfg, workdir,
                                 after_training=functools.partial(after_training, cfg))


def _class_labels(cfg, split: str) -> np.ndarray:
  """The digit classes of a split, in the order the run saw its images (the run's
  targets are the images themselves, so the labels are read again)."""
  cfg_data = ml_collections.ConfigDict(cfg.data.to_dict())
  cfg_data.target_transform = None
  return data_lib.load(cfg_data)[split]["targets"]


def after_training(cfg, state, model, splits, workdir: Path) -> None:
  """Reconstruction grid of 20 test digits; for a 2-D latent also a scatter plot of
  every test digit's code coloured by its class."""
  test = splits["test"]
  plots = Path(workdir) / "plots"
  originals = test["inputs"][:20]
  recon = jax.nn.sigmoid(_sweep.predict(model, state, originals))
  images.reconstruction_grid(originals, np.asarray(recon), plots / "reconstructions.png",
                             title=f"{cfg.loss.name}, latent {cfg.model.latent_dim}: "
                                   "test digits (top) and reconstructions (bottom)")
  if cfg.model.latent_dim == 2:
    z = _sweep.predict(model, state, test["inputs"], cfg.eval_batch_size, method="encode")
    images.latent_scatter(z, _class_labels(cfg, "test"), plots / "latent.png",
                          title="2-D latent codes of the test digits, by class")
