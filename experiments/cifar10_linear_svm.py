"""Linear multiclass SVM (Weston-Watkins + L2) on CIFAR-10 pixels, prepared TFDS data (notes 002).

Notes 002's linear classifier f = Wx + b on the 3,072 standardized pixels with the
Weston-Watkins multiclass hinge sum_{j != y} max(0, s_j - s_y + 1) and an L2 penalty
on W; plots/weight_templates.png shows the ten rows of W as images (notes 002's
"template matching" view). Reads TFDS `cifar10` prepared as array_record from
`data.data_dir` (or $TFDS_DATA_DIR).
"""
from . import _base

REPORT = dict(task="multiclass classification (real data)", output="scores (identity)",
              loss="multiclass_hinge (Weston-Watkins) + L2", model="linear",
              data="TFDS cifar10 (prepared, 50k/10k)", metric="test/accuracy",
              bar="≥ 0.35", needs_data="cifar10")


def get_config():
  c = _base.base_config()
  c.data.source = "tfds"
  c.data.name = "cifar10"
  c.data.standardize = True
  c.data.class_names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                        "horse", "ship", "truck")
  c.model = dict(name="linear", num_outputs=10)
  c.loss = dict(name="multiclass_hinge", margin=1.0)
  c.optimizer = dict(name="sgd", learning_rate=1e-4, momentum=0.9)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.regularizer.l2 = 5e-3
  c.num_steps = 4000   # batch 256: ~20 epochs
  c.batch_size = 256
  c.eval_batch_size = 1000
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.metrics = ("accuracy", "f1_macro")
  c.plots = ("weight_templates",)
  return c
