"""Regularization study (notes 004): none vs L2 vs dropout vs early stopping on an over-fitting MLP."""
from . import _base

# 287 training examples (80% of digits' train split held out as dev) and a wide
# MLP trained long: the unregularized net fits the training set exactly and the
# dev loss climbs. Each remedy should shrink the train/dev gap.
REPORT = dict(task="study: regularization", output="softmax",
              loss="softmax cross-entropy", model="MLP 64-512-512-10, Adam",
              data="digits, 287 train / 1150 dev / 360 test", metric="l2/dev/loss",
              bar="< none/dev/loss (each remedy should lower the dev loss)",
              table=("train/loss", "train/accuracy", "dev/loss", "dev/accuracy",
                     "test/accuracy", "best/step"))

_MODEL = dict(name="mlp", num_outputs=10, hidden=(512, 512), activation="relu")


def get_config():
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  c.data.dev_fraction = 0.8
  c.model = dict(_MODEL)
  c.optimizer = dict(name="adam", learning_rate=1e-3)
  c.num_steps = 1500
  c.batch_size = 64
  c.eval_batch_size = 400
  c.log_every = 50
  c.eval_every = 50
  c.checkpoint_every = 500
  c.eval_splits = ("train", "dev", "test")
  c.study = "compare"
  c.compare = dict(
      runs=(("none", ()),
            ("l2", (("regularizer.l2_lambda", 0.3),)),   # lambda/(2m) ||W||^2, m = 64
            ("dropout", (("model", dict(_MODEL, dropout=0.5)),)),
            ("early_stopping", (("early_stopping", dict(metric="dev/loss", mode="min",
                                                        patience=4, min_delta=0.0)),))),
      panels=("train/loss", "dev/loss", "dev/accuracy"), log_y=("train/loss",),
      title="287 training examples, MLP 512-512, Adam 1e-3")
  return c


VARIANTS = {"smoke": _base.only_runs("early_stopping")}
