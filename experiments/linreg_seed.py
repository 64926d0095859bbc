"""Notes 001's 1-D regression (x=2,4,6,8 -> y=3,4,5,6) by full-batch gradient descent."""
from . import _base

# The notes' training data; the optimum is w = 0.5, b = 2.0.
X = [[2.0], [4.0], [6.0], [8.0]]
Y = [[3.0], [4.0], [5.0], [6.0]]

REPORT = dict(task="1-D regression (notes 001)", output="identity", loss="squared error",
              model="linear f = wx + b", data="4 points of notes 001",
              metric="test/mse", bar="<= 1e-6")


def get_config():
  c = _base.base_config()
  c.data.source = "inline"
  c.data.name = "notes001_points"
  c.data.inline = dict(train=dict(inputs=X, targets=Y), test=dict(inputs=X, targets=Y))
  c.model = dict(name="linear", num_outputs=1)
  c.loss = dict(name="squared_error")
  # The loss Hessian has eigenvalues of about 61.6 and 0.4, so plain gradient
  # descent is stable only for learning rates below 2 / 61.6; 0.03 converges to
  # 1e-6 in 3000 steps.
  c.optimizer = dict(name="sgd", learning_rate=0.03)
  c.num_steps = 3000
  c.batch_size = 4   # the full batch
  c.eval_batch_size = 4
  c.log_every = 250
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.metrics = ("mse",)
  return c
