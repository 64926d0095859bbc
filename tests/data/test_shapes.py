"""The synthetic shapes segmentation data (notes 004 "Segmentation"): deterministic,
masks that match the drawn shapes' areas, and the builder and one-hot transform."""
from __future__ import annotations

import math

import numpy as np
import pytest

import experiments
from nn_lib import data
from nn_lib.data import shapes, transforms
from nn_lib.registry import ConfigError


def _grid(size=64):
  return shapes._pixel_grid(size)  # pylint: disable=protected-access


@pytest.mark.parametrize("kind, area", [
    (1, math.pi * 10 ** 2),               # disc of radius 10
    (2, 2 * 10 ** 2),                     # square inscribed in it: side 10 sqrt 2
    (3, 3 * math.sqrt(3) / 4 * 10 ** 2),  # equilateral triangle inscribed in it
])
def test_shape_areas_match_geometry_within_a_pixel_ring(kind, area):
  y, x = _grid()
  mask = shapes.shape_mask(kind, y, x, 31.3, 30.7, 10.0, angle=0.4)
  # pixels are counted by their centres: the error is below the perimeter's ring
  assert abs(mask.sum() - area) <= 2 * math.pi * 10
  assert mask[31, 31] and not mask[0, 0]


def test_canvases_are_deterministic_and_masks_are_what_was_drawn():
  images, masks = shapes.shapes_canvases(20, seed=3)
  again, masks_again = shapes.shapes_canvases(20, seed=3)
  assert images.shape == (20, 64, 64, 3) and images.dtype == np.uint8
  assert masks.shape == (20, 64, 64) and masks.dtype == np.uint8
  assert images.tobytes() == again.tobytes() and masks.tobytes() == masks_again.tobytes()
  assert images.tobytes() != shapes.shapes_canvases(20, seed=4)[0].tobytes()
  assert set(np.unique(masks)) == {0, 1, 2, 3}
  # one object of a fixed size, no pixel noise: its mask has that class's area
  # and its pixels are a flat colour (up to the +-15% shading per axis)
  areas = {1: math.pi * 100, 2: 200.0, 3: 3 * math.sqrt(3) / 4 * 100}
  images, masks = shapes.shapes_canvases(12, seed=5, min_objects=1, max_objects=1,
                                         min_radius=10.0, max_radius=10.0, noise=0.0)
  for image, mask in zip(images, masks):
    kind = int(mask.max())
    assert kind in areas and set(np.unique(mask)) == {0, kind}
    assert abs((mask == kind).sum() - areas[kind]) <= 2 * math.pi * 10
    inside = image[mask == kind].astype(float)
    mean = inside.mean(axis=0)
    assert np.all(np.abs(inside - mean) <= 0.3 * mean + 2)
  # several objects per image: at least two shapes' pixels (occlusion may hide one)
  _, masks = shapes.shapes_canvases(30, seed=6, min_objects=3, max_objects=3)
  assert np.mean([(m > 0).sum() > 0 for m in masks]) == 1.0
  assert np.mean([len(np.unique(m)) >= 2 for m in masks]) == 1.0


def test_bad_arguments_are_errors():
  with pytest.raises(ValueError, match="min_objects=3 <= max_objects=2"):
    shapes.shapes_canvases(2, 0, min_objects=3, max_objects=2)
  with pytest.raises(ValueError, match="max_radius=40 <= size / 2 = 32"):
    shapes.shapes_canvases(2, 0, max_radius=40)
  with pytest.raises(ValueError, match="shape class must be 1"):
    shapes.shape_mask(4, *_grid(8), 4, 4, 2, 0)


def test_builder_reads_the_generator_and_one_hot_maps_round_trip():
  cfg = experiments.get_config("segment_shapes").data
  cfg.train_split, cfg.test_split = "train[:4]", "test[:3]"
  cfg.target_transform = {"name": "one_hot", "num_classes": 4}
  splits = data.load(cfg)
  images, masks = shapes.shapes_canvases(4, seed=shapes.ShapesSeg.SEED * 100)
  train = splits["train"]
  np.testing.assert_allclose(train["inputs"], images / 255.0, atol=1e-6)
  np.testing.assert_array_equal(train["labels"], masks)
  assert train["targets"].shape == (4, 64, 64, 4) and train["targets"].dtype == np.float32
  np.testing.assert_array_equal(train["targets"].argmax(-1), masks)
  np.testing.assert_array_equal(train["targets"].sum(-1), 1.0)
  assert splits["test"]["targets"].shape == (3, 64, 64, 4)
  with pytest.raises(ConfigError, match="num_classes must be a positive integer"):
    transforms.one_hot(masks, images, num_classes=0)
  with pytest.raises(data.DataError, match="num_classes=3 but the labels go up to 3"):
    transforms.one_hot(masks, images, num_classes=3)
