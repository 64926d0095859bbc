"""NeRF: volume rendering of densities and colours along rays, and the
positional encoding (notes 000 "Neural Radiance Fields")."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from nn_lib.models import nerf_positional_encoding, volume_render

RED, GREEN = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])


def test_single_opaque_sample_returns_its_colour():
  out = volume_render(jnp.array([[1e4]]), jnp.array([[[0.2, 0.5, 0.9]]]), jnp.array([[2.5]]),
                      background=1.0)
  np.testing.assert_allclose(out.rgb, [[0.2, 0.5, 0.9]], rtol=1e-6)
  np.testing.assert_allclose(out.weights, [[1.0]])
  np.testing.assert_allclose(out.depth, [2.5])
  np.testing.assert_allclose(out.opacity, [1.0])


def test_empty_space_returns_the_background():
  t = jnp.linspace(2.0, 6.0, 16)[None]
  rgb = jnp.broadcast_to(jnp.asarray(RED), (1, 16, 3))
  out = volume_render(jnp.zeros((1, 16)), rgb, t, background=jnp.array([0.1, 0.2, 0.3]))
  np.testing.assert_allclose(out.rgb, [[0.1, 0.2, 0.3]], rtol=1e-6)
  np.testing.assert_allclose(out.weights, 0.0)
  np.testing.assert_allclose(out.opacity, [0.0])
  np.testing.assert_allclose(volume_render(jnp.zeros((1, 16)), rgb, t).rgb, [[0.0, 0.0, 0.0]])


def test_semi_transparent_samples_compose_front_to_back():
  """sigma * delta = ln 2 makes each segment half transparent: weights 1/2, 1/4,
  and the remaining 1/4 of the light comes from the background."""
  t = jnp.array([[1.0, 2.0, 3.0]])
  sigma = jnp.array([[np.log(2.0), np.log(2.0), 0.0]])
  rgb = jnp.asarray([[RED, GREEN, RED]])
  out = volume_render(sigma, rgb, t, background=1.0)
  np.testing.assert_allclose(out.weights, [[0.5, 0.25, 0.0]], rtol=1e-6)
  np.testing.assert_allclose(out.rgb, [[0.5 + 0.25, 0.25 + 0.25, 0.25]], rtol=1e-6)
  np.testing.assert_allclose(out.depth, [0.5 * 1 + 0.25 * 2], rtol=1e-6)


def test_samples_behind_an_opaque_one_are_hidden():
  t = jnp.broadcast_to(jnp.arange(4.0), (2, 4))
  sigma = jnp.array([[0.0, 1e3, 5.0, 5.0], [0.0, 0.0, 0.0, 1e3]])
  rgb = jnp.asarray(np.stack([[GREEN, RED, GREEN, GREEN]] * 2))
  out = volume_render(sigma, rgb, t)
  np.testing.assert_allclose(out.rgb, [RED, GREEN], atol=1e-6)
  np.testing.assert_allclose(out.depth, [1.0, 3.0], rtol=1e-6)
  np.testing.assert_allclose(out.weights.sum(-1), [1.0, 1.0], rtol=1e-6)


def test_nerf_positional_encoding_values():
  p = jnp.array([[0.25, -0.5, 1.0]])
  enc = np.asarray(nerf_positional_encoding(p, num_freqs=2))
  assert enc.shape == (1, 3 + 2 * 2 * 3)
  x = np.array([0.25, -0.5, 1.0])
  expected = np.concatenate([x, np.sin(np.pi * x), np.cos(np.pi * x),
                             np.sin(2 * np.pi * x), np.cos(2 * np.pi * x)])
  np.testing.assert_allclose(enc[0], expected, atol=1e-6)
