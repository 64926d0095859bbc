"""The catalogue's canvas datasets (multi-label, detection, ranking), the losses,
metrics and plots their experiments name, and the real-data configs on TFDS mock data.

The experiments' smoke variants run in tests/test_experiments.py; their full configs
are run by the report script, not here.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import experiments
import losses
from nn_lib import studies
from nn_lib import data, metrics
from nn_lib.data import canvases
from nn_lib.plots import images
from tests.conftest import run_experiment


def _data_config(name: str):
  cfg = experiments.get_config("digits_mlp").data
  cfg.name, cfg.standardize = name, False
  return cfg


def _blocks(num_per_class: int = 3) -> tuple[np.ndarray, np.ndarray]:
  """Fake 28x28 "digits": class c is a centred 20x20 block of grey level 20 (c + 1),
  so a canvas's grey levels tell which classes it holds."""
  labels = np.repeat(np.arange(10), num_per_class)
  imgs = np.zeros((len(labels), 28, 28), np.uint8)
  for i, c in enumerate(labels):
    imgs[i, 4:24, 4:24] = 20 * (c + 1)
  return imgs, labels


# --- generators ----------------------------------------------------------------------

def test_multilabel_presence_vector_is_the_set_of_digits_placed():
  imgs, labels = _blocks()
  x, y = canvases.multilabel_canvases(imgs, labels, n=300, seed=0)
  assert x.shape == (300, 44, 44) and x.dtype == np.uint8 and y.shape == (300, 10)
  k = y.sum(axis=1)
  assert set(np.unique(k)) == {1, 2, 3}
  for canvas, presence in zip(x, y):
    levels = set(np.unique(canvas)) - {0}
    assert levels == {20 * (c + 1) for c in np.flatnonzero(presence)}
    # Digits never overlap: every block keeps all of its 400 pixels.
    assert np.count_nonzero(canvas) == 400 * presence.sum()


def test_generators_are_deterministic_and_seeded():
  imgs, labels = _blocks()
  a = canvases.multilabel_canvases(imgs, labels, n=20, seed=3)
  b = canvases.multilabel_canvases(imgs, labels, n=20, seed=3)
  c = canvases.multilabel_canvases(imgs, labels, n=20, seed=4)
  np.testing.assert_array_equal(a[0], b[0])
  assert not np.array_equal(a[0], c[0])
  d = canvases.detection_canvases(imgs, n=20, seed=3)
  e = canvases.detection_canvases(imgs, n=20, seed=3)
  np.testing.assert_array_equal(d[0], e[0])
  np.testing.assert_array_equal(d[1], e[1])


def test_detection_box_covers_the_digit_tightly_and_20_percent_are_empty():
  train_images = canvases.mnist10k_splits()["train"][0]
  x, boxes = canvases.detection_canvases(train_images[:500], n=500, seed=0)
  assert x.shape == (500, 48, 48) and boxes.shape == (500, 5)
  present = boxes[:, 0] == 1
  assert (~present).sum() == 100                    # exactly 20% have I = 0
  assert not x[~present].any() and not boxes[~present].any()
  sides = []
  for canvas, (_, bx, by, bw, bh) in zip(x[present], boxes[present]):
    left, top = round((bx - bw / 2) * 48), round((by - bh / 2) * 48)
    right, bottom = round((bx + bw / 2) * 48), round((by + bh / 2) * 48)
    assert 0 <= left < right <= 48 and 0 <= top < bottom <= 48
    inside = canvas[top:bottom, left:right]
    assert inside.sum() == canvas.sum() > 0         # all ink inside the box
    # ...and the box is tight: ink in its first and last rows and columns.
    assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
    sides.append(max(bw, bh) * 48)
  assert 12 <= min(sides) and max(sides) <= 40 and np.std(sides) > 5  # varied scale


def test_canvas_generators_reject_bad_input():
  with pytest.raises(ValueError, match="min_side"):
    canvases.detection_canvases(np.zeros((2, 28, 28), np.uint8), 4, 0, max_side=60)
  with pytest.raises(ValueError, match="cannot place a blank image"):
    canvases.detection_canvases(np.zeros((2, 28, 28), np.uint8), 4, 0, empty_fraction=0.0)
  imgs, labels = _blocks()
  with pytest.raises(ValueError, match=r"needs digits of every class; none of \[9\]"):
    canvases.multilabel_canvases(imgs[labels < 9], labels[labels < 9], 4, 0)


def test_likes_is_class_base_plus_ink():
  imgs, labels = _blocks(1)  # ink of class c: 400 pixels of 20 (c + 1) / 255 over 784
  ink = 400 * 20 * (labels + 1) / 255 / 784
  np.testing.assert_allclose(canvases.likes(imgs, labels),
                             canvases.CLASS_LIKES[labels] + 40 * ink, rtol=1e-6)


def test_canvas_splits_come_from_mnist10k_train_and_test():
  splits = canvases.mnist10k_splits()
  mnist = data.load(_data_config("mnist10k"))
  for split in ("train", "test"):
    ours = np.sort([hash(im.tobytes()) for im in splits[split][0]])
    theirs = np.sort([hash((im[..., 0] * 255).round().astype(np.uint8).tobytes())
                      for im in mnist[split]["inputs"]])
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name, n_train, shape, target_shape", [
    ("mnist_multilabel", 24000, (44, 44, 1), (10,)),
    ("mnist_detect", 12000, (48, 48, 1), (5,)),
    ("mnist_likes", 8000, (28, 28, 1), (1,)),
])
def test_canvas_builders_read_through_tfds(name, n_train, shape, target_shape):
  splits = data.load(_data_config(name))
  train, test = splits["train"], splits["test"]
  assert train["inputs"].shape == (n_train, *shape) and len(test["inputs"]) == 2000
  assert train["inputs"].dtype == np.float32 and train["inputs"].max() == 1.0
  assert test["targets"].shape == (2000, *target_shape)
  assert test["targets"].dtype == np.float32
  if name == "mnist_detect":
    assert np.mean(test["targets"][:, 0] == 0) == pytest.approx(0.2)


# --- what the experiments name ------------------------------------------------------

def test_listwise_pairs_over_the_batch_is_the_all_pairs_ranking_loss_by_hand():
  """rank_likes trains on every ordered pair of the batch: listwise_pairs over axis 0
  of B x 1 scores is the mean over pairs with likes_i > likes_j of max(0, M - (z_i - z_j))."""
  cfg = experiments.get_config("rank_likes").loss
  loss = lambda z, t: losses.reduce(losses.listwise_pairs(
      jnp.array(z)[:, None], jnp.array(t)[:, None], axis=cfg.axis, margin=cfg.margin))
  # Equal scores: each of the 3 ordered pairs costs M = 1.
  np.testing.assert_allclose(loss([0.0, 0.0, 0.0], [3.0, 1.0, 2.0]), 1.0)
  # Every pair ordered with a margin >= 1: loss 0.
  np.testing.assert_allclose(loss([2.0, 0.0, 1.0], [3.0, 1.0, 2.0]), 0.0)
  # Equal likes make no pair: (0, 2) is left out; (0 > 1) costs 1 - 0.5, (2 > 1) 0.
  np.testing.assert_allclose(loss([0.5, 0.0, 9.0], [2.0, 1.0, 2.0]), 0.25)
  grad = jax.grad(lambda z: loss(z, [3.0, 1.0, 2.0]))(jnp.zeros(3))
  # d/dz of the mean over 3 active pairs: better items -1/3 each time, worse +1/3.
  np.testing.assert_allclose(grad, [-2 / 3, 2 / 3, 0.0], atol=1e-6)


def test_softmax_head_f1_thresholds_probabilities():
  presence = np.array([[1, 1, 0], [1, 0, 0]], np.float32)
  logits = np.log(np.array([[0.45, 0.45, 0.1], [0.8, 0.1, 0.1]]))
  # p > 0.5: only (1, 0) -> TP 1, FN 2: P 1, R 1/3, F1 1/2; p > 0.4 finds all three.
  assert metrics.softmax_multilabel_f1_micro(logits, presence, 0.5) == pytest.approx(0.5)
  assert metrics.softmax_multilabel_f1_micro(logits, presence, 0.4) == pytest.approx(1.0)
  # The softmax variant trains on t / sum t; presence is still "target > 0".
  normalized = data.TARGET_TRANSFORMS.get("normalize")(presence, None)
  assert metrics.get("softmax_f1_micro_p50")(logits, normalized) == pytest.approx(0.5)
  np.testing.assert_allclose(losses.softmax_cross_entropy(jnp.zeros((2, 3)), normalized),
                             [np.log(3.0), np.log(3.0)], rtol=1e-6)


def test_every_catalogue_experiment_reports_a_metric_it_computes():
  for name in ("multilabel_digits", "detect_single", "rank_likes", "autoencoder_mse",
               "autoencoder_bce", "autoencoder_latent2d", "mnist_lenet",
               "cifar10_resnet20", "cifar10_linear_svm"):
    cfg, report = experiments.get_config(name), experiments.report(name)
    split, _, metric = report["metric"].partition("/")
    assert split == "test" and metric in cfg.metrics
    metrics.get(metric)


# --- real-data configurations on TFDS mock data ---------------------------------------

@pytest.mark.parametrize("name", ["mnist_lenet", "cifar10_linear_svm"])
def test_real_data_config_trains_on_tfds_mock_data(name, tmp_path, training_curves):
  cfg = experiments.get_config(name)   # the full config, but 2 tiny steps
  assert cfg.data.source == "tfds" and cfg.data.name in ("mnist", "cifar10")
  result = run_experiment(name, tmp_path, batch_size=8, eval_batch_size=16, num_steps=2,
                          log_every=2, eval_every=2, checkpoint_every=2,
                          schedule=dict(name="cosine", warmup_steps=1))
  assert 0.0 <= result.final["test/accuracy"] <= 1.0
  assert (tmp_path / "plots" / "curves.png").exists()
  if name == "cifar10_linear_svm":
    assert (tmp_path / "plots" / "weight_templates.png").exists()


def test_real_data_config_without_the_data_says_how_to_prepare_it(tmp_path):
  cfg = experiments.get_config("cifar10_linear_svm")
  cfg.data.data_dir = str(tmp_path / "empty")
  with pytest.raises(data.DataError, match="tfds build cifar10 --file_format=array_record"):
    studies.run(cfg, tmp_path / "run")


# --- plots ---------------------------------------------------------------------------

def _png_size(path) -> tuple[int, int]:
  with Image.open(path) as im:
    return im.size


def test_image_plots_write_pngs(tmp_path):
  rng = np.random.default_rng(0)
  imgs = rng.random((6, 16, 16, 1))
  paths = [
      images.image_grid(imgs, tmp_path / "grid.png", titles=list("abcdef"), ncols=4),
      images.reconstruction_grid(imgs, imgs[::-1], tmp_path / "recon.png", ncols=4),
      images.latent_scatter(rng.normal(size=(50, 2)), rng.integers(0, 10, 50),
                            tmp_path / "latent.png"),
      images.boxes_grid(imgs, np.tile([0.5, 0.5, 0.4, 0.3], (6, 1)),
                        np.tile([0.4, 0.5, 0.3, 0.3], (6, 1)), tmp_path / "boxes.png",
                        pred_present_N=np.arange(6) % 2 == 0),
      images.score_scatter(rng.normal(size=30), rng.normal(size=30), tmp_path / "rank.png"),
  ]
  for path in paths:
    width, height = _png_size(path)
    assert width > 200 and height > 100


def test_image_plots_reject_bad_input(tmp_path):
  with pytest.raises(ValueError, match="2 images but 1 titles"):
    images.image_grid(np.zeros((2, 4, 4)), tmp_path / "a.png", titles=["x"])
  with pytest.raises(ValueError, match="differ in shape"):
    images.reconstruction_grid(np.zeros((2, 4, 4)), np.zeros((3, 4, 4)), tmp_path / "b.png")
  with pytest.raises(ValueError, match="needs z N x 2"):
    images.latent_scatter(np.zeros((5, 3)), np.zeros(5), tmp_path / "c.png")
  with pytest.raises(ValueError, match="need N x 4 boxes"):
    images.boxes_grid(np.zeros((2, 4, 4)), np.zeros((2, 5)), np.zeros((2, 4)),
                      tmp_path / "d.png")
