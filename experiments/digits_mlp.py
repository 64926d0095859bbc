"""MLP + softmax cross-entropy on scikit-learn's 8x8 digits (the default experiment)."""
from . import _base

REPORT = dict(task="multiclass classification", output="softmax",
              loss="softmax cross-entropy", model="MLP 64-256-256-10, dropout 0.1",
              data="digits (8x8)", metric="test/accuracy", bar=">= 0.97")


def get_config():
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  c.model = dict(name="mlp", num_outputs=10, hidden=(256, 256), activation="relu",
                 dropout=0.1)
  c.loss = dict(name="softmax_cross_entropy_with_integer_labels")
  c.optimizer = dict(name="adam", learning_rate=1e-3)
  c.schedule = dict(name="cosine", warmup_steps=50)
  c.num_steps = 1500
  c.batch_size = 64
  c.eval_batch_size = 360
  c.log_every = 100
  c.eval_every = 500
  c.checkpoint_every = 500
  return c
