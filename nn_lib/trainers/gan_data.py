"""The GAN trainer's real samples and how it judges generated ones (notes 000
"Generative Adversarial Networks").

Real samples come from either
  * a known density sampled on the device (`data.source="sampler"`,
    nn_lib.data.mixtures), judged by its mode metrics (`gan.sample_quality="modes"`), or
  * a dataset's training images (any other source, read by nn_lib.data.load), drawn
    uniformly with replacement on the device from the step's key, so that a resumed
    run draws the same batches. Pixels in [0, 1] are mapped to x' = 2x - 1 in
    [-1, 1], the range of the DCGAN generator's tanh. `gan.sample_quality=
    "mnist_lenet"` judges 28x28 digits with a fixed classifier
    (nn_lib.models.pretrained, nn_lib.metrics.sample_quality).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nn_lib import data as data_lib
from nn_lib.data import mixtures
from nn_lib.metrics import sample_quality
from nn_lib.models import pretrained
from nn_lib.registry import ConfigError

SAMPLE_QUALITIES = ("modes", "mnist_lenet")


@dataclasses.dataclass(frozen=True)
class RealData:
  """`sample(arrays, key, n)` draws n real samples inside the jitted step;
  `arrays` (the dataset on the device, or () for a density) is passed to the step as
  an argument, not closed over, so that it is not baked into the compiled program."""

  name: str
  shape: tuple[int, ...]  # of one sample
  arrays: Any
  sample: Callable[[Any, jax.Array, int], jax.Array]
  sample_host: Callable[[np.random.Generator, int], np.ndarray]
  mixture: mixtures.Mixture | None = None

  @property
  def is_image(self) -> bool:
    return len(self.shape) == 3


def to_unit(images: np.ndarray) -> np.ndarray:
  """[-1, 1] (the generator's tanh range) -> [0, 1] (plots, the digit classifier)."""
  return (np.asarray(images, np.float32) + 1.0) / 2.0


def from_config(cfg_data: Any) -> RealData:
  """config.data -> RealData (see the module docstring)."""
  if cfg_data.get("source") == "sampler":
    mixture = mixtures.from_config(cfg_data)
    return RealData(
      cfg_data.name,
      (mixture.dim,),
      (),
      lambda arrays, key, n: mixture.sample(key, n),
      mixture.sample_host,
      mixture,
    )
  inputs = data_lib.load(cfg_data)["train"]["inputs"]
  if inputs.ndim != 4:
    raise ConfigError(
      f"config.data: the gan trainer learns images (N x H x W x C) from a "
      f"dataset; {cfg_data.name!r} gives inputs of shape {inputs.shape}"
    )
  if inputs.min() < 0.0 or inputs.max() > 1.0:
    raise ConfigError(
      f"config.data: the gan trainer maps pixels in [0, 1] to [-1, 1]; "
      f"{cfg_data.name!r} has values in [{inputs.min()}, {inputs.max()}]: "
      "set config.data.input_max (and standardize=False)"
    )
  images_NxHxWxC = 2.0 * inputs - 1.0
  num = len(images_NxHxWxC)

  def sample(images, key, n):
    return images[jax.random.randint(key, (n,), 0, num)]

  return RealData(
    cfg_data.name,
    tuple(images_NxHxWxC.shape[1:]),
    jnp.asarray(images_NxHxWxC),
    sample,
    lambda rng, n: images_NxHxWxC[rng.integers(0, num, n)],
  )


def validate(cfg: Any) -> None:
  """config.gan.sample_quality and the keys it reads (before any data is read)."""
  quality = cfg.gan.get("sample_quality", "modes")
  if quality not in SAMPLE_QUALITIES:
    raise ConfigError(
      f"config.gan.sample_quality={quality!r} is not a sample quality; "
      f"valid: {', '.join(SAMPLE_QUALITIES)}"
    )
  sampler = cfg.data.get("source") == "sampler"
  if (quality == "modes") != sampler:
    raise ConfigError(
      f"config.gan.sample_quality={quality!r} does not fit "
      f"data.source={cfg.data.get('source')!r}: use 'modes' with "
      "data.source='sampler' (a known density) and 'mnist_lenet' with "
      "digit images (data.name='mnist10k')"
    )
  if quality == "modes":
    for key in ("within_stds", "min_mode_fraction"):
      value = cfg.gan.get(key)
      if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"config.gan.{key} must be a positive number, got {value!r}")


def make_evaluator(cfg: Any, real: RealData) -> Callable[[np.ndarray], dict[str, float]]:
  """G's samples (numpy, N x sample shape) -> the metrics of config.gan.sample_quality."""
  if cfg.gan.get("sample_quality", "modes") == "modes":
    m = real.mixture
    assert m is not None  # validate(): "modes" goes with data.source="sampler"
    return lambda fake: mixtures.mode_metrics(
      fake,
      m.centers_MxD,
      m.std,
      within_stds=cfg.gan.within_stds,
      min_mode_fraction=cfg.gan.min_mode_fraction,
    )
  if real.shape != (28, 28, 1):
    raise ConfigError(
      f"config.gan.sample_quality='mnist_lenet' judges 28x28x1 digits; "
      f"the data ({real.name}) are {real.shape}"
    )

  classify = pretrained.mnist_classifier()

  def mnist_lenet(fake_NxHxWxC: np.ndarray) -> dict[str, float]:
    q = sample_quality.quality_from_probabilities(classify(to_unit(fake_NxHxWxC)))
    return {
      "sample_confidence": q["confidence"],
      "classes_present": q["classes_present"],
      "max_class_fraction": q["max_class_fraction"],
    }

  return mnist_lenet
