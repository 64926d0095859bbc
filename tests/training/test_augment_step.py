"""Augmentation inside the train step: what the step trains on, mixup's loss, and
keys that leave dropout as it was."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import losses
from nn_lib import models
from nn_lib.data import augment as augment_lib
from nn_lib.registry import ConfigError
from nn_lib.training import objective
from nn_lib.training import step as step_lib
from tests.training.test_resume import assert_trees_equal

LOSS = objective.loss_from_config({"name": "softmax_cross_entropy_with_integer_labels"})


def _setup(dropout=0.0):
  model = models.get(name="mlp", num_outputs=3, hidden=(8,), dropout=dropout)
  tx = optax.sgd(0.1)
  images = jax.random.uniform(jax.random.PRNGKey(1), (6, 4, 4, 1))
  batch = {"inputs": images, "targets": jnp.array([0, 1, 2, 0, 1, 2])}
  state = step_lib.init_state(model, tx, 0, images[:1])
  return model, tx, state, batch


def _step(model, tx, augment=()):
  return jax.jit(step_lib.make_train_step(model, tx, LOSS, optax.constant_schedule(0.1),
                                          cfg_augment=augment))


def test_a_certain_flip_trains_on_the_flipped_images():
  model, tx, state, batch = _setup()
  flipped = {**batch, "inputs": batch["inputs"][:, :, ::-1]}
  ours, m_ours = _step(model, tx, ({"name": "horizontal_flip", "probability": 1.0},))(
      state, batch)
  ref, m_ref = _step(model, tx)(state, flipped)
  assert_trees_equal(ours["params"], ref["params"])
  assert float(m_ours["loss"]) == float(m_ref["loss"])
  assert float(m_ours["loss"]) != float(_step(model, tx)(state, batch)[1]["loss"])


def test_augmenting_with_nothing_keeps_the_dropout_masks():
  model, tx, state, batch = _setup(dropout=0.5)
  plain, _ = _step(model, tx)(state, batch)
  noiseless, _ = _step(model, tx, ({"name": "gaussian_noise", "std": 0.0},))(state, batch)
  assert_trees_equal(plain, noiseless)


def test_mixup_mixes_the_losses_of_both_targets():
  model, tx, state, batch = _setup()
  augment = ({"name": "mixup", "alpha": 0.4},)
  _, metrics = _step(model, tx, augment)(state, batch)
  # the step's key for mixup, as the step draws it (entry 0 of config.augment)
  rng = jax.random.fold_in(jax.random.fold_in(state["rng"], state["step"]),
                           step_lib._AUGMENT_STREAM)
  mixed, partner_B, lam = augment_lib.mixup(jax.random.fold_in(rng, 0), batch["inputs"],
                                            0.4)
  logits = model.apply({"params": state["params"]}, mixed)
  expected = (lam * LOSS(logits, batch["targets"])
              + (1 - lam) * LOSS(logits, batch["targets"][partner_B]))
  np.testing.assert_allclose(metrics["loss"], losses.reduce(expected), rtol=1e-6)
  assert 0.0 < float(lam) < 1.0 and sorted(np.asarray(partner_B)) == list(range(6))


def test_image_ops_on_feature_vectors_are_a_config_error():
  with pytest.raises(ConfigError, match=r"config.augment\[0\] 'random_crop' needs B x H x W"):
    augment_lib.check_inputs(({"name": "random_crop", "padding": 4},), (32, 64))
