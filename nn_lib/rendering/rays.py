"""Camera rays and stratified samples along them (Mildenhall et al. 2020, NeRF §4;
notes 000 "Neural Radiance Fields": a pixel's colour is the volume-rendering
integral along the ray from the camera through that pixel).

Conventions (NeRF's, OpenGL's): in the camera's frame x points right, y up, and the
camera looks along -z. A camera-to-world matrix `c2w_3x4` = [R | o] maps camera
coordinates to world coordinates: its columns are the camera's right, up and
backward axes in the world, and o its centre. Rays come back with unit
directions, so a sample's t is its distance from the camera centre.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike


def look_at(
  eye_3: ArrayLike, target_3: ArrayLike = (0.0, 0.0, 0.0), up_3: ArrayLike = (0.0, 1.0, 0.0)
) -> np.ndarray:
  """The camera-to-world matrix 3 x 4 of a camera at `eye` looking at `target`:
  backward b = (eye - target) / |eye - target|, right r = up x b / |up x b|,
  true up u = b x r; c2w = [r u b | eye]."""
  eye, target, up = (np.asarray(v, np.float64) for v in (eye_3, target_3, up_3))
  backward = eye - target
  if np.linalg.norm(backward) == 0:
    raise ValueError(f"look_at: the camera at {eye} cannot look at itself")
  backward /= np.linalg.norm(backward)
  right = np.cross(up, backward)
  if np.linalg.norm(right) < 1e-12:
    raise ValueError(
      f"look_at: up {up} is parallel to the viewing direction; pass another up vector"
    )
  right /= np.linalg.norm(right)
  true_up = np.cross(backward, right)
  return np.stack([right, true_up, backward, eye], axis=1).astype(np.float32)


def pinhole_rays(
  height: int, width: int, focal: float, c2w_3x4: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """Rays through the centre of every pixel of a pinhole camera.

  Pixel (row j, column i) looks along, in the camera's frame,
      d_cam = ((i + 0.5 - W/2) / f, -(j + 0.5 - H/2) / f, -1)
  (row 0 is the top of the image, so y falls as j grows); in the world
  d = R d_cam / |R d_cam| and every ray starts at the camera centre o.
  `focal` is in pixels: a camera with horizontal field of view theta has
  f = (W / 2) / tan(theta / 2).

  Returns origins_HxWx3 and unit directions_HxWx3 (float32).
  """
  if height < 1 or width < 1 or not focal > 0:
    raise ValueError(
      f"pinhole_rays: needs height, width >= 1 and focal > 0 (pixels); "
      f"got {height}, {width}, {focal}"
    )
  c2w_3x4 = jnp.asarray(c2w_3x4, jnp.float32)
  if c2w_3x4.shape != (3, 4):
    raise ValueError(
      f"pinhole_rays: c2w must be the 3 x 4 camera-to-world matrix [R | o] "
      f"(see look_at); got shape {c2w_3x4.shape}"
    )
  cols_W = (jnp.arange(width, dtype=jnp.float32) + 0.5 - width / 2) / focal
  rows_H = -(jnp.arange(height, dtype=jnp.float32) + 0.5 - height / 2) / focal
  d_cam_HxWx3 = jnp.stack(
    jnp.broadcast_arrays(cols_W[None, :], rows_H[:, None], -jnp.ones((height, width))), axis=-1
  )
  d_HxWx3 = d_cam_HxWx3 @ c2w_3x4[:, :3].T
  d_HxWx3 = d_HxWx3 / jnp.linalg.norm(d_HxWx3, axis=-1, keepdims=True)
  return jnp.broadcast_to(c2w_3x4[:, 3], d_HxWx3.shape), d_HxWx3


def stratified_samples(
  key: jax.Array | None, near: float, far: float, num_samples: int, shape: tuple[int, ...] = ()
) -> jax.Array:
  """Distances t_...xN along rays, one uniform draw in each of N equal bins of
  [near, far] (NeRF eq. 2):

      t_i ~ U[near + (i - 1)/N (far - near), near + i/N (far - near)],  i = 1..N

  so the samples are sorted and, over training, cover the whole interval rather
  than N fixed depths. key=None gives the bins' midpoints (for evaluation).
  `shape` is the leading shape (e.g. the batch of rays): each ray draws its own.
  """
  if not 0 <= near < far or num_samples < 1:
    raise ValueError(
      f"stratified_samples: needs 0 <= near < far and num_samples >= 1; "
      f"got near={near}, far={far}, num_samples={num_samples}"
    )
  width = (far - near) / num_samples
  lower_N = near + width * jnp.arange(num_samples, dtype=jnp.float32)
  if key is None:
    return jnp.broadcast_to(lower_N + width / 2, (*shape, num_samples))
  return lower_N + width * jax.random.uniform(key, (*shape, num_samples))
