"""Vector-to-vector regression (R^8 -> R^4), squared error vs Euclidean error with glitched targets (notes 000)."""
from . import _base

REPORT = dict(task="regression (vector -> vector)", output="identity",
              loss="squared error ||y - y^||^2 vs Euclidean error ||y - y^||",
              model="linear f = Wx + b (8 -> 4)",
              data="vector_regression: 800 train (10% glitched targets) / 200 clean test",
              metric="euclidean_error/test/euclidean",
              bar="below squared_error/test/euclidean (robust to the glitched 10%)")


def get_config():
  c = _base.base_config()
  c.data.name = "vector_regression"
  c.model = dict(name="linear", num_outputs=4)
  c.loss = dict(name="squared_error")
  # The same model trained once per loss (nn_lib/studies/compare.py): notes 000's squared
  # error is pulled towards the glitched targets, the Euclidean error much less.
  c.study = "compare"
  c.compare = dict(key="loss.name", choices=("squared_error", "euclidean_error"),
                   panels=("train/loss", "test/mse"), log_y=("test/mse",),
                   title="linear 8 -> 4, 10% of training targets glitched (+5 offset)")
  c.optimizer = dict(name="adam", learning_rate=1e-2)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 400  # both losses have converged by step 200
  c.batch_size = 80
  c.eval_batch_size = 200
  c.log_every = 25
  c.eval_every = 50
  c.checkpoint_every = 400
  c.keep_checkpoints = 1
  c.metrics = ("mse", "euclidean", "squared_euclidean")
  return c
