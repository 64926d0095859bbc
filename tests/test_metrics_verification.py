"""Verification metrics (notes 004, "Face verification") against hand-computed pair
tables and scikit-learn's ROC."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from nn_lib import metrics
from nn_lib.plots import verification as verification_plots

# Four points on a line, labels 0 0 1 1; squared distances and pair kinds:
#   pair   positions  d = (xi - xj)^2  kind
#   (0,1)  0, 1        1               genuine
#   (1,2)  1, 3        4               impostor
#   (0,2)  0, 3        9               impostor
#   (2,3)  3, 6        9               genuine   (tied with (0,2))
#   (1,3)  1, 6       25               impostor
#   (0,3)  0, 6       36               impostor
# 2 genuine, 4 impostor pairs. Operating points (tau: FAR, FRR):
#   below 1: 0, 1    1: 0, 1/2    4: 1/4, 1/2    9: 2/4, 0    25: 3/4, 0    36: 1, 0
# FAR - FRR turns positive between tau = 4 (-1/4) and tau = 9 (+1/2): t = 1/4 / 3/4,
# EER = 1/4 + t (2/4 - 1/4) = 1/3.
# Nearest other point: 0 -> 1 (same), 1 -> 0 (same), 2 -> 1 (d 4; other class),
# 3 -> 2 (same): recall@1 = 3/4.
LINE_4x1 = jnp.array([[0.0], [1.0], [3.0], [6.0]])
LINE_LABELS = jnp.array([0, 0, 1, 1])
# compiled once each, as the training loop calls them (eagerly, every jnp op compiles)
EER = jax.jit(metrics.verification_eer)
RECALL_AT_1 = jax.jit(metrics.recall_at_1)


def test_the_line_by_hand():
  d = np.asarray(metrics.pairwise_squared_distances(LINE_4x1))
  np.testing.assert_array_equal(d[np.triu_indices(4, 1)], [1, 9, 36, 4, 25, 9])
  assert float(EER(LINE_4x1, LINE_LABELS)) == pytest.approx(1 / 3)
  assert float(RECALL_AT_1(LINE_4x1, LINE_LABELS)) == pytest.approx(0.75)
  roc = metrics.verification_roc(LINE_4x1, LINE_LABELS)
  np.testing.assert_array_equal(roc["thresholds"], [-np.inf, 1, 4, 9, 25, 36])
  np.testing.assert_allclose(roc["far"], [0, 0, 1 / 4, 2 / 4, 3 / 4, 1])
  np.testing.assert_allclose(roc["tar"], [0, 1 / 2, 1 / 2, 1, 1, 1])


def test_perfectly_separated_classes_have_eer_0_and_overlapping_ones_eer_1_2():
  # classes far apart: every genuine distance (1) is below every impostor one (>= 81)
  apart_4x1 = jnp.array([[0.0], [1.0], [10.0], [11.0]])
  assert float(EER(apart_4x1, LINE_LABELS)) == 0.0
  assert float(RECALL_AT_1(apart_4x1, LINE_LABELS)) == 1.0
  # all points equal: one threshold accepts every pair (FAR 1, FRR 0), the threshold
  # below it none (0, 1); the straight line between crosses FAR = FRR at 1/2
  same_4x2 = jnp.ones((4, 2))
  assert float(EER(same_4x2, LINE_LABELS)) == pytest.approx(0.5)


def test_no_genuine_pair_has_no_eer():
  assert np.isnan(float(EER(LINE_4x1, jnp.arange(4))))


def test_registered_jittable_and_fit_a_split_of_embeddings():
  assert metrics.get("verification_eer") is metrics.verification_eer
  assert metrics.get("recall_at_1") is metrics.recall_at_1
  metrics.check_metrics_fit(jax.ShapeDtypeStruct((64, 16), jnp.float32),
                            jax.ShapeDtypeStruct((64,), jnp.int32),
                            ["verification_eer", "recall_at_1"])
  with pytest.raises(ValueError, match="integer identity labels"):
    metrics.verification_eer(LINE_4x1, jnp.zeros(4))
  with pytest.raises(ValueError, match=r"embeddings B x D and integer labels B"):
    metrics.recall_at_1(LINE_4x1, jnp.zeros(3, jnp.int32))


def _eer_from_sklearn(fpr: np.ndarray, tpr: np.ndarray) -> float:
  """The same definition on scikit-learn's ROC: FRR = 1 - TPR, crossing interpolated."""
  diff = fpr - (1 - tpr)
  b = int(np.argmax(diff >= 0))
  t = -diff[b - 1] / (diff[b] - diff[b - 1])
  return float(fpr[b - 1] + t * (fpr[b] - fpr[b - 1]))


def test_roc_and_eer_match_scikit_learn_on_random_embeddings():
  rng = np.random.default_rng(0)
  labels_B = rng.integers(0, 4, 60)
  # class-dependent means so the ROC is neither chance nor perfect; a few exact
  # duplicates so tied distances occur between genuine and impostor pairs
  e_BxD = rng.normal(size=(60, 5)) + 1.5 * np.eye(5)[labels_B]
  e_BxD[50:] = e_BxD[:10]
  labels_B[50:55] = labels_B[:5]
  e_BxD = e_BxD.astype(np.float32)
  d_BxB = np.asarray(metrics.pairwise_squared_distances(jnp.asarray(e_BxD)))
  i, j = np.triu_indices(60, 1)
  genuine = labels_B[i] == labels_B[j]
  fpr, tpr, thresholds = sk_metrics.roc_curve(genuine, -d_BxB[i, j], drop_intermediate=False)
  roc = metrics.verification_roc(e_BxD, labels_B)
  np.testing.assert_allclose(roc["far"], fpr, atol=1e-6)  # float32 ratios
  np.testing.assert_allclose(roc["tar"], tpr, atol=1e-6)
  np.testing.assert_allclose(roc["thresholds"][1:], -thresholds[1:], rtol=1e-6)
  eer = float(EER(jnp.asarray(e_BxD), jnp.asarray(labels_B)))
  assert eer == pytest.approx(_eer_from_sklearn(fpr, tpr), abs=1e-6)
  assert 0.05 < eer < 0.45
  # recall@1 by brute force in float64
  d64 = ((e_BxD[:, None].astype(np.float64) - e_BxD[None]) ** 2).sum(-1)
  np.fill_diagonal(d64, np.inf)
  expected = np.mean(labels_B[np.argmin(d64, axis=1)] == labels_B)
  assert float(RECALL_AT_1(jnp.asarray(e_BxD), jnp.asarray(labels_B))) == \
      pytest.approx(expected)


def test_pca_2d_finds_the_main_directions():
  rng = np.random.default_rng(0)
  # variance 9 along axis 2, 1 along axis 0, ~0 along axis 1
  x_Nx3 = rng.normal(size=(500, 3)) * np.array([1.0, 0.01, 3.0]) + 5.0
  points_Nx2, ratio = verification_plots.pca_2d(x_Nx3)
  assert points_Nx2.shape == (500, 2)
  np.testing.assert_allclose(points_Nx2.mean(axis=0), 0, atol=1e-9)
  np.testing.assert_allclose(points_Nx2[:, 0], x_Nx3[:, 2] - x_Nx3[:, 2].mean(), atol=0.1)
  assert ratio[0] == pytest.approx(0.9, abs=0.03) and ratio[0] > ratio[1]
