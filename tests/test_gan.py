"""The GAN trainer (nn_lib/trainers/gan.py): bit-identical resume, the two generator
losses' gradients, k discriminator updates per step, config errors, mode metrics."""
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
from nn_lib.trainers import gan


def _tiny(**gan_overrides):
  """gan_ring at its smallest: 16-unit players, 6 steps of batch 16, saves at 3."""
  cfg = experiments.get_config("gan_ring:smoke")
  cfg.generator.hidden = cfg.discriminator.hidden = (16,)
  cfg.batch_size = 16
  cfg.gan.eval_samples = 64
  cfg.plots = ()
  # the resume test stops a run by shortening num_steps: a schedule that depends
  # on num_steps would make that a different run
  cfg.schedule = dict(name="constant")
  cfg.gan.update(gan_overrides)
  return cfg


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """6 uninterrupted steps with k = 2 discriminator updates per step (under the
  float32 matmuls conftest gives each test, which module fixtures precede)."""
  with jax.default_matmul_precision("float32"):
    return gan.train_and_evaluate(_tiny(d_steps=2), tmp_path_factory.mktemp("straight"))


def test_resume_is_bit_identical(straight, tmp_path):
  cfg = _tiny(d_steps=2)
  cfg.num_steps = 3
  first = gan.train_and_evaluate(cfg, tmp_path)
  assert int(first.state["step"]) == 3
  resumed = gan.train_and_evaluate(_tiny(d_steps=2), tmp_path)
  assert resumed.start_step == 3 and int(resumed.state["step"]) == 6
  leaves_a = jax.tree.leaves_with_path(straight.state)
  leaves_b = jax.tree.leaves_with_path(resumed.state)
  assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
  for (path, a), (_, b) in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=str(path))
  assert straight.final == resumed.final  # the same metrics rows, too
  assert (tmp_path / "plots" / "samples.png").exists()


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
    grads = jax.grad(lambda x: jnp.sum(fn(x)))(f)
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


@pytest.mark.parametrize("key,value,message", [
    ("gan.generator_loss", "wasserstein",
     r"config.gan.generator_loss='wasserstein' is not a generator loss; valid: "
     r"nonsaturating, minimax"),
    ("gan.d_steps", 0, r"config.gan.d_steps must be a positive integer, got 0"),
    ("gan.r1_weight", -1.0, r"config.gan.r1_weight must be a number >= 0 \(0: no penalty\), "
     r"got -1.0"),
    ("data.name", "spiral", r"config.data.name: unknown distribution 'spiral'; valid: "
     r"gaussian_ring"),
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
