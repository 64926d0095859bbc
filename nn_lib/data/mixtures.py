"""Known densities sampled on the device, for generative models (notes 000
"Generative Adversarial Networks"): the real distribution of a GAN whose every
step draws a fresh batch, so no dataset is stored and a resumed run draws the
same batches (they are functions of the RNG key in the training state).

`DISTRIBUTIONS[name](**hyperparameters)` builds a `Mixture`; config.data.name picks it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np

from nn_lib.registry import ConfigError, Registry


@dataclasses.dataclass(frozen=True)
class Mixture:
  """An equal-weight mixture of isotropic Gaussians N(c_m, std^2 I):
  x = c_m + std * eps, m ~ Uniform{1..M}, eps ~ N(0, I)."""

  centers_MxD: np.ndarray
  std: float

  @property
  def dim(self) -> int:
    return self.centers_MxD.shape[1]

  def sample(self, key: jax.Array, n: int) -> jax.Array:
    """n x D samples (jittable; the same key gives the same samples)."""
    k_mode, k_noise = jax.random.split(key)
    modes_N = jax.random.randint(k_mode, (n,), 0, len(self.centers_MxD))
    eps_NxD = jax.random.normal(k_noise, (n, self.dim))
    return jnp.asarray(self.centers_MxD, jnp.float32)[modes_N] + self.std * eps_NxD

  def sample_host(self, rng: np.random.Generator, n: int) -> np.ndarray:
    """n x D samples on the host (for evaluation and plots: nothing to compile)."""
    modes_N = rng.integers(0, len(self.centers_MxD), n)
    eps_NxD = rng.standard_normal((n, self.dim)).astype(np.float32)
    return self.centers_MxD[modes_N] + np.float32(self.std) * eps_NxD


def gaussian_ring(num_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> Mixture:
  """`num_modes` Gaussians on a circle: c_m = radius (cos 2 pi m / M, sin 2 pi m / M)
  (the 8-Gaussians ring of Metz et al. 2017, radius 2, std 0.02)."""
  if isinstance(num_modes, bool) or not isinstance(num_modes, int) or num_modes < 1:
    raise ConfigError(f"config.data.num_modes must be a positive integer, got {num_modes!r}")
  for key, value in (("radius", radius), ("std", std)):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
      raise ConfigError(f"config.data.{key} must be a positive number, got {value!r}")
  angles_M = 2 * math.pi * np.arange(num_modes) / num_modes
  centers_MxD = radius * np.stack([np.cos(angles_M), np.sin(angles_M)], 1)
  return Mixture(centers_MxD.astype(np.float32), float(std))


DISTRIBUTIONS: Registry = Registry("distribution", {"gaussian_ring": gaussian_ring})


def from_config(cfg_data) -> Mixture:
  """DISTRIBUTIONS[data.name](**the rest of data's distribution keys)."""
  kw = dict(cfg_data)
  try:
    fn = DISTRIBUTIONS.get(kw.pop("name"))
  except ConfigError as e:
    raise ConfigError(f"config.data.name: {e}") from e
  params = inspect.signature(fn).parameters
  # config.data also holds the keys every experiment shares (source, splits, ...)
  return fn(**{k: v for k, v in kw.items() if k in params})


def mode_metrics(
  samples_NxD: np.ndarray,
  centers_MxD: np.ndarray,
  std: float,
  *,
  within_stds: float = 3.0,
  min_mode_fraction: float = 1 / 16,
) -> dict[str, float]:
  """Mode coverage of samples from a mixture (Metz et al. 2017, "Unrolled GANs"):
  a sample belongs to its nearest center if ||x - c|| <= within_stds * std (a
  "high-quality" sample); a mode is covered when it holds >= min_mode_fraction
  of all N samples.

  Returns modes_covered (out of M) and high_quality_fraction (in [0, 1]).
  """
  samples_NxD = np.asarray(samples_NxD, np.float64)
  if not np.all(np.isfinite(samples_NxD)):
    return {"modes_covered": 0.0, "high_quality_fraction": 0.0}
  dist_NxM = np.linalg.norm(samples_NxD[:, None] - centers_MxD[None], axis=-1)
  nearest_N = dist_NxM.argmin(1)
  close_N = dist_NxM.min(1) <= within_stds * std
  counts_M = np.bincount(nearest_N[close_N], minlength=len(centers_MxD))
  return {
    "modes_covered": float(np.sum(counts_M >= min_mode_fraction * len(samples_NxD))),
    "high_quality_fraction": float(close_N.mean()),
  }
