"""What every experiment config shares: defaults for each key, and the smoke variant."""
from __future__ import annotations

import ml_collections
from ml_collections import config_dict


def base_config() -> ml_collections.ConfigDict:
  """Every key a run reads, with defaults; experiments override what they vary."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.data = ml_collections.ConfigDict(dict(
      name="digits",
      train_split="train",
      test_split="test",
      dev_fraction=0.0,      # held out of train for a dev set (0 = none)
      split_seed=0,          # which rows go to dev
      standardize=False,     # zero-mean, unit-variance inputs (training statistics)
      data_dir=config_dict.placeholder(str),      # prepared TFDS data (or $TFDS_DATA_DIR)
      embedded_dir=config_dict.placeholder(str),  # embedded data (or $NN_LIB_DATA_DIR)
      input_key="image",
      target_key="label",
      input_max=config_dict.placeholder(float),   # inputs are divided by it
      # None, "is_class:K" (binary 0/1 float targets), "pm1_is_class:K" (+1/-1,
      # for the binary hinge), "one_hot", or "inputs" (autoencoders).
      target_transform=config_dict.placeholder(str),
  ))
  c.model = ml_collections.ConfigDict(dict(name="mlp", num_outputs=10))
  c.loss = ml_collections.ConfigDict(dict(name="softmax_cross_entropy_with_integer_labels"))
  c.optimizer = ml_collections.ConfigDict(dict(name="adam", learning_rate=1e-3))
  c.schedule = ml_collections.ConfigDict(dict(name="constant"))
  # Penalties on weight matrices/kernels (not biases): loss + l2 sum W^2 + l1 sum |W|;
  # max_norm > 0 projects each unit's incoming weights to norm <= max_norm.
  c.regularizer = ml_collections.ConfigDict(dict(l2=0.0, l1=0.0, max_norm=0.0))
  c.num_steps = 1000
  c.batch_size = 128
  c.eval_batch_size = 512
  c.log_every = 50
  c.eval_every = 500
  c.checkpoint_every = 500
  c.keep_checkpoints = 3
  c.metrics = ("accuracy",)
  c.eval_splits = ("test",)
  return c


def apply_variant(c: ml_collections.ConfigDict, variant: str | None) -> ml_collections.ConfigDict:
  """Applies a named variant; "smoke" is a few steps on a tiny batch."""
  if variant in (None, ""):
    return c
  if variant == "smoke":
    c.num_steps = 6
    c.batch_size = min(c.batch_size, 16)
    c.eval_batch_size = min(c.eval_batch_size, 64)
    c.log_every = 2
    c.eval_every = 6
    c.checkpoint_every = 3
    if c.schedule.get("warmup_steps"):
      c.schedule.warmup_steps = 1
    return c
  raise ValueError(f"unknown variant {variant!r}; valid: smoke")
