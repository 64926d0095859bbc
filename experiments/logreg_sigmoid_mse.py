"""Sigmoid + MSE on "is it a 3?" from a saturated start: the paralysis, next to sigmoid + BCE (notes 000, 003)."""
from . import logreg_binary

REPORT = dict(task="binary classification (is it a 3?)", output="sigmoid",
              loss="squared error on the sigmoid (counter-example)",
              model="linear f = w.x + b (64 -> 1), saturated start",
              data="digits 8x8 (1437 / 360), target is_class 3, standardized",
              metric="sigmoid_squared_error/test/binary_accuracy",
              bar="< 0.9, far below sigmoid_binary_cross_entropy/test/binary_accuracy "
                  "(>= 0.96) after the same steps")


def get_config():
  # Exactly logreg_binary's model, data, initialization and optimizer, trained once
  # with (sigma(z) - t)^2, whose gradient 2 (sigma - t) sigma (1 - sigma) vanishes
  # where the sigmoid saturates, right or wrong (notes 003), and once with BCE.
  c = logreg_binary.get_config()
  c.loss.name = "sigmoid_squared_error"
  c.study = "compare"  # nn_lib/studies/compare.py; plots/comparison.png
  c.compare = dict(key="loss.name",
                   choices=("sigmoid_squared_error", "sigmoid_binary_cross_entropy"),
                   panels=("train/loss", "train/grad_norm", "test/binary_accuracy"),
                   log_y=("train/loss", "train/grad_norm"),
                   title="same saturated start (init_std = 3), same SGD steps")
  return c
