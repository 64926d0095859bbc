"""Tiny NeRF: a radiance field fit to 32 ray-cast views of two spheres on a checkered floor (notes 000).

Measured on this 2-core CPU (`launch/run_all.py`): test PSNR 23.19 dB on the 8
held-out views, expected-depth error 0.051, in 328 s with compilation; the test
PSNR passes 22 dB by step ~750 of 3,000. plots/renders.png sets the held-out
views above their renders, plots/depth.png the true and rendered depth.
"""
from . import _base

REPORT = {"task": "novel view synthesis (neural radiance field of an analytic scene)",
          "output": "[sigma, r, g, b] per 3-D point; volume-rendered ray colour",
          "loss": "squared error of rendered vs true pixel colours",
          "model": "NeRF MLP gamma(x) (L=8) -> 4x64 ReLU -> sigma, sigmoid RGB; "
                   "32 stratified samples per ray (coarse only)",
          "data": "two_spheres: 40 ray-cast 32x32 views on a circle; every 5th held out",
          "metric": "test/psnr", "bar": "≥ 22 dB in ≤ 10 min"}


def get_config():
  c = _base.common_config("nerf")  # nn_lib/trainers/nerf.py
  # Ray-cast on the fly (nn_lib/data/scenes.py), no dataset
  c.data.source = "scene"
  c.data.name = "two_spheres"
  c.data.num_views = 40          # cameras on a circle, 9 degrees apart
  c.data.image_size = 32
  c.data.test_every = 5          # views 0, 5, ..., 35 held out: 32 train, 8 test
  c.metrics = ("psnr", "depth_mae")  # what the trainer reports
  # No view directions: the scene is diffuse (Lambert), its colours the same from
  # every side, so gamma(d) would only add inputs to overfit the 32 views with.
  c.model = {"name": "nerf_mlp", "depth": 4, "width": 64, "skips": (), "pos_freqs": 8,
             "use_viewdirs": False, "density_activation": "relu"}
  c.optimizer = {"name": "adam", "learning_rate": 5e-3}
  c.schedule = {"name": "cosine", "end_fraction": 0.05}
  c.nerf = {
      "num_samples": 32,  # bins of (far - near) / 32 = 0.12 along each ray
      "near": 1.8,        # the scene's bounds from every camera (scenes.NEAR, FAR)
      "far": 5.6,
      "plot_views": 8,    # test views in plots/renders.png and depth.png
  }
  c.num_steps = 3000
  c.batch_size = 1024   # rays per step
  c.eval_batch_size = 4096
  c.log_every = 100
  c.eval_every = 250
  c.checkpoint_every = 1000
  c.keep_checkpoints = 1
  return c


def _smoke(c):
  c.model.depth, c.model.width = 2, 32
  c.nerf.plot_views = 2  # a figure's time grows with its panels
  c.model.pos_freqs = 4
  c.nerf.num_samples = 16
  c.batch_size = 256
  c.eval_batch_size = 4096
  c.log_every = 3
  c.checkpoint_every = 6  # one checkpoint, not two


VARIANTS = {"smoke": _smoke}
