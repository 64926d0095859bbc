"""The shipped digit classifier (nn_lib/models/pretrained.py, weights in
nn_lib/data/assets/mnist_lenet.msgpack) and the sample-quality numbers computed
from its probabilities (nn_lib/metrics/sample_quality.py)."""
from __future__ import annotations

import numpy as np
import pytest

import experiments
from nn_lib import data as data_lib
from nn_lib.metrics import sample_quality
from nn_lib.models import pretrained


def digit_sample_quality(images):
  return sample_quality.quality_from_probabilities(pretrained.mnist_classifier()(images))


@pytest.fixture(scope="module")
def mnist_test():
  """mnist10k's 2,000 test digits in [0, 1] (not seen by the classifier)."""
  split = data_lib.load(experiments.get_config("mnist10k_lenet").data)["test"]
  return split["inputs"], split["targets"]


def test_shipped_classifier_is_small_and_accurate(mnist_test):
  assert pretrained.MNIST_LENET.stat().st_size < 300_000
  images, labels = mnist_test
  probs = pretrained.mnist_classifier()(images)
  assert probs.shape == (2000, 10)
  np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
  assert np.mean(probs.argmax(-1) == labels) >= 0.97


def test_real_digits_of_one_class_are_one_confident_class(mnist_test):
  images, labels = mnist_test
  threes = digit_sample_quality(images[labels == 3][:, :, :, 0])  # N x H x W
  assert threes["max_class_fraction"] >= 0.95  # the classifier is ~98% accurate
  assert threes["classes_present"] <= 2.0 and threes["confidence"] >= 0.9
  # one image 100 times (a collapsed generator): one class, its own confidence
  p_10 = pretrained.mnist_classifier()(images[:1])[0]
  same = digit_sample_quality(np.repeat(images[:1], 100, axis=0))
  assert same == pytest.approx({"confidence": p_10.max(), "classes_present": 1.0,
                                "max_class_fraction": 1.0}, rel=1e-6)
  # a balanced real sample: what a perfect generator would score
  real = digit_sample_quality(images[:1000])
  assert real["classes_present"] == 10.0 and real["max_class_fraction"] < 0.15
  assert real["confidence"] >= 0.9


def test_quality_from_hand_computed_probabilities():
  probs = np.array([[0.9, 0.1, 0.0],
                    [0.2, 0.8, 0.0],
                    [0.6, 0.4, 0.0],
                    [0.3, 0.7, 0.0]])
  q = sample_quality.quality_from_probabilities(probs)
  # mean of the row maxima (0.9 + 0.8 + 0.6 + 0.7) / 4; argmaxes 0, 1, 0, 1
  assert q == pytest.approx({"confidence": 0.75, "classes_present": 2.0,
                             "max_class_fraction": 0.5})
  # argmaxes 0, 1, 2, 1: fractions 1/4, 1/2, 1/4; classes under min_fraction are absent
  probs[2] = [0.0, 0.0, 1.0]
  count = lambda f: sample_quality.quality_from_probabilities(
      probs, min_fraction=f)["classes_present"]
  assert (count(0.01), count(0.25), count(0.3)) == (3.0, 3.0, 1.0)


def test_wrong_image_shape_is_an_error():
  with pytest.raises(ValueError, match=r"28x28 greyscale images; got shape \(2, 8, 8\)"):
    pretrained.mnist_classifier()(np.zeros((2, 8, 8)))
