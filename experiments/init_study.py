"""Initialization study (notes 004): zeros vs small random vs Xavier vs He on a deep ReLU MLP."""
from . import _base

# Zeros: every unit of a layer computes the same thing (here: nothing, ReLU(0) = 0),
# so no hidden weight ever gets a gradient: symmetry is never broken. N(0, 0.01^2)
# ("np.random.randn * 0.01") shrinks the signal at every one of the 10 layers.
# Xavier (Var W = 1/n) halves the variance per ReLU layer; He (Var W = 2/n) keeps it.
REPORT = dict(task="study: weight initialization", output="softmax",
              loss="softmax cross-entropy", model="MLP, 10 ReLU layers of 64, SGD",
              data="digits (8x8)", metric="zeros/test/accuracy",
              bar="<= 0.2 (chance 0.1): zeros never trains; he/train/loss below "
                  "xavier/train/loss",
              table=("train/loss", "test/accuracy"))


def get_config():
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  c.model = dict(name="mlp", num_outputs=10, depth=10, width=64, activation="relu",
                 kernel_init="he")
  c.optimizer = dict(name="sgd", learning_rate=0.02)
  c.num_steps = 1200
  c.batch_size = 64
  c.eval_batch_size = 360
  c.log_every = 50
  c.eval_every = 200
  c.checkpoint_every = 600
  c.study = "compare"  # nn_lib/studies/compare.py; plots/comparison.png
  c.compare = dict(key="model.kernel_init", choices=("zeros", "normal", "xavier", "he"),
                   panels=("train/loss", "test/accuracy"), log_y=("train/loss",),
                   title="deep ReLU MLP (10 x 64), SGD 0.02: normal = N(0, 0.01^2)")
  return c


VARIANTS = {"smoke": _base.only_runs("zeros", "he")}
