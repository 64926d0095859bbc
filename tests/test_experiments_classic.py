"""The classic experiments (issue 5, items 1-5) meet their bars with their FULL
configs, in-process; plus unit tests of their data builders, plots and helpers."""
from __future__ import annotations

import json
import math

import ml_collections
import numpy as np
import pytest
from numpy.polynomial import legendre

import experiments
from nn_lib import config as config_lib
from nn_lib import data as data_lib
from nn_lib.models import polynomial
from nn_lib.plots import classification as plots
from nn_lib.trainers import knn
from nn_lib.training import sanity
from tests.conftest import run_experiment


def _run_full(name: str, workdir) -> dict:
  final = run_experiment(name, workdir).final
  # The summary file holds exactly what the run returned.
  assert json.loads((workdir / "summary.json").read_text())["final"] == pytest.approx(final)
  return final


def _assert_png(path) -> None:
  assert path.exists(), path
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert path.stat().st_size > 5_000, f"{path} is suspiciously small"


# ---------------------------------------------------------------------------
# Quality bars (full configs)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["toy2d_moons", "toy2d_circles", "toy2d_blobs"])
def test_toy2d_mlp_reaches_97_percent(name, tmp_path):
  assert _run_full(name, tmp_path)["test/accuracy"] >= 0.97
  _assert_png(tmp_path / "plots" / "decision_boundary.png")


def test_linear_classifier_fails_on_circles(tmp_path):
  assert _run_full("toy2d_circles_linear", tmp_path)["test/accuracy"] <= 0.65
  _assert_png(tmp_path / "plots" / "decision_boundary.png")


def test_digits_linear_softmax_initial_loss_and_accuracy(tmp_path):
  final = _run_full("digits_linear_softmax", tmp_path)
  assert final["initial/loss"] == pytest.approx(math.log(10), abs=0.02)  # notes 002
  assert final["test/accuracy"] >= 0.95
  _assert_png(tmp_path / "plots" / "weight_templates.png")
  _assert_png(tmp_path / "plots" / "confusion_matrix.png")


def test_digits_linear_svm_initial_loss_and_accuracy(tmp_path):
  final = _run_full("digits_linear_svm", tmp_path)
  assert final["initial/loss"] == pytest.approx(9.0, abs=0.1)  # C - 1, notes 002
  assert final["test/accuracy"] >= 0.95
  _assert_png(tmp_path / "plots" / "weight_templates.png")


def test_polyfit_order_12_overfits_and_orders_3_4_generalize(tmp_path):
  final = _run_full("polyfit_orders", tmp_path)
  assert final["best_train_order"] == 12
  assert final["best_test_order"] in (3, 4)
  rows = json.loads((tmp_path / "polyfit_table.json").read_text())
  for r in rows:  # gradient descent reached the least-squares fit
    assert r["train_mse"] == pytest.approx(r["closed_form_train_mse"], rel=1e-3, abs=1e-6)
  assert "| 12 |" in (tmp_path / "polyfit_table.md").read_text()
  _assert_png(tmp_path / "plots" / "polyfit.png")


def test_knn_digits_cross_validates_k(tmp_path):
  final = _run_full("knn_digits", tmp_path)
  assert final["test/accuracy"] >= 0.97
  assert int(final["cv/best_k"]) in experiments.get_config("knn_digits").knn.k_grid
  _assert_png(tmp_path / "plots" / "cv_accuracy.png")


def test_sigmoid_mse_is_paralysed_where_bce_learns(tmp_path):
  final = _run_full("logreg_sigmoid_mse", tmp_path)
  assert final["sigmoid_binary_cross_entropy/test/binary_accuracy"] >= 0.96
  assert final["sigmoid_squared_error/test/binary_accuracy"] < 0.9
  _assert_png(tmp_path / "plots" / "comparison.png")


def test_euclidean_error_resists_glitched_targets(tmp_path):
  final = _run_full("vector_regression", tmp_path)
  assert final["euclidean_error/test/euclidean"] < 0.5 * final["squared_error/test/euclidean"]
  _assert_png(tmp_path / "plots" / "comparison.png")


# ---------------------------------------------------------------------------
# Data builders
# ---------------------------------------------------------------------------

def _load(name: str) -> dict:
  return data_lib.load(ml_collections.ConfigDict(
      dict(name=name, train_split="train", test_split="test")))


def test_polyfit_data():
  splits = _load("polyfit")
  train, test = splits["train"], splits["test"]
  assert train["inputs"].shape == train["targets"].shape == (15, 1)
  assert test["inputs"].shape == test["targets"].shape == (1000, 1)
  assert train["inputs"].dtype == train["targets"].dtype == np.float32
  # TFDS stores examples in its own order, so compare the sorted grid.
  np.testing.assert_allclose(np.sort(train["inputs"][:, 0]), np.linspace(-1, 1, 15),
                             atol=1e-6)
  assert np.abs(test["inputs"]).max() <= 1.0
  noise = test["targets"][:, 0] - np.sin(np.pi * test["inputs"][:, 0])
  assert 0.15 < noise.std() < 0.25 and abs(noise.mean()) < 0.03


def test_vector_regression_data_has_glitches_only_in_train():
  splits = _load("vector_regression")
  train, test = splits["train"], splits["test"]
  assert train["inputs"].shape == (800, 8) and train["targets"].shape == (800, 4)
  assert test["inputs"].shape == (200, 8) and test["targets"].shape == (200, 4)
  # The clean test split is fit by an affine map to the noise level ...
  x1 = np.hstack([test["inputs"], np.ones((200, 1))])
  coef = np.linalg.lstsq(x1, test["targets"], rcond=None)[0]
  assert np.std(x1 @ coef - test["targets"]) < 0.12
  # ... whose residuals on train flag the 10% glitched rows (offset +5).
  residual = np.hstack([train["inputs"], np.ones((800, 1))]) @ coef - train["targets"]
  assert np.sum(np.linalg.norm(residual, axis=1) > 4) == 80


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------

def test_plot_functions_write_pngs(tmp_path):
  rng = np.random.default_rng(0)
  points = rng.normal(size=(50, 2))
  labels = (points[:, 0] > 0).astype(int)
  xx, yy, grid = plots.grid_2d(points, resolution=50)
  assert grid.shape == (2500, 2) and xx.shape == (50, 50)
  _assert_png(plots.decision_boundary(xx, yy, (grid[:, 0] > 0).reshape(xx.shape),
                                      points, labels, tmp_path / "db.png", title="t"))
  _assert_png(plots.weight_templates(rng.normal(size=(10, 8, 8)), tmp_path / "w.png"))
  _assert_png(plots.confusion_matrix(rng.integers(0, 9, (4, 4)), tmp_path / "cm.png"))
  _assert_png(plots.curve_comparison(
      {"loss": {"a": ([1, 2, 3], [3.0, 2.0, 1.0]), "b": ([1, 2, 3], [2.0, 2.0, 2.0])}},
      tmp_path / "cc.png", log_y=("loss",), smooth={"loss": 0.9}))
  x = np.linspace(-1, 1, 10)
  curve = np.linspace(-1, 1, 50)
  _assert_png(plots.polyfit(x, np.sin(x), curve, np.sin(curve), {1: curve, 3: curve ** 3},
                            {1: (0.2, 0.3), 3: (0.01, 0.02)}, tmp_path / "pf.png"))


def test_plot_functions_reject_bad_shapes(tmp_path):
  with pytest.raises(ValueError, match="square"):
    plots.confusion_matrix(np.zeros((2, 3)), tmp_path / "x.png")
  with pytest.raises(ValueError, match="templates_KxHxW"):
    plots.weight_templates(np.zeros((8, 8)), tmp_path / "x.png")
  with pytest.raises(ValueError, match="3 points but 2 labels"):
    xx, yy, _ = plots.grid_2d(np.zeros((3, 2)), resolution=4)
    plots.decision_boundary(xx, yy, np.zeros((4, 4)), np.zeros((3, 2)), np.zeros(2),
                            tmp_path / "x.png")
  with pytest.raises(ValueError, match="2 x values but 1 y values"):
    plots.curve_comparison({"p": {"a": ([1, 2], [1.0])}}, tmp_path / "x.png")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def test_legendre_features_match_numpy():
  x = np.linspace(-1, 1, 7, dtype=np.float32)
  ours = np.asarray(polynomial.legendre_features(x, 12))
  np.testing.assert_allclose(ours, legendre.legvander(x, 12)[:, 1:], atol=1e-5)


def test_knn_distances_votes_and_cross_validation():
  rng = np.random.default_rng(0)
  q, r = rng.normal(size=(5, 3)), rng.normal(size=(7, 3))
  brute = q[:, None, :] - r[None]
  np.testing.assert_allclose(knn.distances(q, r, "l2"),
                             np.sqrt((brute ** 2).sum(-1)), atol=1e-5)
  np.testing.assert_allclose(knn.distances(q, r, "l1"), np.abs(brute).sum(-1),
                             atol=1e-5)
  with pytest.raises(ValueError, match="unknown distance"):
    knn.distances(q, r, "cosine")
  # A 2-2 tie among the 4 nearest goes to the class of the nearest neighbour.
  scores = knn.vote_scores(np.array([[2, 1, 1, 2], [1, 2, 2, 1]]), 4, 3)
  np.testing.assert_array_equal(scores.argmax(-1), [2, 1])
  assert scores.max() < 3
  # Two well-separated clusters: every k is perfect in cross-validation.
  x = np.concatenate([rng.normal(size=(20, 2)), 10 + rng.normal(size=(20, 2))])
  y = np.repeat([0, 1], 20)
  assert knn.cross_validate(x, y, (1, 3), 4, "l2", 0, 2) == {1: 1.0, 3: 1.0}


def test_derive_changes_only_named_keys():
  cfg = experiments.get_config("vector_regression")
  sub = config_lib.derive(cfg, **{"loss.name": "euclidean_error", "num_steps": 7})
  assert (sub.loss.name, sub.num_steps) == ("euclidean_error", 7)
  assert (cfg.loss.name, cfg.num_steps) == ("squared_error", 400)
  with pytest.raises(config_lib.ConfigError, match="loss.nme"):
    config_lib.derive(cfg, **{"loss.nme": "x"})


def test_expected_initial_losses():
  cfg = experiments.get_config("digits_linear_softmax")
  assert sanity.expected_initial_loss(cfg.loss, 10) == pytest.approx(math.log(10))
  svm = experiments.get_config("digits_linear_svm")
  assert sanity.expected_initial_loss(svm.loss, 10) == 9.0
  assert sanity.expected_initial_loss(experiments.get_config("logreg_binary").loss, 2) is None
