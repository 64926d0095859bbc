"""The GAN trainer (nn_lib/trainers/gan.py): bit-identical resume (with and without
batch norm), the two generator losses' gradients, k discriminator updates per step,
config errors, mode metrics, real images from a dataset (nn_lib/trainers/gan_data.py)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import experiments
import losses
from nn_lib.data import mixtures
from nn_lib.registry import ConfigError
from nn_lib.trainers import gan, gan_data


def _tiny():
  """gan_ring's smoke config, for the checks that refuse a config before training."""
  cfg = experiments.get_config("gan_ring:smoke")
  cfg.plots = ()
  return cfg


def _tiny_dcgan(**gan_overrides):
  """dcgan_digits:smoke (width-8 players with batch norm, batch 16; its constant
  schedule makes a run stopped by a shorter num_steps the same run), k = 2
  discriminator updates per step."""
  cfg = experiments.get_config("dcgan_digits:smoke")
  cfg.plots = ()
  cfg.gan.d_steps = 2
  cfg.gan.update(gan_overrides)
  return cfg


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """6 uninterrupted steps of the tiny DCGAN (under the float32 matmuls conftest
  gives each test, which module fixtures precede)."""
  with jax.default_matmul_precision("float32"):
    return gan.train_and_evaluate(_tiny_dcgan(grid_samples=16),
                                  tmp_path_factory.mktemp("straight"))


def test_resume_is_bit_identical_with_batch_norm(straight, tmp_path):
  """Killed after 3 of 6 steps and resumed: the same parameters, batch-norm
  statistics, optimizer states and metrics as the run that was not stopped."""
  cfg = _tiny_dcgan()
  cfg.num_steps = 3
  first = gan.train_and_evaluate(cfg, tmp_path)
  assert int(first.state["step"]) == 3
  resumed = gan.train_and_evaluate(_tiny_dcgan(), tmp_path)
  assert resumed.start_step == 3 and int(resumed.state["step"]) == 6
  leaves_a = jax.tree.leaves_with_path(straight.state)
  leaves_b = jax.tree.leaves_with_path(resumed.state)
  assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
  for (path, a), (_, b) in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=str(path))
  assert straight.final == resumed.final  # the same metrics rows, too
  for name in ("sample_confidence", "classes_present", "max_class_fraction"):
    assert f"test/{name}" in straight.final, name
  assert (tmp_path / "plots" / "samples.png").exists()
  assert (straight.workdir / "plots" / "samples_6.png").exists()


def test_discriminator_makes_d_steps_updates_per_step(straight):
  state = straight.state
  assert int(state["step"]) == 6 and int(state["d_updates"]) == 12
  # and the optimizers agree: adam's step counters
  adam = lambda s: isinstance(s, optax.ScaleByAdamState)
  counts = lambda opt_state: [int(s.count) for s in jax.tree.leaves(opt_state, is_leaf=adam)
                              if adam(s)]
  assert counts(state["d_opt_state"]) == [12] and counts(state["g_opt_state"]) == [6]
  for name in ("d_loss", "g_loss", "d_real", "d_fake"):
    assert np.isfinite(straight.final[f"train/{name}"]), name


def test_generator_losses_push_d_of_g_up():
  """Both G losses fall as the fake logit f rises (D(G(z)) = sigma(f) towards 1),
  with the gradients the notes give: d/df -log sigma(f) = sigma(f) - 1 and
  d/df log(1 - sigma(f)) = -sigma(f). Rejected fakes (f = -6): the minimax one
  nearly vanishes (saturates), the non-saturating one stays near -1."""
  f = jnp.array([-6.0, 0.0, 2.0])
  for name in ("nonsaturating", "minimax"):
    fn = gan.GENERATOR_LOSSES[name]
    grads = jax.grad(lambda x, fn=fn: jnp.sum(fn(x)))(f)
    assert np.all(np.asarray(grads) < 0), name
  ns = jax.grad(lambda x: jnp.sum(gan.GENERATOR_LOSSES["nonsaturating"](x)))(f)
  mm = jax.grad(lambda x: jnp.sum(gan.GENERATOR_LOSSES["minimax"](x)))(f)
  sig = jax.nn.sigmoid(f)
  np.testing.assert_allclose(ns, sig - 1, rtol=1e-6)
  np.testing.assert_allclose(mm, -sig, rtol=1e-6)
  assert abs(float(mm[0])) < 0.01 and float(ns[0]) < -0.99
  # values: -log D and log(1 - D) at D = 1/2
  np.testing.assert_allclose(gan.GENERATOR_LOSSES["nonsaturating"](f)[1], np.log(2), rtol=1e-6)
  np.testing.assert_allclose(gan.GENERATOR_LOSSES["minimax"](f)[1], -np.log(2), rtol=1e-6)
  assert gan.GENERATOR_LOSSES["nonsaturating"] is losses.gan_generator_nonsaturating


def test_one_sided_label_smoothing_is_bce_with_real_target_t():
  """gan.real_label = t: D's loss is BCE with target t on real logits r (and 0 on
  fake f); t = 1 is the plain loss, and D's gradient on r vanishes at sigma(r) = t."""
  r = jnp.array([-3.0, 0.0, 1.5, 4.0])
  f = jnp.array([-2.0, 0.5, 0.0, 3.0])
  sp = jax.nn.softplus
  for t in (1.0, 0.9):
    expected = jnp.mean(t * sp(-r) + (1 - t) * sp(r) + sp(f))
    np.testing.assert_allclose(gan.discriminator_loss(r, f, t), expected, rtol=1e-6)
  np.testing.assert_allclose(gan.discriminator_loss(r, f),
                             jnp.mean(losses.gan_discriminator(r, f)), rtol=1e-6)
  at_t = jnp.full(4, jnp.log(0.9 / 0.1))  # sigma(r) = 0.9
  grad = jax.grad(lambda x: gan.discriminator_loss(x, f, 0.9))(at_t)
  np.testing.assert_allclose(grad, 0.0, atol=1e-6)


def test_batch_norm_statistics_move_and_sampling_reads_them(straight):
  """Both players' statistics moved off their initial values (mean 0, var 1), and
  G samples in eval mode: G(z) = apply with the running averages."""
  state, cfg = straight.state, straight.cfg
  for part in ("g_state", "d_state"):
    stats = state[part]["batch_stats"]
    values = np.concatenate([np.ravel(x) for x in jax.tree.leaves(stats)])
    assert np.abs(values - np.round(values)).max() > 1e-4, part
  G = straight.model["generator"]
  z = np.random.default_rng(1).standard_normal((5, cfg.gan.latent_dim)).astype(np.float32)
  expected = G.apply({"params": state["g_params"], **state["g_state"]}, z, train=False)
  np.testing.assert_allclose(straight.predict(z), np.asarray(expected), rtol=1e-5, atol=1e-6)
  in_train_mode = G.apply({"params": state["g_params"], **state["g_state"]}, z, train=True,
                          mutable=["batch_stats"])[0]
  assert not np.allclose(np.asarray(in_train_mode), np.asarray(expected), atol=1e-3)


def test_the_moving_average_follows_its_rule_and_samples_with_standing_statistics(
    tmp_path):
  """gan.g_ema_decay = b: after each G update, ema <- b ema + (1 - b) params (checked
  across a resume, from step 2's checkpoint to step 3), and G samples with the
  average and its standing statistics: batch-norm statistics equal to a batch's
  own, so that eval mode on that batch is train mode on it."""
  decay = 0.75
  cfg = _tiny_dcgan(g_ema_decay=decay)
  cfg.num_steps = 2
  two = gan.train_and_evaluate(cfg, tmp_path).state
  cfg.num_steps = 3
  three = gan.train_and_evaluate(cfg, tmp_path)
  assert three.start_step == 2 and int(three.state["step"]) == 3
  for e2, p3, e3 in zip(jax.tree.leaves(two["g_ema"]), jax.tree.leaves(three.state["g_params"]),
                        jax.tree.leaves(three.state["g_ema"])):
    np.testing.assert_allclose(np.asarray(e3), decay * np.asarray(e2) + (1 - decay) *
                               np.asarray(p3), rtol=1e-6, atol=1e-7)
    assert not np.allclose(np.asarray(e3), np.asarray(p3))
  G, state = three.model["generator"], three.state
  z = np.random.default_rng(2).standard_normal((64, cfg.gan.latent_dim)).astype(np.float32)
  stats = gan.standing_statistics(G, state["g_ema"], state["g_state"], z)
  in_eval = G.apply({"params": state["g_ema"], **stats}, z, train=False)
  in_train = G.apply({"params": state["g_ema"], **state["g_state"]}, z, train=True,
                     mutable=["batch_stats"])[0]
  np.testing.assert_allclose(np.asarray(in_eval), np.asarray(in_train), atol=1e-4)
  # and the run samples with the average, not with G's own weights
  own = G.apply({"params": state["g_params"], **state["g_state"]}, z[:5], train=False)
  assert not np.allclose(three.predict(z[:5]), np.asarray(own), atol=1e-3)


def test_real_images_are_training_digits_scaled_to_tanh_range():
  cfg = experiments.get_config("dcgan_digits:smoke")
  real = gan_data.from_config(cfg.data)
  assert real.shape == (28, 28, 1) and real.is_image
  train = np.asarray(real.arrays)
  assert train.shape == (2048, 28, 28, 1)  # the smoke variant's train[:2048]
  assert train.min() == -1.0 and train.max() == 1.0  # 0 -> -1 (background), 255 -> 1
  batch = np.asarray(real.sample(real.arrays, jax.random.PRNGKey(0), 8))
  # each drawn image is a row of the training split
  flat = train.reshape(len(train), -1)
  for image in batch.reshape(8, -1):
    assert np.any(np.all(flat == image, axis=1))
  np.testing.assert_array_equal(
      batch, np.asarray(real.sample(real.arrays, jax.random.PRNGKey(0), 8)))
  np.testing.assert_allclose(gan_data.to_unit(batch) * 2 - 1, batch)


@pytest.mark.parametrize("key,value,message", [
    ("gan.generator_loss", "wasserstein",
     (r"config.gan.generator_loss='wasserstein' is not a generator loss; valid: "
      r"nonsaturating, minimax")),
    ("gan.d_steps", 0, r"config.gan.d_steps must be a positive integer, got 0"),
    ("gan.r1_weight", -1.0,
     (r"config.gan.r1_weight must be a number >= 0 \(0: no penalty\), got -1.0")),
    ("gan.real_label", 0.3,
     r"config.gan.real_label must be a number in \(0.5, 1\] \(1: no label smoothing\)"),
    ("gan.g_ema_decay", 1.0,
     r"config.gan.g_ema_decay must be a number in \[0, 1\) \(0: no moving average of G\)"),
    ("data.name", "spiral",
     r"config.data.name: unknown distribution 'spiral'; valid: gaussian_ring"),
    ("gan.sample_quality", "fid",
     r"config.gan.sample_quality='fid' is not a sample quality; valid: modes, mnist_lenet"),
    ("gan.sample_quality", "mnist_lenet",
     (r"config.gan.sample_quality='mnist_lenet' does not fit data.source='sampler': "
      r"use 'modes' with")),
])
def test_bad_config_values_are_clear_errors(tmp_path, key, value, message):
  cfg = _tiny()
  part, name = key.split(".")
  cfg[part][name] = value
  with pytest.raises(ConfigError, match=message):
    gan.train_and_evaluate(cfg, tmp_path)
  assert not (tmp_path / "config.json").exists()  # refused before the workdir is used


def test_mode_metrics_count_modes_and_close_samples():
  ring = mixtures.gaussian_ring(num_modes=8, radius=2.0, std=0.02)
  rng = np.random.default_rng(0)
  real = ring.sample_host(rng, 4000)
  m = mixtures.mode_metrics(real, ring.centers_MxD, ring.std)
  assert m["modes_covered"] == 8 and m["high_quality_fraction"] > 0.98
  # all mass on two modes, a quarter of it far off: 2 modes, 75% close
  collapsed = np.concatenate([np.repeat(ring.centers_MxD[:2], 300, 0),
                              np.zeros((200, 2), np.float32)])
  m = mixtures.mode_metrics(collapsed, ring.centers_MxD, ring.std)
  assert m == {"modes_covered": 2.0, "high_quality_fraction": 0.75}
  # a mode with fewer than 1/16 of the samples is not covered
  few = np.concatenate([np.repeat(ring.centers_MxD[:1], 95, 0), ring.centers_MxD[1:2]
                        .repeat(5, 0)])
  assert mixtures.mode_metrics(few, ring.centers_MxD, ring.std)["modes_covered"] == 1
