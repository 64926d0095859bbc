"""MLP (2-32-32-C, ReLU) + softmax cross-entropy on the 2-D moons (two interleaving half-moons; notes 003 homework)."""
from experiments import _toy2d

REPORT = dict(task="binary classification (2-D)", output="softmax", loss="softmax cross-entropy",
              model="MLP 2-32-32-C (ReLU)", data="moons (800 train / 200 test)",
              metric="test/accuracy", bar=">= 0.97")

after_training = _toy2d.after_training  # plots/decision_boundary.png


def get_config(variant=None):
  return _toy2d.config("moons", variant)
