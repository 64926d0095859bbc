"""How much generated images look like digits, judged by a classifier trained once
(notes 000 "Generative Adversarial Networks": a GAN has no likelihood to report, so
its samples are scored by a fixed network, as the Inception score does with an
ImageNet classifier; Salimans et al. 2016).

The judge is a LeNet-5 (notes 004) trained on the 8,000 mnist10k training digits
to >= 97% test accuracy by launch/make_mnist_lenet.py and shipped as
nn_lib/data/assets/mnist_lenet.msgpack. With p(y | x_n) its softmax on sample n of N:

  confidence         = (1/N) sum_n max_y p(y | x_n)   (clear digits, not blurs)
  classes_present    = #{y : fraction_y >= min_fraction}, fraction_y = #{n : argmax p(.|x_n) = y} / N
  max_class_fraction = max_y fraction_y                (no collapse onto a few digits)

Host-side: numpy in, Python floats out (the LeNet itself runs jitted).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from nn_lib import models

ASSETS = Path(__file__).resolve().parents[1] / "data" / "assets"
MNIST_LENET = ASSETS / "mnist_lenet.msgpack"
_CHUNK = 500  # images per classifier call
# The classifier as experiments/mnist10k_lenet.py trains it (its weights must fit)
MNIST_LENET_MODEL: dict[str, Any] = {
  "name": "lenet5",
  "num_outputs": 10,
  "activation": "relu",
  "pooling": "max",
}


@functools.lru_cache(maxsize=1)
def mnist_classifier() -> Callable[[np.ndarray], np.ndarray]:
  """images_NxHxW(x1) in [0, 1] (mnist10k's inputs) -> class probabilities N x 10."""
  model = models.get(**MNIST_LENET_MODEL)
  template = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))["params"]
  params = flax.serialization.from_bytes(template, MNIST_LENET.read_bytes())
  # cast: flax types apply's result as "outputs or (outputs, mutated state)"; without
  # `mutable` it is the outputs
  probs = jax.jit(
    lambda p, x: jax.nn.softmax(cast(jax.Array, model.apply({"params": p}, x)), axis=-1)
  )

  def classify(images_NxHxWx1: np.ndarray) -> np.ndarray:
    # fixed-size chunks (the last one padded): one compile for every N
    n = len(images_NxHxWx1)
    padded = np.zeros((-(-n // _CHUNK) * _CHUNK, 28, 28, 1), np.float32)
    padded[:n] = np.asarray(images_NxHxWx1, np.float32).reshape(n, 28, 28, 1)
    return np.concatenate(
      [np.asarray(probs(params, padded[i : i + _CHUNK])) for i in range(0, len(padded), _CHUNK)]
    )[:n]

  return classify


def quality_from_probabilities(
  probs_NxC: np.ndarray, *, min_fraction: float = 0.01
) -> dict[str, float]:
  """The three numbers of the module docstring from a classifier's probabilities.
  A class counts as present when at least `min_fraction` of the samples are
  classified as it, so that a stray sample or two does not count as covering it."""
  probs_NxC = np.asarray(probs_NxC, np.float64)
  n, num_classes = probs_NxC.shape
  fraction_C = np.bincount(probs_NxC.argmax(-1), minlength=num_classes) / n
  return {
    "confidence": float(probs_NxC.max(-1).mean()),
    "classes_present": float(np.sum(fraction_C >= min_fraction)),
    "max_class_fraction": float(fraction_C.max()),
  }


def digit_sample_quality(
  images_NxHxW: np.ndarray, *, min_fraction: float = 0.01
) -> dict[str, float]:
  """{confidence, classes_present, max_class_fraction} of 28x28 images in [0, 1]
  (ink 1, background 0, as mnist10k's inputs) under the shipped LeNet-5."""
  images = np.asarray(images_NxHxW, np.float32)
  if images.ndim == 3:
    images = images[..., None]
  if images.shape[1:] != (28, 28, 1):
    raise ValueError(
      f"the MNIST classifier judges 28x28 greyscale images; got shape {images_NxHxW.shape}"
    )
  return quality_from_probabilities(mnist_classifier()(images), min_fraction=min_fraction)
