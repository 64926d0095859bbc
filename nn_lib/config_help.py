"""The keys of an experiment config: their dotted names and what each one means,
for `train.py --show_config`."""

from __future__ import annotations

from typing import Any

# Keys that were renamed, with what replaced them: the error a config or a
# `--config.KEY` flag that still uses one gets.
RENAMED_KEYS: dict[str, str] = {
  "data_on_device": "config.data_on_device is now config.data_placement: 'device' "
  "(was True), 'host' (was False) or 'auto' (the default: on the devices where the "
  "split fits)",
}

# What each config key means, for `train.py --show_config` (one place; a key not
# listed is shown with its value only). Model, loss and optimizer keys other than
# these are the keyword arguments of the named model, loss or optax optimizer.
KEY_HELP: dict[str, str] = {
  "seed": "seeds initialization, batch order and dropout",
  "trainer": "how to train: supervised (gradient steps), knn, gan (two players), nerf "
  "(rays), charlm (streams), seq2seq, ctc or word_vectors (nn_lib.trainers)",
  "study": "optional: train several variations and compare them",
  "compare.key": "the dotted config key a comparison study varies",
  "compare.choices": "the values the study gives compare.key, one run each",
  "compare.runs": "named runs, each a sequence of (dotted key, value) pairs",
  "data.source": "where examples come from: embedded, tfds (prepared data_dir), npz, inline",
  "data.name": "embedded or TFDS dataset name",
  "data.path": "the .npz file (source=npz) with x_train, y_train, x_test, y_test",
  "data.train_split": "the source's split to train on",
  "data.test_split": "the source's split to test on",
  "data.dev_fraction": "fraction of train held out as a dev split (0 = none)",
  "data.split_seed": "which training rows go to the dev split",
  "data.standardize": "zero-mean, unit-variance inputs (training statistics)",
  "data.data_dir": "prepared TFDS data (default $TFDS_DATA_DIR)",
  "data.embedded_dir": "where embedded datasets are prepared (default $NN_LIB_DATA_DIR)",
  "data.input_key": "the TFDS feature used as input",
  "data.target_key": "the TFDS feature used as target",
  "data.input_max": "inputs are divided by it (default 255 for uint8, else 1)",
  "data.ignore_label": "a negative class label whose rows are left out of training "
  "and evaluation (None refuses negative labels)",
  "data.target_transform.name": "re-targets the data: none, is_class, one_hot, inputs, normalize",
  "data.target_transform.label": "the class that is positive (is_class)",
  "data.target_transform.negative": "the target of the other classes (is_class)",
  "data.target_transform.num_classes": "width of the one-hot targets (one_hot)",
  "data.inline": "the examples themselves, per split (source=inline)",
  "data.train_classes": "optional: the class labels the train (and dev) split keeps, "
  "e.g. (0, 1, 2, 3, 4, 5, 6); unset = all",
  "data.test_classes": "optional: the class labels the test split keeps (classes "
  "held out of training, for verification); unset = all",
  "model.name": "the model (nn_lib.models.MODELS); other model.* keys are its arguments",
  "model.num_outputs": "output width: classes (softmax), 1 (sigmoid), target size",
  "model.hidden": "hidden layer widths, input to output",
  "model.activation": "hidden activation (relu, tanh, sigmoid, ...)",
  "model.dropout": "dropout rate of hidden units (0 = none)",
  "model.batch_norm": "batch normalization after each hidden layer",
  "model.kernel_init": "weight initialization (he, lecun, xavier, zeros, ...)",
  "model.depth": "number of hidden layers (overrides hidden)",
  "model.width": "units per hidden layer (overrides hidden)",
  "model.num_freqs": "positional encoding of the inputs (mlp): L frequencies "
  "2^0 pi ... 2^(L-1) pi of NeRF's gamma (0 = none)",
  "model.output_activation": "applied to the outputs (identity = logits, sigmoid, ...)",
  "model.widths": "channels (or units) per stage",
  "model.arch": "a named architecture (e.g. resnet20)",
  "model.latent_dim": "size of the code / latent vector",
  "model.pooling": "pooling layer: max or avg",
  "loss.name": "the loss (losses.LOSSES); other loss.* keys are its hyperparameters",
  "loss.margin": "the hinge / ranking margin",
  "optimizer.name": "any optax optimizer by name (adam, sgd, ...), or notes 004's "
  "notes_momentum, notes_rmsprop, notes_adam",
  "optimizer.learning_rate": "the peak step size (positive, finite in float32)",
  "optimizer.momentum": "momentum of sgd",
  "optimizer.clip_norm": "clips the gradient's global norm (None = no clipping)",
  "schedule.name": "learning-rate schedule: constant, cosine, exponential, linear; per "
  "epoch: inverse_time, exponential_epoch, inverse_sqrt, staircase",
  "schedule.warmup_steps": "steps of linear warmup before the schedule",
  "regularizer.l2": "adds l2 * sum W^2 over weight matrices (not biases)",
  "regularizer.l1": "adds l1 * sum |W| over weight matrices",
  "regularizer.max_norm": "caps each unit's incoming weight norm (0 = off)",
  "regularizer.l2_lambda": "notes 004's L2: adds lambda/(2m) sum W^2, m = batch size "
  "(= optax.add_decayed_weights(lambda/m))",
  "augment": "data augmentation in the train step: ({'name': 'random_crop', "
  "'padding': 4}, {'name': 'horizontal_flip'}, ...); names: random_crop, "
  "translate, horizontal_flip, gaussian_noise, mixup (last)",
  "early_stopping.metric": "'split/name' to stop on (e.g. dev/accuracy; '' = off); "
  "the best evaluation is kept in best_checkpoint/",
  "early_stopping.mode": "max (accuracy-like) or min (loss-like)",
  "early_stopping.patience": "evaluations without improvement before stopping",
  "early_stopping.min_delta": "how much better than the best counts as improvement",
  "model.dtype": "computation dtype: float32, or bfloat16 for mixed precision "
  "(parameters stay float32; the loss is computed in float32)",
  "model.param_dtype": "dtype parameters are stored in (float32)",
  "steps_per_call": "training steps per jitted call (lax.scan over stacked batches); "
  "cadences stay exact, results identical; for small dense models "
  "(conv nets run slower inside the scan on the CPU)",
  "prefetch": "calls whose batches a background thread prepares and places ahead on "
  "accelerators (0 = none; a CPU needs none)",
  "data_placement": "device (the training split kept on the devices, each batch "
  "gathered there), host (each batch cut and transferred) or auto (device on "
  "accelerators when the split fits in 1/8 of a device's memory)",
  "parallel": "jit (XLA places the collectives) or explicit (the step per device: "
  "shard_map + pmean of the gradients)",
  "accumulate_steps": "micro-batches per update, gradients averaged (batch_size is their total)",
  "ema_decay": "> 0: keep params_ema = d*params_ema + (1-d)*params and evaluate it as <split>_ema",
  "sharding.model_axis": "devices on the mesh's model axis; the rest form data",
  "sharding.params": "replicated, fsdp (large arrays split over data) or rules",
  "sharding.rules": "(regex on parameter path, per-dimension mesh axes) pairs; the "
  "first match applies (sharding.params=rules)",
  "num_steps": "training steps (batches)",
  "batch_size": "examples per training step (a multiple of the devices)",
  "eval_batch_size": "examples per evaluation batch (padded to the devices)",
  "log_every": "steps between logged training metrics",
  "eval_every": "steps between evaluations of eval_splits",
  "checkpoint_every": "steps between checkpoints",
  "keep_checkpoints": "how many recent checkpoints to keep",
  "check_initial_loss": "logs the loss at the initial weights (notes 002's check)",
  "metrics": "metrics by name (nn_lib.metrics.METRICS), on every eval split",
  "eval_splits": "splits evaluated: train, dev, test",
  "plots": "plots drawn after training (nn_lib.plots.PLOTS)",
  "knn.k_grid": "the k values cross-validated",
  "knn.num_folds": "cross-validation folds",
  "knn.distance": "the distance: l1 or l2",
  "lm.bptt": "characters backpropagated through per window (truncated BPTT)",
  "lm.sample.num_chars": "characters sampled after training into sample.txt",
  "lm.sample.temperature": "sampling temperature (0: argmax)",
  "lm.sample.top_k": "sample among the k most likely characters (0: all)",
  "lm.sample.seed": "the sampling's random seed",
  "lm.sample.prompt_chars": "dev-text characters that prime the sample",
  "lm.sample.prompt_start": "where in the dev text the prompt starts",
  "seq2seq.beam_width": "beam search's width B (1: greedy decoding)",
  "seq2seq.alpha": "beam search's length normalisation 1/T_y^alpha (0: none)",
  "seq2seq.num_examples": "decoded test pairs written to examples.txt",
  "seq2seq.plot_examples": "of them, attention heat maps in plots/attention.png",
  "ctc.beam_width": "prefixes kept by the CTC prefix beam search",
  "ctc.beam_splits": "eval splits also decoded by prefix beam search (host)",
  "ctc.beam_strips": "of their strips, how many (0: all)",
  "ctc.plot_strips": "test strips drawn in plots/ctc_strips.png",
  "embeddings.method": "sgns (skip-gram, negative sampling) or glove",
  "embeddings.vocab_size": "the most frequent words kept",
  "embeddings.min_count": "... that occur at least this often",
  "embeddings.dim": "word-vector dimension",
  "embeddings.window": "context words on each side of a centre word",
  "embeddings.subsample": "sgns: frequent-word subsampling threshold t",
  "embeddings.num_negatives": "sgns: negative words per (centre, context) pair",
  "embeddings.neg_power": "sgns: negatives drawn from unigram counts to this power",
  "embeddings.x_max": "glove: f(X) = min(1, (X / x_max)^alpha)",
  "embeddings.alpha": "glove: the weighting function's exponent",
  "embeddings.analogies": "the analogy questions (a file in nn_lib/data/assets)",
  "embeddings.neighbours": "words whose nearest neighbours are logged",
  "embeddings.num_neighbours": "neighbours listed per word",
  "embeddings.pca_pairs": "word pairs drawn in plots/pca.png",
}


def flatten_keys(d: Any, prefix: str = "") -> dict[str, Any]:
  """{"a": {"b": 1}} -> {"a.b": 1}: a nested config as its dotted keys."""
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(flatten_keys(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def describe(cfg: Any) -> str:
  """Every key of `cfg`, one per line: `key = value` and its meaning (KEY_HELP)."""
  flat = flatten_keys(cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg))
  lines = [(f"{key} = {value!r}", KEY_HELP.get(key, "")) for key, value in flat.items()]
  width = min(48, max(len(text) for text, _ in lines))
  return "\n".join(f"{text:<{width}}  # {meaning}" if meaning else text for text, meaning in lines)
