"""Analytic 3-D scenes rendered by ray casting, the ground truth of a NeRF (notes 000
"Neural Radiance Fields": the network is the 3-D model; here we know the model
exactly and render its views).

A scene is diffuse spheres above a finite checkered floor (the plane y = 0, |x|,
|z| <= floor_half), lit by one directional light. A ray o + t d (unit d) takes the
colour of its first hit:

  sphere |p - c| = r:  t = b - sqrt(b^2 - |o - c|^2 + r^2),  b = (c - o) . d
  floor y = 0:         t = -o_y / d_y   (if t > 0 and |x|, |z| <= floor_half)

shaded by Lambert's law with an ambient term and hard shadows,

  colour = albedo * (ambient + (1 - ambient) * max(0, n . l) * lit),

lit = 0 where the ray from the hit point towards the light meets a sphere. A ray
that hits nothing sees the background colour; its depth is +inf.

The views are `num_views` cameras on a circle around the scene looking at its
centre (look_at), all at one height, rendered at pixel centres with the rays of
`rendering.rays.pinhole_rays` (so a NeRF trained on them casts the same rays).
Everything is deterministic. Scene bounds for these cameras: every visible
surface lies between NEAR = 1.8 and FAR = 5.6 from every camera (the floor is
1.93 to 5.56 away, the spheres 2.45 to 4.42; `near_far` computes them).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nn_lib.registry import ConfigError
from nn_lib.rendering import rays as rays_lib


@dataclasses.dataclass(frozen=True)
class Sphere:
  centre: tuple[float, float, float]
  radius: float
  albedo: tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Scene:
  """Spheres above a checkered floor; a directional light; a camera circle."""

  spheres: tuple[Sphere, ...]
  floor_half: float = 1.5  # the floor is the square |x|, |z| <= floor_half
  checker: float = 0.5  # side of one floor cell
  floor_albedos: tuple[tuple[float, float, float], ...] = ((0.9, 0.85, 0.7), (0.25, 0.3, 0.35))
  light_3: tuple[float, float, float] = (0.5, 1.0, 0.35)  # towards the light
  ambient: float = 0.3
  background: tuple[float, float, float] = (1.0, 1.0, 1.0)
  camera_radius: float = 3.2  # cameras on the circle x^2 + z^2 = R^2 ...
  camera_height: float = 1.6  # ... at this height
  target: tuple[float, float, float] = (0.0, 0.3, 0.0)  # where every camera looks
  fov_degrees: float = 50.0  # horizontal field of view


SCENES: dict[str, Scene] = {
  "two_spheres": Scene(
    spheres=(
      Sphere(centre=(-0.5, 0.45, -0.2), radius=0.45, albedo=(0.9, 0.2, 0.15)),
      Sphere(centre=(0.55, 0.3, 0.45), radius=0.3, albedo=(0.15, 0.4, 0.9)),
    )
  ),
}
NEAR, FAR = 1.8, 5.6


def get(name: str) -> Scene:
  if name not in SCENES:
    raise ConfigError(f"config.data.name: unknown scene {name!r}; valid: {', '.join(SCENES)}")
  return SCENES[name]


def _hit_sphere(o_Nx3: np.ndarray, d_Nx3: np.ndarray, sphere: Sphere) -> np.ndarray:
  """Distance t_N > 0 to the first hit of the sphere (inf where none)."""
  oc_Nx3 = np.asarray(sphere.centre) - o_Nx3
  b_N = np.einsum("nk,nk->n", oc_Nx3, d_Nx3)
  disc_N = b_N**2 - np.einsum("nk,nk->n", oc_Nx3, oc_Nx3) + sphere.radius**2
  root_N = np.sqrt(np.maximum(disc_N, 0.0))
  # the nearer root if it lies ahead, else the farther (a ray starting inside)
  t_N = np.where(b_N - root_N > 1e-9, b_N - root_N, b_N + root_N)
  return np.where((disc_N >= 0) & (t_N > 1e-9), t_N, np.inf)


def _hit_floor(o_Nx3: np.ndarray, d_Nx3: np.ndarray, half: float) -> np.ndarray:
  with np.errstate(divide="ignore", invalid="ignore"):
    t_N = -o_Nx3[:, 1] / d_Nx3[:, 1]
  p_Nx3 = o_Nx3 + np.nan_to_num(t_N, posinf=0.0, neginf=0.0)[:, None] * d_Nx3
  inside = (np.abs(p_Nx3[:, 0]) <= half) & (np.abs(p_Nx3[:, 2]) <= half)
  return np.where((t_N > 1e-9) & inside & np.isfinite(t_N), t_N, np.inf)


def render_rays(
  origins_Nx3: np.ndarray, directions_Nx3: np.ndarray, scene: Scene
) -> tuple[np.ndarray, np.ndarray]:
  """Colour rgb_Nx3 (float32 in [0, 1]) and depth t_N (distance along the unit
  direction to the first hit; +inf where the ray meets nothing) of each ray."""
  o = np.asarray(origins_Nx3, np.float64).reshape(-1, 3)
  d = np.asarray(directions_Nx3, np.float64).reshape(-1, 3)
  d = d / np.linalg.norm(d, axis=-1, keepdims=True)
  # candidate surfaces: 0 = floor, 1.. = spheres; the nearest hit wins
  t_SxN = np.stack(
    [_hit_floor(o, d, scene.floor_half)] + [_hit_sphere(o, d, s) for s in scene.spheres]
  )
  which_N, t_N = np.argmin(t_SxN, axis=0), np.min(t_SxN, axis=0)
  hit_N = np.isfinite(t_N)
  p_Nx3 = o + np.where(hit_N, t_N, 0.0)[:, None] * d

  normal_Nx3 = np.tile([0.0, 1.0, 0.0], (len(o), 1))
  cell_N = np.floor(p_Nx3[:, 0] / scene.checker) + np.floor(p_Nx3[:, 2] / scene.checker)
  albedo_Nx3 = np.asarray(scene.floor_albedos)[(cell_N % 2).astype(int)]
  for k, s in enumerate(scene.spheres, start=1):
    on = which_N == k
    normal_Nx3[on] = (p_Nx3[on] - np.asarray(s.centre)) / s.radius
    albedo_Nx3[on] = s.albedo

  light_3 = np.asarray(scene.light_3, np.float64) / np.linalg.norm(scene.light_3)
  # shadow rays start a hair off the surface so that they do not hit it again
  shadow_o = p_Nx3 + 1e-6 * normal_Nx3
  shadow_d = np.broadcast_to(light_3, shadow_o.shape)
  blocked_N = np.zeros(len(o), bool)
  for s in scene.spheres:
    blocked_N |= np.isfinite(_hit_sphere(shadow_o, shadow_d, s))
  lambert_N = np.maximum(normal_Nx3 @ light_3, 0.0) * ~blocked_N
  shade_N = scene.ambient + (1.0 - scene.ambient) * lambert_N
  rgb_Nx3 = np.where(hit_N[:, None], albedo_Nx3 * shade_N[:, None], np.asarray(scene.background))
  return rgb_Nx3.astype(np.float32), t_N.astype(np.float32)


def focal_pixels(scene: Scene, size: int) -> float:
  """f = (W / 2) / tan(fov / 2), in pixels."""
  return (size / 2) / float(np.tan(np.radians(scene.fov_degrees) / 2))


def camera_poses(scene: Scene, num_views: int) -> np.ndarray:
  """c2w_Vx3x4 of cameras at angles 2 pi v / V on the scene's camera circle."""
  angles_V = 2 * np.pi * np.arange(num_views) / num_views
  return np.stack(
    [
      rays_lib.look_at(
        (scene.camera_radius * np.sin(a), scene.camera_height, scene.camera_radius * np.cos(a)),
        scene.target,
      )
      for a in angles_V
    ]
  )


class Views(NamedTuple):
  images_VxHxWx3: np.ndarray  # float32 in [0, 1]
  depths_VxHxW: np.ndarray  # float32 distance to the first hit (inf: background)
  c2w_Vx3x4: np.ndarray
  focal: float  # pixels
  near: float
  far: float
  background_3: np.ndarray
  origins_VxHxWx3: np.ndarray  # the pixels' rays (pinhole_rays), float32
  directions_VxHxWx3: np.ndarray  # unit


def views(name: str = "two_spheres", num_views: int = 40, size: int = 32) -> Views:
  """The scene seen from `num_views` cameras on its circle, size x size pixels each
  (with the rays of those pixels)."""
  scene = get(name)
  c2w_Vx3x4, focal = camera_poses(scene, num_views), focal_pixels(scene, size)
  o_VxHxWx3, d_VxHxWx3 = all_rays(size, focal, c2w_Vx3x4)
  rgb_Nx3, t_N = render_rays(o_VxHxWx3, d_VxHxWx3, scene)
  return Views(
    rgb_Nx3.reshape(num_views, size, size, 3),
    t_N.reshape(num_views, size, size),
    c2w_Vx3x4.astype(np.float32),
    focal,
    NEAR,
    FAR,
    np.asarray(scene.background, np.float32),
    o_VxHxWx3,
    d_VxHxWx3,
  )


@functools.partial(jax.jit, static_argnums=(0, 1))
def _rays_of_views(size: int, focal: float, c2w_Vx3x4: jax.Array):
  return jax.vmap(lambda c2w_3x4: rays_lib.pinhole_rays(size, size, focal, c2w_3x4))(c2w_Vx3x4)


def all_rays(size: int, focal: float, c2w_Vx3x4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """origins_VxHxWx3 and unit directions_VxHxWx3 of every pixel of every view:
  pinhole_rays over the views in one compiled call (eagerly, each of its ops
  would compile on its own, for seconds on a CPU)."""
  o, d = _rays_of_views(size, focal, jnp.asarray(c2w_Vx3x4, jnp.float32))
  return np.asarray(o), np.asarray(d)


def split_views(num_views: int, test_every: int) -> tuple[np.ndarray, np.ndarray]:
  """Indices of the training and test views: every `test_every`-th view (0, 5, ...)
  is a test view, seen from between training cameras."""
  test_V = np.arange(0, num_views, test_every)
  return np.setdiff1d(np.arange(num_views), test_V), test_V


def near_far(scene: Scene, num_views: int = 40) -> tuple[float, float]:
  """The nearest and farthest distance from any camera to the floor and the
  spheres' surfaces: an interval [NEAR, FAR] must contain it."""
  eyes_Vx3 = camera_poses(scene, num_views)[:, :, 3].astype(np.float64)
  h = scene.floor_half
  # the floor's nearest point to an eye is the eye's foot clamped to the square;
  # its farthest one is a corner
  nearest_Vx3 = np.clip(eyes_Vx3 * [1.0, 0.0, 1.0], -h, h)
  corners_4x3 = np.array([[x, 0.0, z] for x in (-h, h) for z in (-h, h)])
  lo = np.linalg.norm(eyes_Vx3 - nearest_Vx3, axis=-1).min()
  hi = np.linalg.norm(eyes_Vx3[:, None] - corners_4x3[None], axis=-1).max()
  for s in scene.spheres:
    dc = np.linalg.norm(eyes_Vx3 - np.asarray(s.centre), axis=-1)
    lo, hi = min(lo, dc.min() - s.radius), max(hi, dc.max() + s.radius)
  return float(lo), float(hi)
