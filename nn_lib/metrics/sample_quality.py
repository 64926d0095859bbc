"""How much generated images look like digits, judged by a classifier trained once
(notes 000 "Generative Adversarial Networks": a GAN has no likelihood to report, so
its samples are scored by a fixed network, as the Inception score does with an
ImageNet classifier; Salimans et al. 2016).

The judge's probabilities p(y | x_n) on samples n = 1..N come from the caller: the
GAN trainer uses `nn_lib.models.pretrained.mnist_classifier()`, the LeNet-5 shipped
with the project. From them:

  confidence         = (1/N) sum_n max_y p(y | x_n)   (clear digits, not blurs)
  classes_present    = #{y : fraction_y >= min_fraction}, fraction_y = #{n : argmax p(.|x_n) = y} / N
  max_class_fraction = max_y fraction_y                (no collapse onto a few digits)

Host-side: numpy in, Python floats out.
"""

from __future__ import annotations

import numpy as np


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
