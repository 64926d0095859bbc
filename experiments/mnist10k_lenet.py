"""LeNet-5 on the 10,000 embedded MNIST digits (8,000 train / 2,000 test)."""
from . import _base

REPORT = dict(task="multiclass classification", output="softmax",
              loss="softmax cross-entropy", model="LeNet-5", data="mnist10k (28x28)",
              metric="test/accuracy", bar=">= 0.97")


def get_config():
  c = _base.base_config()
  c.data.name = "mnist10k"
  c.model = dict(name="lenet5", num_outputs=10, activation="relu", pooling="max")
  c.loss = dict(name="softmax_cross_entropy_with_integer_labels")
  c.optimizer = dict(name="adam", learning_rate=2e-3)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.num_steps = 2000
  c.batch_size = 64
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  return c
