"""Embedded regression datasets (notes 000 "Regression", notes 001 "under- vs
over-fitting"), generated with fixed seeds and written as TFDS array_record like
the other embedded builders.

- `polyfit`: a noisy smooth curve y = sin(pi x) + N(0, 0.2^2) sampled at 15
  equispaced training points in [-1, 1] and 1,000 uniform test points, the
  setting of notes 001's figure (orders 1, 2, 3, 4, 12): few noisy training
  points, many test points, inputs already scaled to [-1, 1].
- `vector_regression`: x in R^8 -> y in R^4, y = A x + b + N(0, 0.1^2 I). 10% of
  the *training* targets carry a systematic gross error (a sensor glitch adding
  +5 to every component, with noise), the test targets are clean. Squared error
  lets those rows pull the fit (its gradient 2(y^ - y) grows with the residual);
  the Euclidean error's gradient (y^ - y) / ||y^ - y|| has norm 1 for every row.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from nn_lib.data import builders


# The ignore: as in builders.py (tfds is untyped; mypy checks the class keyword
# against object's __init_subclass__).
class _Regression(builders._ArrayBuilder, skip_registration=True):  # type: ignore[call-arg]  # pylint: disable=protected-access
  """Float32 vectors in, float32 vectors out, under the keys "x" and "y"."""

  INPUT_KEY = "x"
  TARGET_KEY = "y"
  INPUT_DIM = 1
  TARGET_DIM = 1

  def _features(self) -> dict:
    return {
      "x": tfds.features.Tensor(shape=(self.INPUT_DIM,), dtype=np.float32),
      "y": tfds.features.Tensor(shape=(self.TARGET_DIM,), dtype=np.float32),
    }


def polyfit_curve(x: np.ndarray) -> np.ndarray:
  """The noiseless curve behind `polyfit`: sin(pi x) on [-1, 1]."""
  return np.sin(np.pi * x)


@builders.register_embedded("polyfit")
class Polyfit(_Regression):
  """Noisy samples of sin(pi x): 15 equispaced train points, 1,000 test points."""

  DESCRIPTION = (
    "y = sin(pi x) + N(0, 0.2^2); train: 15 equispaced x in [-1, 1]; "
    "test: 1,000 uniform x in [-1, 1] (fixed seeds)."
  )
  NUM_TRAIN = 15
  NUM_TEST = 1000
  NOISE_STD = 0.2

  def _arrays(self):
    rng = np.random.default_rng(0)
    # An equispaced grid keeps the order-12 least-squares problem well conditioned
    # in the Legendre basis (condition number ~29), so gradient descent reaches it.
    x_train = np.linspace(-1.0, 1.0, self.NUM_TRAIN)
    y_train = polyfit_curve(x_train) + self.NOISE_STD * rng.normal(size=self.NUM_TRAIN)
    x_test = rng.uniform(-1.0, 1.0, self.NUM_TEST)
    y_test = polyfit_curve(x_test) + self.NOISE_STD * rng.normal(size=self.NUM_TEST)
    as_col = lambda a: a.astype(np.float32)[:, None]
    return {"train": (as_col(x_train), as_col(y_train)), "test": (as_col(x_test), as_col(y_test))}


@builders.register_embedded("vector_regression")
class VectorRegression(_Regression):
  """y = A x + b + noise in R^4 from x in R^8; 10% of training targets glitched."""

  DESCRIPTION = (
    "x ~ N(0, I_8), y = A x + b + N(0, 0.1^2 I_4); 800 train (10% with "
    "a +5 offset on every component), 200 clean test (fixed seeds)."
  )
  INPUT_DIM = 8
  TARGET_DIM = 4
  SIZES = {"train": 800, "test": 200}
  NOISE_STD = 0.1
  OUTLIER_FRACTION = 0.1
  OUTLIER_OFFSET = 5.0

  def _arrays(self):
    rng = np.random.default_rng(0)
    a_4x8 = rng.normal(size=(self.TARGET_DIM, self.INPUT_DIM)) / np.sqrt(self.INPUT_DIM)
    b_4 = rng.normal(size=self.TARGET_DIM)
    out = {}
    for split, n in self.SIZES.items():
      x_nx8 = rng.normal(size=(n, self.INPUT_DIM))
      y_nx4 = x_nx8 @ a_4x8.T + b_4 + self.NOISE_STD * rng.normal(size=(n, self.TARGET_DIM))
      if split == "train":
        glitched = rng.permutation(n)[: int(round(self.OUTLIER_FRACTION * n))]
        y_nx4[glitched] += self.OUTLIER_OFFSET + rng.normal(size=(len(glitched), self.TARGET_DIM))
      out[split] = (x_nx8.astype(np.float32), y_nx4.astype(np.float32))
    return out
