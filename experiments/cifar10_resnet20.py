"""ResNet-20 on CIFAR-10 from prepared TFDS data, He et al.'s recipe (needs the data; a GPU run).

Reads TFDS `cifar10` prepared as array_record from `data.data_dir` (or
$TFDS_DATA_DIR); nothing is downloaded. The recipe of He et al. (2016) for CIFAR:
SGD with momentum 0.9, learning rate 0.1, weight decay 1e-4 on the kernels
(`regularizer.l2 = 5e-5`: the gradient of l2 sum W^2 is 1e-4 W), batch 128, 64k
steps (~164 epochs), the rate divided by 10 at epochs 83 and 124 (steps 31,980 and
47,970 of 390 per epoch: the paper's 32k and 48k), and per-pixel standardization in
place of mean subtraction. Augmentation as the
paper's: pad 4 pixels, a random 32x32 crop and a random horizontal flip, on the
device inside the train step (`config.augment`). The paper reports 91.25%.
About 70 examples/s on a 2-core CPU: a GPU run.
"""
from . import _base

REPORT = dict(task="multiclass classification (real data)", output="softmax",
              loss="softmax_cross_entropy_with_integer_labels", model="resnet (resnet20)",
              data="TFDS cifar10 (prepared, 50k/10k)", metric="test/accuracy",
              bar="≥ 0.90 (He et al.: 0.9125)", needs_data="cifar10")


def get_config():
  c = _base.base_config()
  c.data.source = "tfds"
  c.data.name = "cifar10"
  c.data.standardize = True
  c.model = dict(name="resnet", num_outputs=10, arch="resnet20")
  c.loss = dict(name="softmax_cross_entropy_with_integer_labels")
  c.optimizer = dict(name="sgd", learning_rate=0.1, momentum=0.9)
  c.schedule = dict(name="staircase", boundaries=(83, 124), factor=0.1)
  c.regularizer.l2 = 5e-5
  c.augment = ({"name": "random_crop", "padding": 4}, {"name": "horizontal_flip"})
  c.num_steps = 64000
  c.batch_size = 128
  c.eval_batch_size = 1000
  c.log_every = 200
  c.eval_every = 4000
  c.checkpoint_every = 4000
  c.metrics = ("accuracy", "f1_macro")
  return c


def _smoke(c):
  # ResNet-8 (one block per stage): the same stem, stages, shortcuts, head and
  # augmentation as ResNet-20, a third of its layers to compile.
  c.model.stage_sizes = (1, 1, 1)


VARIANTS = {"smoke": _smoke}
