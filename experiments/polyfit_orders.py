"""Polynomial regression of orders 1, 2, 3, 4, 12 by gradient descent: under- vs over-fitting (notes 001)."""
from . import _base

REPORT = dict(task="regression (scalar -> scalar)", output="identity",
              loss="squared error", model="polynomial of order 1, 2, 3, 4, 12",
              data="polyfit: sin(pi x) + noise, 15 train / 1000 test points",
              metric="best_test_order",
              bar="3 or 4 (lowest test error), while order 12 has the lowest train error")


def get_config():
  c = _base.base_config()
  c.data.name = "polyfit"
  c.study = "polyfit_orders"  # nn_lib/studies/polyfit.py: one run per order, table and plot
  c.orders = (1, 2, 3, 4, 12)  # model.order is set per run
  c.model = dict(name="polynomial", order=12, kernel_init="zeros")
  c.loss = dict(name="squared_error")
  # Full-batch Adam with a cosine decay: 1,000 steps reach the closed-form
  # least-squares fit of every order to float32 precision (the table's last
  # columns show the closed-form errors next to gradient descent's).
  c.optimizer = dict(name="adam", learning_rate=0.05)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 1000
  c.batch_size = 15  # the whole training split
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.keep_checkpoints = 1
  c.metrics = ("mse",)
  return c


def _smoke(c):
  c.orders = (3, 12)  # each order is a whole run; two exercise the study


VARIANTS = {"smoke": _smoke}
