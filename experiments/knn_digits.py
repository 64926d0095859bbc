"""k-nearest neighbours on 8x8 digits, k chosen by cross-validation on the training split (notes 002)."""
from . import _base

REPORT = dict(task="multiclass classification (10 digits)", output="majority vote",
              loss="none (no training; test/loss is the 0-1 error)",
              model="kNN, k by 5-fold cross-validation", data="digits 8x8 (1437 / 360)",
              metric="test/accuracy", bar=">= 0.97")


def get_config():
  c = _base.common_config("knn")  # nn_lib/trainers/knn.py: no parameters, no steps
  c.data.name = "digits"
  c.knn = dict(k_grid=(1, 3, 5, 7, 9, 11, 15), num_folds=5, distance="l2")
  c.plots = ("confusion_matrix",)  # and plots/cv_accuracy.png, from the trainer
  return c


def _smoke(c):
  c.knn.k_grid = (1, 3)
  c.knn.num_folds = 2


VARIANTS = {"smoke": _smoke}
