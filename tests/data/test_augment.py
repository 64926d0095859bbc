"""Device-side data augmentation: exact outputs on known arrays, per-example
randomness, frequencies over many keys, determinism in the key, config errors."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

from nn_lib.data import augment
from nn_lib.registry import ConfigError

KEY = jax.random.PRNGKey(0)


def arange_images(batch: int, h: int = 5, w: int = 6, c: int = 2) -> np.ndarray:
  """Every pixel distinct and nonzero, so a crop's offset can be read off its values
  and zero fill is told apart from image."""
  one_HxWxC = np.arange(1, h * w * c + 1, dtype=np.float32).reshape(h, w, c)
  return np.broadcast_to(one_HxWxC, (batch, h, w, c)).copy()


def crop_offsets(out_BxHxWxC: np.ndarray, images_BxHxWxC: np.ndarray, p: int) -> list:
  """The (dy, dx) in [0, 2p]^2 at which each output equals the zero-padded image."""
  _, h, w, _ = images_BxHxWxC.shape
  padded = np.pad(images_BxHxWxC, ((0, 0), (p, p), (p, p), (0, 0)))
  offsets = []
  for b, out in enumerate(np.asarray(out_BxHxWxC)):
    found = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
             if np.array_equal(out, padded[b, dy:dy + h, dx:dx + w])]
    assert len(found) == 1, f"example {b} is no crop of the padded image"
    offsets.append(found[0])
  return offsets


def test_flip_of_known_array():
  x = jnp.asarray(arange_images(3))
  np.testing.assert_array_equal(augment.horizontal_flip(KEY, x, 1.0), x[:, :, ::-1])
  np.testing.assert_array_equal(augment.horizontal_flip(KEY, x, 0.0), x)
  out = np.asarray(augment.horizontal_flip(KEY, jnp.asarray(arange_images(64))))
  flipped_B = np.all(out == arange_images(64)[:, :, ::-1], axis=(1, 2, 3))
  kept_B = np.all(out == arange_images(64), axis=(1, 2, 3))
  assert np.all(flipped_B ^ kept_B) and 0 < flipped_B.sum() < 64  # each its own coin


def test_crop_is_a_slice_of_the_padded_image_at_a_per_example_offset():
  x = arange_images(32)
  out = augment.random_crop(KEY, jnp.asarray(x), padding=2)
  assert out.shape == x.shape and out.dtype == x.dtype
  offsets = crop_offsets(out, x, 2)
  assert len(set(offsets)) > 5
  moved_down = [b for b, (dy, _) in enumerate(offsets) if dy < 2]
  assert moved_down
  for b in moved_down:  # the rows above the image are zero fill, the rest image
    dy = offsets[b][0]
    assert np.all(np.asarray(out)[b, :2 - dy] == 0)
    assert np.any(np.asarray(out)[b, 2 - dy:] > 0)


def test_crop_modes_fill_from_the_image():
  x = arange_images(16)
  out = np.asarray(augment.random_crop(KEY, jnp.asarray(x), 2, mode="edge"))
  assert np.all(out > 0)  # no zero fill
  padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
  assert all(any(np.array_equal(o, padded[b, dy:dy + 5, dx:dx + 6])
                 for dy in range(5) for dx in range(5)) for b, o in enumerate(out))


def test_over_many_keys_flip_frequency_and_every_offset():
  keys = jax.random.split(jax.random.PRNGKey(1), 200)
  x = jnp.asarray(arange_images(20, 3, 3, 1))
  flips = jax.jit(jax.vmap(lambda k: augment.horizontal_flip(k, x)))(keys)
  frequency = np.mean(np.any(np.asarray(flips) != np.asarray(x), axis=(2, 3, 4)))
  assert 0.45 <= frequency <= 0.55, frequency  # 4000 coins: 0.5 +- 0.008
  crops = jax.jit(jax.vmap(lambda k: augment.random_crop(k, x, 2)))(keys[:40])
  offsets = [o for c in np.asarray(crops) for o in crop_offsets(c, np.asarray(x), 2)]
  assert {dy for dy, _ in offsets} == set(range(5)) == {dx for _, dx in offsets}
  assert len(set(offsets)) == 25   # every (dy, dx) pair among 800 draws


def test_translate_is_a_zero_filled_shift_within_max_shift():
  x = arange_images(32)
  out = np.asarray(augment.translate(KEY, jnp.asarray(x), max_shift=1))
  for b, (dy, dx) in enumerate(crop_offsets(out, x, 1)):
    sy, sx = 1 - dy, 1 - dx   # content moves down by sy and right by sx
    shifted = np.zeros_like(x[b])
    shifted[max(sy, 0):5 + min(sy, 0), max(sx, 0):6 + min(sx, 0)] = (
        x[b, max(-sy, 0):5 + min(-sy, 0), max(-sx, 0):6 + min(-sx, 0)])
    np.testing.assert_array_equal(out[b], shifted)
  np.testing.assert_array_equal(out, augment.random_crop(KEY, jnp.asarray(x), 1))


OPS = [("random_crop", {"padding": 2}), ("translate", {"max_shift": 2}),
       ("horizontal_flip", {}), ("gaussian_noise", {"std": 0.5})]


@pytest.mark.parametrize("name,kwargs", OPS)
def test_same_key_same_output_other_key_other_output(name, kwargs):
  op = augment.AUGMENTATIONS.get(name)
  x = jnp.asarray(arange_images(16))
  np.testing.assert_array_equal(op(KEY, x, **kwargs), op(KEY, x, **kwargs))
  assert not np.array_equal(op(KEY, x, **kwargs), op(jax.random.PRNGKey(7), x, **kwargs))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.uint8])
def test_ops_jit_and_keep_shape_and_dtype(dtype):
  x = jnp.asarray(arange_images(4), dtype)
  for name, kwargs in OPS:
    if name == "gaussian_noise" and dtype == jnp.uint8:
      with pytest.raises(TypeError, match="floating"):
        augment.gaussian_noise(KEY, x, 0.1)
      continue
    out = jax.jit(lambda k, x, name=name, kwargs=kwargs:
                  augment.AUGMENTATIONS.get(name)(k, x, **kwargs))(KEY, x)
    assert out.shape == x.shape and out.dtype == x.dtype, name
  mixed, _, _ = jax.jit(augment.mixup, static_argnums=2)(KEY, x.astype(jnp.bfloat16), 0.2)
  assert mixed.dtype == jnp.bfloat16


@pytest.mark.parametrize("shape", [(400, 50), (100, 4, 5, 2)])
def test_gaussian_noise_has_the_std_asked_for_any_rank(shape):
  x = jnp.full(shape, 3.0)
  noise = np.asarray(augment.gaussian_noise(KEY, x, std=0.3)) - 3.0
  assert abs(noise.std() - 0.3) < 0.01 and abs(noise.mean()) < 0.01   # 20000 draws
  np.testing.assert_array_equal(augment.gaussian_noise(KEY, x, std=0.0), x)


def test_mixup_mixes_with_a_permutation_and_lam_has_mean_one_half():
  x = jax.random.normal(KEY, (16, 3, 3, 1))
  mixed, partner_B, lam = augment.mixup(jax.random.PRNGKey(3), x, alpha=0.4)
  assert sorted(np.asarray(partner_B).tolist()) == list(range(16))
  assert not np.array_equal(partner_B, np.arange(16))
  assert 0.0 <= float(lam) <= 1.0
  np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[partner_B],
                             rtol=1e-6, atol=1e-6)
  lams = np.asarray(jax.jit(jax.vmap(lambda k: augment.mixup(k, x, 0.2)[2]))(
      jax.random.split(KEY, 4000)))
  assert abs(lams.mean() - 0.5) < 0.03   # Beta(0.2, 0.2): sd 0.42, se 0.007
  # U-shaped: variance 1 / (4 (2 alpha + 1)) = 0.179, most lam near 0 or 1
  assert abs(lams.var() - 1 / (4 * 1.4)) < 0.015


def test_from_config_applies_in_order_with_folded_keys():
  assert augment.from_config(()) is None and augment.from_config(None) is None
  assert augment.from_config(({"name": "mixup", "alpha": 0.2},)) is None
  cfg = ({"name": "random_crop", "padding": 2}, {"name": "horizontal_flip"},
         {"name": "mixup", "alpha": 0.2})
  x = jnp.asarray(arange_images(16))
  out = jax.jit(augment.from_config(cfg))(KEY, x)
  expected = augment.horizontal_flip(
      jax.random.fold_in(KEY, 1),
      augment.random_crop(jax.random.fold_in(KEY, 0), x, 2))
  np.testing.assert_array_equal(out, expected)
  unfolded = augment.horizontal_flip(KEY, augment.random_crop(KEY, x, 2))
  assert not np.array_equal(out, unfolded)
  assert augment.mixup_from_config(cfg) == 0.2
  assert augment.mixup_from_config(cfg[:2]) == 0.0 == augment.mixup_from_config(())
  as_config = ConfigDict({"augment": cfg}).augment   # what a run config holds
  np.testing.assert_array_equal(augment.from_config(as_config)(KEY, x), out)


def test_check_inputs_wants_images_for_image_ops():
  cfg = ({"name": "random_crop", "padding": 4}, {"name": "horizontal_flip"})
  augment.check_inputs(cfg, (128, 32, 32, 3))
  augment.check_inputs(({"name": "gaussian_noise", "std": 0.1},
                        {"name": "mixup", "alpha": 1.0}), (128, 64))
  for name, kwargs in OPS[:3]:
    with pytest.raises(ConfigError, match=rf"augment\[0\] '{name}' needs B x H x W x C"):
      augment.check_inputs(({"name": name, **kwargs},), (128, 64))


@pytest.mark.parametrize("cfg,message", [
    ({"name": "horizontal_flip"}, "sequence of entries"),
    ("horizontal_flip", "sequence of entries"),
    (3, "sequence of entries"),
    (("horizontal_flip",), r"augment\[0\] 'horizontal_flip': each entry must be a mapping"),
    (({"padding": 4},), "unknown or missing augmentation name None; set 'name' to one of: "
     "gaussian_noise, horizontal_flip, random_crop, translate, mixup"),
    (({"name": "random_flip"},), "unknown or missing augmentation name 'random_flip'"),
    (({"name": "random_crop"},), "'random_crop' needs padding. It takes padding, mode"),
    (({"name": "horizontal_flip", "p": 0.5},), "does not take p. It takes probability"),
    (({"name": "gaussian_noise", "std": 0.1, "mean": 1},), "does not take mean"),
    (({"name": "mixup"},), "'mixup' needs alpha"),
    (({"name": "random_crop", "padding": -1},), "padding must be a non-negative integer"),
    (({"name": "random_crop", "padding": 4.0},), "padding must be a non-negative integer"),
    (({"name": "random_crop", "padding": True},), "padding must be a non-negative integer"),
    (({"name": "random_crop", "padding": 4, "mode": "zeros"},), "mode must be one of"),
    (({"name": "translate", "max_shift": -2},), "max_shift must be a non-negative"),
    (({"name": "gaussian_noise", "std": -0.1},), r"std must be a number >= 0, got -0.1"),
    (({"name": "horizontal_flip", "probability": 1.5},),
     r"probability must be a number in \[0, 1\], got 1.5"),
    (({"name": "gaussian_noise", "std": float("nan")},), "std must be a number >= 0"),
    (({"name": "mixup", "alpha": 0.0},), "alpha must be a number > 0"),
    (({"name": "mixup", "alpha": -1},), "alpha must be a number > 0"),
    (({"name": "mixup", "alpha": 0.2}, {"name": "horizontal_flip"}),
     r"augment\[0\].*mixup must be the last entry"),
])
def test_config_errors_name_the_entry_and_the_fix(cfg, message):
  for check in (augment.from_config, augment.mixup_from_config,
                lambda c: augment.check_inputs(c, (8, 4, 4, 1))):
    with pytest.raises(ConfigError, match=message):
      check(cfg)
