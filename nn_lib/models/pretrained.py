"""Models the project ships trained weights for.

`mnist_classifier()` is the LeNet-5 (notes 004) that judges generated digits
(nn_lib.metrics.sample_quality, the GAN trainer's `gan.sample_quality="mnist_lenet"`):
trained on the 8,000 mnist10k training digits to >= 97% test accuracy by
launch/make_mnist_lenet.py and shipped as nn_lib/data/assets/mnist_lenet.msgpack.
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

from nn_lib.models import registry

MNIST_LENET = Path(__file__).resolve().parents[1] / "data" / "assets" / "mnist_lenet.msgpack"
# The classifier as experiments/mnist10k_lenet.py trains it (its weights must fit)
MNIST_LENET_MODEL: dict[str, Any] = {
  "name": "lenet5",
  "num_outputs": 10,
  "activation": "relu",
  "pooling": "max",
}
_CHUNK = 500  # images per classifier call


@functools.lru_cache(maxsize=1)
def mnist_classifier() -> Callable[[np.ndarray], np.ndarray]:
  """`classify(images)`: N x 28 x 28 (x 1) images in [0, 1] (ink 1, background 0,
  as mnist10k's inputs) -> class probabilities N x 10 (numpy; the LeNet runs jitted)."""
  model = registry.get(**MNIST_LENET_MODEL)
  template = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))["params"]
  params = flax.serialization.from_bytes(template, MNIST_LENET.read_bytes())
  # cast: flax types apply's result as "outputs or (outputs, mutated state)"; without
  # `mutable` it is the outputs
  probs = jax.jit(
    lambda p, x: jax.nn.softmax(cast(jax.Array, model.apply({"params": p}, x)), axis=-1)
  )

  def classify(images: np.ndarray) -> np.ndarray:
    images_NxHxWx1 = np.asarray(images, np.float32)
    if images_NxHxWx1.ndim == 3:
      images_NxHxWx1 = images_NxHxWx1[..., None]
    if images_NxHxWx1.shape[1:] != (28, 28, 1):
      raise ValueError(
        f"the MNIST classifier judges 28x28 greyscale images; got shape {np.shape(images)}"
      )
    # fixed-size chunks (the last one padded): one compile for every N
    n = len(images_NxHxWx1)
    padded = np.zeros((-(-n // _CHUNK) * _CHUNK, 28, 28, 1), np.float32)
    padded[:n] = images_NxHxWx1
    return np.concatenate(
      [np.asarray(probs(params, padded[i : i + _CHUNK])) for i in range(0, len(padded), _CHUNK)]
    )[:n]

  return classify
