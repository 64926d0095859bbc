"""Batch-norm study (notes 004): a deep MLP with and without batch norm at a high learning rate."""
from . import _base

REPORT = dict(task="study: batch normalization", output="softmax",
              loss="softmax cross-entropy", model="MLP, 10 tanh layers of 64, SGD 2.0",
              data="digits (8x8)", metric="batch_norm/test/accuracy",
              bar="> plain/test/accuracy", table=("train/loss", "test/accuracy"))

_MODEL = dict(name="mlp", num_outputs=10, depth=10, width=64, activation="tanh",
              kernel_init="xavier")


def get_config():
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  c.model = dict(_MODEL)
  c.optimizer = dict(name="sgd", learning_rate=2.0)
  c.num_steps = 600
  c.batch_size = 64
  c.eval_batch_size = 360
  c.log_every = 20
  c.eval_every = 100
  c.checkpoint_every = 600
  c.study = "compare"
  c.compare = dict(runs=(("plain", ()),
                         ("batch_norm", (("model", dict(_MODEL, batch_norm=True)),))),
                   panels=("train/loss", "test/accuracy"), log_y=("train/loss",),
                   title="10 tanh layers, SGD at learning rate 2.0")
  return c


def _smoke(c):
  # batch norm's running averages (which evaluation uses) barely move in 6 steps,
  # so the smoke run trains the plain net, at a rate where 6 steps lower the loss
  _base.only_runs("plain")(c)
  c.optimizer.learning_rate = 0.1


VARIANTS = {"smoke": _smoke}
