"""Linear classifier f = Wx + b + softmax cross-entropy on 8x8 digits; initial-loss check, templates."""
from . import _base

REPORT = dict(task="multiclass classification (10 digits)", output="softmax",
              loss="softmax cross-entropy", model="linear f = Wx + b (64 -> 10)",
              data="digits 8x8 (1437 train / 360 test), standardized",
              metric="test/accuracy", bar=">= 0.95; initial loss about ln 10 = 2.303")


def get_config():
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  # "normal" is N(0, 0.01^2) (notes 002's W = 0.01 * randn): scores start near 0,
  # which is what the initial-loss sanity check assumes.
  c.model = dict(name="linear", num_outputs=10, kernel_init="normal")
  c.loss = dict(name="softmax_cross_entropy_with_integer_labels")
  c.optimizer = dict(name="adam", learning_rate=1e-2)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 600
  c.batch_size = 128
  c.eval_batch_size = 360
  c.log_every = 50
  c.eval_every = 600
  c.checkpoint_every = 600
  c.keep_checkpoints = 1
  c.check_initial_loss = True  # summary: initial/loss, notes 002 expects ln 10
  c.plots = ("weight_templates", "confusion_matrix")
  return c
