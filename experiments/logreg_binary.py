"""Logistic regression (sigmoid + BCE) for "is it a 3?" on 8x8 digits, from a saturated start (notes 000, 003)."""
from . import _base

REPORT = dict(task="binary classification (is it a 3?)", output="sigmoid",
              loss="binary cross-entropy", model="linear f = w.x + b (64 -> 1), saturated start",
              data="digits 8x8 (1437 / 360), target is_class 3, standardized",
              metric="test/binary_accuracy",
              bar=">= 0.96 despite the saturated start (always 'no' scores 0.89)")


def get_config():
  """Shared with logreg_sigmoid_mse, which compares losses on it."""
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  c.data.target_transform = dict(name="is_class", label=3)  # float 0/1 targets, B x 1
  c.model = dict(name="linear", num_outputs=1, init_std=3.0)
  c.loss = dict(name="sigmoid_binary_cross_entropy")
  # Plain SGD, as in the notes: Adam would rescale the vanishing sigmoid-MSE
  # gradients back up and hide the paralysis. (From a small start, init_std=0.01,
  # BCE and MSE both reach about 0.98: the paralysis comes from the saturation.)
  c.optimizer = dict(name="sgd", learning_rate=0.5)
  c.num_steps = 400
  c.batch_size = 128
  c.eval_batch_size = 360
  c.log_every = 10
  c.eval_every = 50
  c.checkpoint_every = 400
  c.keep_checkpoints = 1
  c.metrics = ("binary_accuracy",)
  c.plots = ("weight_templates",)  # the learned "3" detector w as an 8 x 8 image
  return c
