"""Camera rays and stratified sampling (nn_lib.rendering) on hand-computed cases."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib.models.nerf import volume_render
from nn_lib.rendering import look_at, pinhole_rays, stratified_samples


def test_look_at_down_the_z_axis_is_the_identity_rotation():
  np.testing.assert_allclose(look_at((0, 0, 5)), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 5]],
                             atol=1e-7)
  # from +x, looking at the origin: backward = +x, right = up x backward = -z
  np.testing.assert_allclose(look_at((3, 0, 0))[:, :3], [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],
                             atol=1e-7)
  with pytest.raises(ValueError, match="parallel"):
    look_at((0, 4, 0))


def test_pinhole_rays_by_hand():
  # 3 x 5 image, f = 2: the centre pixel (1, 2) looks straight ahead (-z); pixel
  # (0, 0) along ((0.5 - 2.5)/2, -(0.5 - 1.5)/2, -1) = (-1, 0.5, -1), norm 1.5.
  origins, dirs = pinhole_rays(3, 5, 2.0, look_at((0, 0, 5)))
  assert origins.shape == dirs.shape == (3, 5, 3)
  np.testing.assert_allclose(origins, np.broadcast_to([0, 0, 5], (3, 5, 3)))
  np.testing.assert_allclose(dirs[1, 2], [0, 0, -1], atol=1e-7)
  np.testing.assert_allclose(dirs[0, 0], np.array([-1, 0.5, -1]) / 1.5, rtol=1e-6)
  np.testing.assert_allclose(jnp.linalg.norm(dirs, axis=-1), 1.0, rtol=1e-6)
  # the centre ray of a camera at distance 5 reaches the target at t = 5
  eye = np.array([3.0, 0.0, 4.0])
  o, d = pinhole_rays(3, 5, 2.0, look_at(eye, target_3=(0, 0, 0)))
  np.testing.assert_allclose(o[1, 2] + 5.0 * d[1, 2], [0, 0, 0], atol=1e-5)
  with pytest.raises(ValueError, match="3 x 4"):
    pinhole_rays(3, 5, 2.0, np.eye(4))


def test_stratified_samples_lie_in_their_bins():
  t = stratified_samples(jax.random.PRNGKey(0), 2.0, 6.0, 4, shape=(1000,))
  assert t.shape == (1000, 4)
  lower = np.array([2.0, 3.0, 4.0, 5.0])
  assert np.all(t >= lower) and np.all(t < lower + 1.0)
  assert np.all(np.diff(t, axis=-1) > 0)
  # uniform in each bin: the mean is the midpoint, and rays draw independently
  np.testing.assert_allclose(t.mean(axis=0), lower + 0.5, atol=0.03)
  assert len(np.unique(np.asarray(t[:, 0]))) == 1000
  np.testing.assert_allclose(stratified_samples(None, 2.0, 6.0, 4, shape=(2,)),
                             [[2.5, 3.5, 4.5, 5.5]] * 2)
  with pytest.raises(ValueError, match="near < far"):
    stratified_samples(None, 3.0, 1.0, 4)


def test_a_ray_through_a_slab_renders_its_transmittance():
  # Camera at z = 5 looking at the origin; density 1 in the slab |z| <= 0.5, colour
  # red, background white: the centre ray crosses 1 unit of it, so its colour is
  # (1 - e^-1) red + e^-1 white and its opacity 1 - e^-1 (up to the quadrature).
  origins, dirs = pinhole_rays(3, 3, 2.0, look_at((0, 0, 5)))
  t = stratified_samples(None, 0.0, 10.0, 2000)
  points = origins[1, 1] + t[:, None] * dirs[1, 1]
  sigma = jnp.where(jnp.abs(points[:, 2]) <= 0.5, 1.0, 0.0)
  rgb = jnp.broadcast_to(jnp.array([1.0, 0.0, 0.0]), (2000, 3))
  out = volume_render(sigma, rgb, t, background=1.0)
  np.testing.assert_allclose(out.opacity, 1 - np.exp(-1), atol=5e-3)
  np.testing.assert_allclose(out.rgb, [1.0, np.exp(-1), np.exp(-1)], atol=5e-3)
