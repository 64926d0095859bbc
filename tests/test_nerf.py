"""The analytic scene (nn_lib/data/scenes.py) on hand-computed rays, and the NeRF
trainer (nn_lib/trainers/nerf.py): bit-identical resume, clear config errors."""
from __future__ import annotations

import jax
import numpy as np
import pytest

import experiments
from nn_lib.data import scenes
from nn_lib.registry import ConfigError
from nn_lib.trainers import nerf

SCENE = scenes.SCENES["two_spheres"]


def test_rays_hit_spheres_and_floor_where_hand_computed():
  # light l = (0.5, 1, 0.35), |l| = sqrt(1.3725); ambient 0.3; background white.
  # 1. Along -z at the red sphere's centre c = (-0.5, 0.45, -0.2), r = 0.45, from
  #    5 away: it hits at t = 5 - r = 4.55 where the normal is +z; n.l = 0.35/|l|,
  #    the shadow ray passes the blue sphere 1.01 away (> its radius): lit.
  # 2. Straight up from (0, 2, 0): nothing; background, depth inf.
  # 3. At the floor point q = c - (c_y / l_y) l = (-0.725, 0, -0.3575), whose shadow
  #    ray goes through c: in shadow, colour = ambient * albedo of cell
  #    (floor(-0.725/0.5) + floor(-0.3575/0.5)) % 2 = (-2 - 1) % 2 = 1 = (0.25, 0.3,
  #    0.35), reached from (-2, 2, 0) away at t = 2 sqrt(2) (this ray misses c by 0.50).
  o_Nx3 = np.array([[-0.5, 0.45, 4.8], [0.0, 2.0, 0.0], [-2.725, 2.0, -0.3575]])
  d_Nx3 = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [2.0, -2.0, 0.0]])
  rgb_Nx3, t_N = scenes.render_rays(o_Nx3, d_Nx3, SCENE)
  lit = 0.3 + 0.7 * 0.35 / np.sqrt(1.3725)
  np.testing.assert_allclose(rgb_Nx3, [[0.9 * lit, 0.2 * lit, 0.15 * lit], [1.0, 1.0, 1.0],
                                       [0.075, 0.09, 0.105]], rtol=1e-6)
  np.testing.assert_allclose(t_N[[0, 2]], [4.55, 2 * np.sqrt(2)], rtol=1e-7)
  assert t_N[1] == np.inf


def test_views_split_and_stay_within_the_scene_bounds():
  v = scenes.views("two_spheres", num_views=40, size=8)
  assert v.images_VxHxWx3.shape == (40, 8, 8, 3) and v.c2w_Vx3x4.shape == (40, 3, 4)
  train_V, test_V = scenes.split_views(40, 5)
  assert list(test_V) == [0, 5, 10, 15, 20, 25, 30, 35] and len(train_V) == 32
  seen = v.depths_VxHxW[np.isfinite(v.depths_VxHxW)]
  assert 0.2 < seen.size / v.depths_VxHxW.size < 0.9  # floor, spheres and background
  assert scenes.NEAR <= seen.min() and seen.max() <= scenes.FAR
  lo, hi = scenes.near_far(SCENE)
  assert scenes.NEAR <= lo < hi <= scenes.FAR
  # every camera is on the circle of radius 3.2 at height 1.6, 9 degrees apart
  eyes_Vx3 = v.c2w_Vx3x4[:, :, 3]
  np.testing.assert_allclose(np.hypot(eyes_Vx3[:, 0], eyes_Vx3[:, 2]), 3.2, rtol=1e-6)
  np.testing.assert_allclose(eyes_Vx3[1], [3.2 * np.sin(np.pi / 20), 1.6,
                                           3.2 * np.cos(np.pi / 20)], rtol=1e-6)


def _tiny():
  """nerf_tiny at its smallest: 8-unit MLP, 8 samples on 64 rays a step, 6 steps
  saving at 3, 8x8 views."""
  cfg = experiments.get_config("nerf_tiny:smoke")
  cfg.data.image_size = 8
  cfg.model.width, cfg.model.depth, cfg.model.pos_freqs = 8, 2, 2
  cfg.nerf.num_samples = 8
  cfg.nerf.plot_views = 0
  cfg.batch_size = 64
  cfg.checkpoint_every = 3
  # the resume test stops a run by shortening num_steps: a schedule that depends
  # on num_steps would make that a different run
  cfg.schedule = {"name": "constant"}
  return cfg


def test_resume_is_bit_identical(tmp_path):
  straight = nerf.train_and_evaluate(_tiny(), tmp_path / "straight")
  cfg = _tiny()
  cfg.num_steps = 3
  first = nerf.train_and_evaluate(cfg, tmp_path / "resumed")
  assert int(first.state["step"]) == 3
  resumed = nerf.train_and_evaluate(_tiny(), tmp_path / "resumed")
  assert resumed.start_step == 3 and int(resumed.state["step"]) == 6
  leaves_a = jax.tree.leaves_with_path(straight.state)
  leaves_b = jax.tree.leaves_with_path(resumed.state)
  assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
  for (path, a), (_, b) in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=str(path))
  assert straight.final == resumed.final
  assert set(straight.final) == {"train/loss", "train/psnr", "test/psnr", "test/depth_mae"}
  # predict renders rays [origin, direction]: the test split's PSNR again
  test = straight.splits["test"]
  rgb_Nx3 = straight.predict(test["inputs"])
  psnr = -10 * np.log10(np.mean((rgb_Nx3 - test["targets"]) ** 2))
  assert psnr == pytest.approx(straight.final["test/psnr"], abs=1e-4)


@pytest.mark.parametrize("key,value,message", [
    ("nerf.num_samples", 0, r"config.nerf.num_samples must be a positive integer, got 0"),
    ("nerf.near", 6.0, (r"config.nerf.near=6.0 and config.nerf.far=5.6 must be numbers "
                        r"with 0 <= near < far")),
    ("model.name", "mlp", r"config.model.name='mlp': the nerf trainer renders"),
    ("data.name", "teapot", r"config.data.name: unknown scene 'teapot'; valid: two_spheres"),
    ("data.test_every", 1, r"config.data.test_every=1 must be in 2..40"),
])
def test_bad_config_values_are_clear_errors(tmp_path, key, value, message):
  cfg = _tiny()
  part, name = key.split(".")
  cfg[part][name] = value
  with pytest.raises(ConfigError, match=message):
    nerf.train_and_evaluate(cfg, tmp_path)
  assert not (tmp_path / "config.json").exists()  # refused before the workdir is used
