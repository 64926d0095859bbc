"""neural_field_2d's pieces: the PSNR metric by hand, the image_field_2d dataset
(shapes, ranges, determinism) and the MLP's positional encoding on and off."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import experiments
from nn_lib import data, metrics, models
from nn_lib.data import fields
from nn_lib.models import catalog
from nn_lib.registry import ConfigError
from nn_lib.studies import STUDIES


def test_psnr_by_hand():
  target = jnp.zeros((4, 3))
  # Every value off by 0.1: MSE = 0.01, PSNR = 10 log10(1 / 0.01) = 20 dB.
  assert float(metrics.get("psnr")(target + 0.1, target)) == pytest.approx(20.0, abs=1e-4)
  # Half the values off by 0.2: MSE = 0.5 * 0.04 = 0.02 -> 16.99 dB.
  half = target.at[:2].set(0.2)
  assert float(metrics.psnr(half, target)) == pytest.approx(10 * np.log10(50), abs=1e-4)
  assert float(metrics.psnr(target, target)) == pytest.approx(100.0)  # MSE floored at 1e-10
  with pytest.raises(ValueError, match="psnr: predictions"):
    metrics.psnr(target, target[:, :1])


def test_image_field_2d_through_tfds():
  cfg = experiments.get_config("neural_field_2d").data
  splits = data.load(cfg)  # prepared (once per session) and read through TFDS
  cfg.test_split = "shifted"
  splits["shifted"] = data.load(cfg)["test"]
  assert [len(s["inputs"]) for s in splits.values()] == [64 * 64, 64 * 64, 63 * 63]
  for split in splits.values():
    xy, rgb = split["inputs"], split["targets"]
    assert xy.dtype == rgb.dtype == np.float32
    assert xy.shape[1:] == (2,) and rgb.shape[1:] == (3,)
    assert -1.0 < xy.min() and xy.max() < 1.0 and 0.0 <= rgb.min() and rgb.max() <= 1.0
    np.testing.assert_array_equal(rgb, fields.field_colour(xy))  # the analytic image
  # train and test are the same pixels (TFDS shuffles each split its own way).
  image = fields.field_image()
  for split in ("train", "test"):
    np.testing.assert_array_equal(
        fields.grid_image(splits[split]["inputs"], splits[split]["targets"]), image)
  # The shifted grid sits half a pixel (1/64) from the centres, between them.
  np.testing.assert_allclose(np.unique(splits["shifted"]["inputs"][:, 0])[:2],
                             [-1 + 2 / 64, -1 + 4 / 64], atol=1e-6)


def test_field_image_is_deterministic_with_fine_detail():
  image = fields.field_image()
  assert image.shape == (64, 64, 3) and image.dtype == np.float32
  np.testing.assert_array_equal(image, fields.field_image())
  assert 0.0 <= image.min() and image.max() <= 1.0
  # Sharp edges: many neighbouring pixels differ by more than half the range.
  jumps = np.abs(np.diff(image, axis=1)).max(axis=-1)
  assert (jumps > 0.5).sum() > 300
  with pytest.raises(ValueError, match="not a rectangular grid"):
    fields.grid_image(np.zeros((3, 2)), np.zeros((3, 3)))


@pytest.mark.parametrize("num_freqs, width_in", [(0, 2), (6, 2 * (1 + 2 * 6))])
def test_mlp_positional_encoding_on_and_off(num_freqs, width_in):
  model = models.get("mlp", num_outputs=3, hidden=(16, 16), num_freqs=num_freqs,
                     output_activation="sigmoid")
  xy = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (5, 2)), jnp.float32)
  variables = catalog.random_variables(model, xy)  # no initializer compile
  kernels = [v for v in jax.tree.leaves(variables) if v.ndim == 2]
  assert kernels[0].shape == (width_in, 16)  # gamma(p): D (1 + 2L) features
  out = model.apply(variables, xy)
  assert out.shape == (5, 3) and 0.0 < float(out.min()) and float(out.max()) < 1.0


def test_mlp_refuses_bad_num_freqs_naming_the_key():
  for bad in (-1, 2.5, True):
    with pytest.raises(ConfigError, match=r"config.model.num_freqs=.*integer >= 0"):
      models.get("mlp", num_outputs=3, num_freqs=bad)


def test_experiment_runs_differ_only_in_the_encoding():
  cfg = experiments.get_config("neural_field_2d")
  assert cfg.study in STUDIES and cfg.model.num_freqs == 0 and "psnr" in cfg.metrics
  assert [(name, dict(updates)) for name, updates in cfg.compare.runs] == [
      ("no_encoding", {"model.num_freqs": 0}),
      ("positional_encoding", {"model.num_freqs": 5})]
  smoke = experiments.get_config("neural_field_2d:smoke")
  assert smoke.num_steps <= 10 and smoke.data.test_split == "test"
