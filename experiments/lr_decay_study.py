"""Learning-rate decay study (notes 004): the notes' decay laws, counted in epochs, side by side."""
from . import _base

REPORT = dict(task="study: learning-rate decay", output="softmax",
              loss="softmax cross-entropy", model="MLP 64-256-256-10, SGD 0.3",
              data="digits (8x8), 22 steps per epoch", metric="inverse_time/test/accuracy",
              bar=">= 0.97 (every law; on digits a constant 0.3 does as well)",
              table=("train/loss", "test/accuracy", "train/learning_rate"))

_SCHEDULES = (
    ("constant", dict(name="constant")),
    ("inverse_time", dict(name="inverse_time", decay_rate=0.2)),   # 1/(1 + 0.2 epoch)
    ("exponential_epoch", dict(name="exponential_epoch", base=0.95)),  # 0.95^epoch
    ("inverse_sqrt", dict(name="inverse_sqrt", k=1.0)),           # k / sqrt(epoch)
    ("staircase", dict(name="staircase", boundaries=(10, 20, 30), factor=0.5)),
)


def get_config():
  c = _base.base_config()
  c.data.name = "digits"
  c.data.standardize = True
  c.model = dict(name="mlp", num_outputs=10, hidden=(256, 256), activation="relu")
  c.optimizer = dict(name="sgd", learning_rate=0.3)
  c.num_steps = 900   # 40 epochs of 22 batches
  c.batch_size = 64
  c.eval_batch_size = 360
  c.log_every = 22
  c.eval_every = 150
  c.checkpoint_every = 450
  c.study = "compare"
  c.compare = dict(runs=tuple((name, (("schedule", s),)) for name, s in _SCHEDULES),
                   panels=("train/learning_rate", "train/loss", "test/accuracy"),
                   log_y=("train/learning_rate", "train/loss"),
                   title="SGD 0.3 on digits, 40 epochs: the notes' decay laws")
  return c


VARIANTS = {"smoke": _base.only_runs("staircase")}
