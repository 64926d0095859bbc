"""What every experiment config shares: defaults for each key, and the smoke variant."""
from __future__ import annotations

import ml_collections
from ml_collections import config_dict


def common_config(trainer: str) -> ml_collections.ConfigDict:
  """The keys every trainer reads: seed, data, what to evaluate and plot."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.trainer = trainer  # nn_lib.trainers.TRAINERS: "supervised", "knn", "gan", "nerf"
  c.data = ml_collections.ConfigDict(dict(
      source="embedded",     # "embedded", "tfds" (prepared data_dir), "npz", "inline"
      name="digits",         # embedded or TFDS dataset name
      path=config_dict.placeholder(str),          # the .npz file (source="npz")
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
      # A negative class label that marks examples to leave out of the loss (the
      # losses give negative labels loss 0); None refuses every negative label.
      ignore_label=config_dict.placeholder(int),
      # nn_lib.data.TARGET_TRANSFORMS: {"name": "is_class", "label": 3} (float 0/1
      # targets; "negative": -1.0 for the hinge), "one_hot", "inputs", "normalize".
      target_transform=ml_collections.ConfigDict(dict(name="none")),
  ))
  c.metrics = ("accuracy",)  # nn_lib.metrics.METRICS
  c.eval_splits = ("test",)
  c.plots = ()               # nn_lib.plots.PLOTS, drawn after training
  return c


def base_config() -> ml_collections.ConfigDict:
  """Every key the supervised trainer reads, with defaults."""
  c = common_config("supervised")
  c.model = ml_collections.ConfigDict(dict(name="mlp", num_outputs=10))
  c.loss = ml_collections.ConfigDict(dict(name="softmax_cross_entropy_with_integer_labels"))
  c.optimizer = ml_collections.ConfigDict(dict(name="adam", learning_rate=1e-3))
  c.schedule = ml_collections.ConfigDict(dict(name="constant"))
  # Penalties on weight matrices/kernels (not biases): loss + l2 sum W^2 + l1 sum |W|;
  # max_norm > 0 projects each unit's incoming weights to norm <= max_norm.
  # l2_lambda: notes 004's lambda/(2m) ||W||^2 (m = batch size).
  c.regularizer = ml_collections.ConfigDict(dict(l2=0.0, l1=0.0, max_norm=0.0,
                                                 l2_lambda=0.0))
  # Early stopping (notes 004): stop when `metric` ("split/name", "" = off) has not
  # improved for `patience` evaluations; the best one is kept in best_checkpoint/.
  c.early_stopping = ml_collections.ConfigDict(dict(metric="", mode="max", patience=5,
                                                    min_delta=0.0))
  c.num_steps = 1000
  c.batch_size = 128
  c.eval_batch_size = 512
  c.log_every = 50
  c.eval_every = 500
  c.checkpoint_every = 500
  c.keep_checkpoints = 3
  # Feeding the device (none of these changes the result, only the speed):
  c.steps_per_call = 1        # K steps per jitted call (lax.scan): one dispatch, not K
  c.prefetch = 2              # calls' batches placed ahead by a thread (accelerators)
  # "device": the training split placed on the devices once, batches gathered there;
  # "host": each batch cut and transferred; "auto": "device" on accelerators for a
  # split that fits in an eighth of each device's memory
  c.data_placement = "auto"
  # Scale-out (README "Many devices"): "jit" lets XLA place the collectives of a step
  # written for the whole batch; "explicit" writes it per device (shard_map + pmean).
  c.parallel = "jit"
  c.accumulate_steps = 1      # micro-batches per update (batch_size is their total)
  c.ema_decay = 0.0           # > 0: also evaluate a moving average of the parameters
  # Parameters, optimizer state and EMA over a (data, model) mesh: "replicated",
  # "fsdp" (large arrays split over data) or "rules" (regex on parameter paths ->
  # per-dimension mesh axes, e.g. ((r"Dense_\d+/kernel$", (None, "model")),)).
  c.sharding = ml_collections.ConfigDict(dict(model_axis=1, params="replicated",
                                              rules=()))
  # Logs the training split's loss at the initial parameters as "initial/loss"
  # (notes 002's sanity check: about ln C for softmax, C - 1 for the SVM).
  c.check_initial_loss = False
  # Data augmentation on the device inside the train step (nn_lib.data.augment), in
  # order, e.g. ({"name": "random_crop", "padding": 4}, {"name": "horizontal_flip"});
  # {"name": "mixup", "alpha": 0.2} last mixes pairs of examples and their losses.
  c.augment = ()
  return c


def smoke(c: ml_collections.ConfigDict) -> None:
  """The `smoke` variant of every experiment: a few steps on a tiny batch, reading
  (and evaluating) only the first examples of each TFDS split."""
  if "num_steps" not in c:
    return
  if c.data.source in ("embedded", "tfds"):
    c.data.train_split = _first(c.data.train_split, 2048)
    c.data.test_split = _first(c.data.test_split, 512)
  c.num_steps = 6
  c.batch_size = min(c.batch_size, 16)
  c.eval_batch_size = min(c.eval_batch_size, 64)
  c.log_every = 2
  c.eval_every = 6
  c.checkpoint_every = 3
  if c.schedule.get("warmup_steps"):
    c.schedule.warmup_steps = 1


def _first(split: str, n: int) -> str:
  """The TFDS split `split` cut to its first n examples (unless already sliced)."""
  return split if "[" in split else f"{split}[:{n}]"


def only_runs(*names: str):
  """A variant keeping only the named runs of a comparison study: its smoke
  variant runs the one or two that exercise what the study adds (the optimizer,
  the schedule, early stopping), at a fraction of the cost."""
  def variant(c: ml_collections.ConfigDict) -> None:
    if c.compare.get("runs"):
      c.compare.runs = tuple(run for run in c.compare.runs if run[0] in names)
    else:
      c.compare.choices = tuple(v for v in c.compare.choices if v in names)
  return variant
