"""Optimizer study (notes 004): SGD vs momentum vs RMSprop vs Adam, as the notes write them, same model and budget."""
from . import _base

REPORT = dict(task="study: optimization algorithms", output="softmax",
              loss="softmax cross-entropy", model="MLP 64-(128x4)-10, tanh",
              data="digits (8x8)", metric="adam/train/loss",
              bar="< sgd/train/loss after the same 300 steps",
              table=("train/loss", "test/accuracy"))

_RUNS = (
    ("sgd", dict(name="sgd", learning_rate=0.03)),
    # same rate as SGD: v is an average of gradients, not their sum (notes_optimizers)
    ("momentum", dict(name="notes_momentum", learning_rate=0.03, beta=0.9)),
    ("rmsprop", dict(name="notes_rmsprop", learning_rate=1e-3, beta=0.999)),
    ("adam", dict(name="notes_adam", learning_rate=1e-3, beta1=0.9, beta2=0.999)),
)


def get_config():
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  c.model = dict(name="mlp", num_outputs=10, depth=4, width=128, activation="tanh",
                 kernel_init="xavier")
  c.optimizer = dict(name="sgd", learning_rate=0.03)
  c.num_steps = 300
  c.batch_size = 32
  c.eval_batch_size = 360
  c.log_every = 10
  c.eval_every = 50
  c.checkpoint_every = 300
  c.study = "compare"
  c.compare = dict(runs=tuple((name, (("optimizer", opt),)) for name, opt in _RUNS),
                   panels=("train/loss", "test/accuracy"), log_y=("train/loss",),
                   title="same MLP, batch 32, 300 steps; learning rates per optimizer",
                   smooth=0.6)  # train curves as notes 004's moving average
  return c


VARIANTS = {"smoke": _base.only_runs("adam")}
