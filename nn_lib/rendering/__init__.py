"""Rendering for neural fields (notes 000 "Neural Radiance Fields"): camera rays and
the samples along them; the volume-rendering quadrature that turns densities and
colours at those samples into pixels is `nn_lib.models.nerf.volume_render`."""

from nn_lib.models.nerf import volume_render
from nn_lib.rendering.rays import look_at, pinhole_rays, stratified_samples

__all__ = ["look_at", "pinhole_rays", "stratified_samples", "volume_render"]
