"""MLP (2-32-32-C, ReLU) + softmax cross-entropy on the 2-D moons (two interleaving half-moons; notes 003 homework)."""
from . import _base

REPORT = dict(task="binary classification (2-D)", output="softmax", loss="softmax cross-entropy",
              model="MLP 2-32-32-C (ReLU)", data="moons (800 train / 200 test)",
              metric="test/accuracy", bar=">= 0.97")


def get_config():
  """Shared by the other toy2d experiments. Inputs stay in data coordinates (the
  generators' ranges are within about +-7), so plots/decision_boundary.png is
  drawn in the original plane."""
  c = _base.base_config()
  c.data.name = "moons"
  c.model = dict(name="mlp", num_outputs=2, hidden=(32, 32), activation="relu")
  c.loss = dict(name="softmax_cross_entropy_with_integer_labels")
  c.optimizer = dict(name="adam", learning_rate=1e-2)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 600
  c.batch_size = 64
  c.eval_batch_size = 200
  c.log_every = 50
  c.eval_every = 600
  c.checkpoint_every = 600
  c.keep_checkpoints = 1
  c.plots = ("decision_boundary",)
  return c
