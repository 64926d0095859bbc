"""LeNet-5 on the full MNIST (60,000 / 10,000) from prepared TFDS data (needs the data).

Reads TFDS `mnist` prepared as array_record from `data.data_dir` (or $TFDS_DATA_DIR,
default ~/tensorflow_datasets; the README says how to prepare it); nothing is
downloaded. The smoke variant runs on TFDS mock data (experiments/_real_data.py).
The same network and recipe as mnist10k_lenet, with 6.4 epochs of the full set.
"""
from experiments import _base, _real_data

REPORT = dict(task="multiclass classification (real data)", output="softmax",
              loss="softmax_cross_entropy_with_integer_labels", model="lenet5",
              data="TFDS mnist (prepared, 60k/10k)", metric="test/accuracy", bar="≥ 0.99",
              needs_data="mnist")
run = _real_data.run


def get_config(variant=None):
  c = _base.base_config()
  c.data.name = "mnist"
  c.model = dict(name="lenet5", num_classes=10, activation="relu", pooling="max")
  c.loss = dict(name="softmax_cross_entropy_with_integer_labels")
  c.optimizer = dict(name="adam", learning_rate=2e-3)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.num_steps = 3000   # batch 128: 6.4 epochs
  c.batch_size = 128
  c.eval_batch_size = 1000
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.metrics = ("accuracy", "f1_macro")
  return _real_data.finish(c, variant)
