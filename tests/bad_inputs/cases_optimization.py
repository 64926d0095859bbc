"""Bad inputs: the optimization chapter's settings (rows of docs/bad-inputs.md):
notes optimizers, epoch schedules, early stopping, augmentation, regularizers."""
from __future__ import annotations

from typing import Any

import jax

import experiments
from nn_lib import config as config_lib
from nn_lib import models
from nn_lib.data import augment
from nn_lib.registry import ConfigError
from nn_lib.training import early_stopping, optim
from tests.bad_inputs._case import Case

OPT = "optimization"


def _cfg(updates: dict[str, Any]):
  return config_lib.derive(experiments.get_config("digits_mlp:smoke"), **updates)


def _mlp_with_dropout_per_layer() -> None:
  model = models.get("mlp", num_outputs=10, hidden=(64, 32), dropout=(0.1, 0.2, 0.5))
  model.init(jax.random.PRNGKey(0), jax.numpy.ones((1, 64)))


CASES: list[Case] = [
    Case(OPT, "`optimizer.beta=1.0` (notes_momentum)",
         lambda: optim.make_optimizer(_cfg({"optimizer": {
             "name": "notes_momentum", "learning_rate": 0.1, "beta": 1.0}})), ConfigError,
         "optimizer.beta=1.0 must be in [0, 1) (0.9 averages ~10 steps); set "
         "--config.optimizer.beta accordingly."),
    Case(OPT, "`schedule.name=inverse_time` outside a trainer (no epoch length)",
         lambda: optim.make_optimizer(_cfg({"schedule": {"name": "inverse_time"}})),
         ConfigError, "schedule 'inverse_time' counts epochs, so it needs steps_per_epoch"),
    Case(OPT, "`schedule.boundaries=(20, 10)` (staircase)",
         lambda: optim.make_optimizer(_cfg({"schedule": {
             "name": "staircase", "boundaries": (20, 10)}}), steps_per_epoch=10),
         ConfigError, "schedule.boundaries=(20, 10) must be increasing whole epoch "
         "numbers >= 2"),
    Case(OPT, "`early_stopping.metric=dev/accuracy` without a dev split",
         lambda: early_stopping.from_config(_cfg({"early_stopping.metric": "dev/accuracy"})),
         ConfigError, "config.early_stopping.metric='dev/accuracy' is not evaluated: it "
         "must be '<split>/<name>' with split in config.eval_splits ['test']"),
    Case(OPT, "`early_stopping.patience=0`",
         lambda: early_stopping.from_config(_cfg({"early_stopping.metric": "test/loss",
                                                  "early_stopping.patience": 0})),
         ConfigError, "config.early_stopping.patience=0 must be an integer >= 1"),
    Case(OPT, "`augment=({'name': 'rotate'},)` (unknown augmentation)",
         lambda: augment.from_config(({"name": "rotate"},)), ConfigError,
         "config.augment[0] {'name': 'rotate'}: unknown or missing augmentation name "
         "'rotate'; set 'name' to one of: gaussian_noise, horizontal_flip, random_crop, "
         "translate, mixup."),
    Case(OPT, "`augment=({'name': 'random_crop', 'padding': 4},)` on feature vectors",
         lambda: augment.check_inputs(({"name": "random_crop", "padding": 4},), (16, 64)),
         ConfigError, "config.augment[0] 'random_crop' needs B x H x W x C image inputs, "
         "but the inputs have shape (16, 64)"),
    Case(OPT, "`augment` with mixup before another op",
         lambda: augment.from_config(({"name": "mixup", "alpha": 0.2},
                                      {"name": "horizontal_flip"})), ConfigError,
         "move it to the end"),
    Case(OPT, "`regularizer.l3=0.1` (no such regularizer)",
         lambda: config_lib.validate_training(_cfg({"regularizer": {"l3": 0.1}})),
         ConfigError, "config.regularizer.l3 is not a regularizer; valid: l2, l1, "
         "max_norm, l2_lambda"),
    Case(OPT, "`model.dropout=(0.1, 0.2, 0.5)` for two hidden layers",
         _mlp_with_dropout_per_layer, ConfigError,
         "config.model.dropout lists 3 values for 2 hidden layers (64, 32)"),
]
