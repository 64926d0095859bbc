"""LeNet-5 on the full MNIST (60,000 / 10,000) from prepared TFDS data (needs the data).

Reads TFDS `mnist` prepared as array_record from `data.data_dir` (or $TFDS_DATA_DIR,
default ~/tensorflow_datasets; the README says how to prepare it); nothing is
downloaded. The same network and recipe as mnist10k_lenet, with 6.4 epochs of the
full set.
"""
from . import mnist10k_lenet

REPORT = dict(task="multiclass classification (real data)", output="softmax",
              loss="softmax_cross_entropy_with_integer_labels", model="lenet5",
              data="TFDS mnist (prepared, 60k/10k)", metric="test/accuracy", bar="≥ 0.99",
              needs_data="mnist")


def get_config():
  c = mnist10k_lenet.get_config()
  c.data.source = "tfds"
  c.data.name = "mnist"
  c.num_steps = 3000   # batch 128: 6.4 epochs
  c.batch_size = 128
  c.eval_batch_size = 1000
  c.metrics = ("accuracy", "f1_macro")
  return c
