"""MLP GAN on the 8-Gaussians ring (radius 2, std 0.02): does G cover all 8 modes? (notes 000 GANs)."""
from . import _base

REPORT = dict(task="generative modelling (2-D mixture of 8 Gaussians)",
              output="G(z) in R^2, D logit", loss="GAN: non-saturating G, BCE D + R1",
              model="MLP G 2-128-128-128-2, MLP D 2-128-128-128-1 (ReLU)",
              data="8 Gaussians on a ring (r 2, std 0.02), fresh each step",
              metric="test/modes_covered",
              bar=">= 7 (of 8; and test/high_quality_fraction >= 0.8 within 3 std)")


def get_config():
  c = _base.common_config("gan")  # nn_lib/trainers/gan.py
  # A density sampled on the device every update (nn_lib.data.mixtures), no dataset
  c.data.source = "sampler"
  c.data.name = "gaussian_ring"
  c.data.num_modes = 8
  c.data.radius = 2.0
  c.data.std = 0.02
  c.metrics = ("modes_covered", "high_quality_fraction")  # what the trainer reports
  c.generator = dict(name="mlp", num_outputs=2, hidden=(128, 128, 128), activation="relu")
  c.discriminator = dict(name="mlp", num_outputs=1, hidden=(128, 128, 128),
                         activation="relu")
  # Adam with beta1 = 0.5 (Radford et al.): less momentum, less oscillation between players
  c.g_optimizer = dict(name="adam", learning_rate=1e-3, b1=0.5)
  c.d_optimizer = dict(name="adam", learning_rate=1e-3, b1=0.5)
  # Decayed to 5% (for each player over its own updates): the players' late
  # oscillation (modes won and lost) damps out
  c.schedule = dict(name="linear", end_fraction=0.05)
  c.gan = dict(
      latent_dim=2,
      d_steps=1,                      # discriminator updates per generator update (k)
      generator_loss="nonsaturating",  # or "minimax": log(1 - D(G(z)))
      # gamma of the R1 penalty on D (0: none). Without it G covered 6 of the 8
      # modes after 10,000 steps (5 with d_steps=2, 3 with latent_dim=8); with 0.1
      # it covers all 8 (1.0: 8 too, later).
      r1_weight=0.1,
      eval_samples=2048,              # G(z) draws (fixed z) per evaluation
      within_stds=3.0,                # a sample is "high quality" within 3 std of a mode
      min_mode_fraction=1 / 16,       # a mode is covered when it holds this share
      plot_snapshots=6,               # panels of plots/samples.png
  )
  c.num_steps = 10000
  c.batch_size = 256
  c.eval_batch_size = 1024
  c.log_every = 250
  c.eval_every = 1000
  c.checkpoint_every = 5000
  c.keep_checkpoints = 1
  return c


def _smoke(c):
  c.gan.eval_samples = 256
  c.gan.plot_snapshots = 1
  c.log_every = 3  # one chunk length (3), one compile
  c.generator.hidden = c.discriminator.hidden = (32, 32)


VARIANTS = {"smoke": _smoke}
