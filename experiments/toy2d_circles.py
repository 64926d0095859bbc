"""MLP (2-32-32-C, ReLU) + softmax cross-entropy on the 2-D circles (two concentric circles; notes 003 homework)."""
from . import toy2d_moons

REPORT = dict(task="binary classification (2-D)", output="softmax", loss="softmax cross-entropy",
              model="MLP 2-32-32-C (ReLU)", data="circles (800 train / 200 test)",
              metric="test/accuracy", bar=">= 0.97")


def get_config():
  c = toy2d_moons.get_config()
  c.data.name = "circles"
  return c
