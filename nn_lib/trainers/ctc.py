"""The CTC trainer (notes 004 "CTC cost for speech recognition", "Bidirectional RNN";
Graves et al. 2006): a model that emits per-frame logits z_BxTxV over the symbols and
a "blank" reads unsegmented inputs (data.name="digit_strips": strips of 3-6 digits)
and is trained on their label strings alone,

  loss = mean over the batch of -log P(l | x),
  P(l | x) = sum over paths pi with B(pi) = l of prod_t softmax(z<t>)_{pi<t>},

B collapsing repeats not separated by a blank and then dropping the blanks
(losses.ctc). Labels: the strips' digits 0..9 are the symbols 0..9 and the blank is
symbol 10, the strips' padding label (digit_strips.PAD, never a digit), so a label row
[3, 5, 5, 10, 10, 10] is the string "355" and the model has V = 11 outputs.

Why not the supervised trainer: its loss maps (outputs, targets) per example and its
metrics are jitted per-batch means; here the targets are strings of varying length
and the metrics compare decoded strings, one of the decoders a host-side search.

Evaluation of each of eval_splits, over every strip of the split:
  {split}/loss                mean -log P(l | x)
  {split}/seq_accuracy, cer   best-path decoding (argmax per frame, collapse, drop
                              blanks; nn_lib.decoding.ctc_best_path, jitted)
  {split}/seq_accuracy_beam,  prefix beam search (ctc_prefix_beam_search, host numpy,
          cer_beam            ctc.beam_width prefixes), for the splits in
                              ctc.beam_splits, on their first ctc.beam_strips strips
                              (0: all)
seq_accuracy: the fraction of strips read exactly; cer: edit distance / reference
length, both summed over the split (nn_lib.metrics.sequence). After training,
plots/ctc_strips.png shows ctc.plot_strips test strips with their per-frame argmax
and both decodings.

The state {step, params, opt_state} is checkpointed; step s trains on batch s mod
(N // batch_size) of a permutation of the training strips drawn from (seed, epoch),
so a resumed run is the uninterrupted one. Config: data (digit_strips-like: images
and PAD-padded label rows), model (a registered model giving B x T x V logits, e.g.
crnn; num_outputs is set to V = 11), optimizer (optional clip_norm), schedule,
augment (input-only ops that keep a strip's reading: translate, random_crop,
gaussian_noise; each step's draw is a function of (seed, step) too),
ctc.{beam_width, beam_splits, beam_strips, plot_strips}, eval_splits, num_steps,
batch_size, eval_batch_size, log_every, eval_every, checkpoint_every,
keep_checkpoints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

import losses
from nn_lib import config as config_lib
from nn_lib import data as data_lib
from nn_lib import models, plots, writers
from nn_lib.data import augment as augment_lib
from nn_lib.data import digit_strips
from nn_lib.decoding.ctc import ctc_best_path, ctc_prefix_beam_search
from nn_lib.metrics import sequence
from nn_lib.plots import ctc as ctc_plot
from nn_lib.registry import ConfigError
from nn_lib.trainers import chunks
from nn_lib.training import optim
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.result import Result

BLANK = digit_strips.PAD  # 10: the strips' padding label is never a digit
V = BLANK + 1  # digits 0..9 and the blank


SEQUENCE_SAFE_AUGMENTATIONS = ("translate", "random_crop", "gaussian_noise")


def validate(cfg: Any) -> None:
  """Every key the ctc trainer reads, with an error naming the key."""
  config_lib.validate_common(cfg)
  chunks.check_loop_keys(cfg, "ctc", ("model", "optimizer", "schedule", "ctc"))
  chunks.need(bool(cfg.model.get("name")), "model.name", cfg.model.get("name"), "is not set")
  chunks.need(
    cfg.model.get("num_outputs", V) == V,
    "model.num_outputs",
    cfg.model.get("num_outputs"),
    f"the ctc trainer reads {V} outputs per frame (digits 0..9, blank {BLANK}); leave it unset",
  )
  chunks.check_optimizer(cfg)
  # A strip's label sequence survives small shifts and noise; a flip reverses its
  # reading order and mixup blends two sequences.
  for entry in cfg.get("augment", ()):
    name = dict(entry).get("name")
    chunks.need(
      name in SEQUENCE_SAFE_AUGMENTATIONS,
      "augment",
      cfg.augment,
      f"{name!r} changes what a strip reads; use {', '.join(SEQUENCE_SAFE_AUGMENTATIONS)}",
    )
  augment_lib.from_config(cfg.get("augment", ()))  # checks every entry's arguments
  c = cfg.ctc
  chunks.need(
    chunks.positive_int(c.get("beam_width")),
    "ctc.beam_width",
    c.get("beam_width"),
    "must be a positive integer (prefixes kept by the beam search)",
  )
  beam_splits = c.get("beam_splits")
  chunks.need(
    isinstance(beam_splits, (tuple, list)) and set(beam_splits) <= set(cfg.eval_splits),
    "ctc.beam_splits",
    beam_splits,
    f"must name evaluated splits only (config.eval_splits={tuple(cfg.eval_splits)})",
  )
  for key in ("beam_strips", "plot_strips"):
    v = c.get(key)
    chunks.need(
      isinstance(v, int) and not isinstance(v, bool) and v >= 0,
      f"ctc.{key}",
      v,
      "must be an integer >= 0 (beam_strips 0: all; plot_strips 0: no plot)",
    )


def check_labels(raw_NxL: np.ndarray, split: str, data_name: str) -> np.ndarray:
  """The targets as int32 label rows (embedded data may come back as float32): digits
  0..9, then PAD only; else a ConfigError naming the split."""
  raw_NxL = np.asarray(raw_NxL)
  targets = raw_NxL.astype(np.int32)
  if (
    raw_NxL.ndim != 2
    or not np.array_equal(raw_NxL, targets)
    or targets.min() < 0
    or targets.max() > BLANK
  ):
    raise ConfigError(
      f"config.data.name={data_name!r}: the ctc trainer reads label rows "
      f"of digits 0..9 padded with {BLANK} (e.g. 'digit_strips'); the "
      f"{split} split's targets are {raw_NxL.dtype} of shape "
      f"{raw_NxL.shape} with values {raw_NxL.min()}..{raw_NxL.max()}"
    )
  is_pad = targets == BLANK
  bad = np.flatnonzero(np.any(is_pad[:, :-1] & ~is_pad[:, 1:], axis=1))
  if bad.size:
    raise ConfigError(
      f"config.data.name={data_name!r}: {split} label row {bad[0]} "
      f"{targets[bad[0]].tolist()} has a digit after the padding {BLANK}; "
      "the padding must be trailing"
    )
  return targets


def load(cfg: Any) -> dict[str, dict[str, np.ndarray]]:
  """The splits as {inputs NxHxWxC float32, targets NxL int32 (PAD-padded), lengths N}."""
  out = {}
  for name, split in data_lib.load(cfg.data).items():
    targets = check_labels(split["targets"], name, cfg.data.name)
    out[name] = {
      "inputs": np.asarray(split["inputs"], np.float32),
      "targets": targets,
      "lengths": np.sum(targets != BLANK, axis=1).astype(np.int32),
    }
  return out


def ctc_labels(targets_BxL: jax.Array) -> jax.Array:
  """PAD-padded rows -> losses.ctc's convention (trailing negative = padding)."""
  return jnp.where(targets_BxL == BLANK, -1, targets_BxL)


def build_model(cfg: Any):
  kw = dict(cfg.model)
  return models.get(kw.pop("name"), **{**kw, "num_outputs": V})


def check_frames(model, params, splits: dict, cfg: Any) -> int:
  """T, the model's frames for the strips; CTC needs T >= 2 L - 1 for L labels with
  repeats ("55" needs a blank between), so a ConfigError when the longest does not fit."""
  x = splits["train"]["inputs"][:1]
  shape = jax.eval_shape(lambda p: model.apply({"params": p}, x), params).shape
  if len(shape) != 3 or shape[-1] != V:
    raise ConfigError(
      f"config.model.name={cfg.model.name!r} gives outputs of shape "
      f"{shape}; the ctc trainer needs per-frame logits B x T x {V}"
    )
  longest = max(int(s["lengths"].max()) for s in splits.values())
  if shape[1] < 2 * longest - 1:
    raise ConfigError(
      f"config.model: {shape[1]} frames cannot emit {longest} labels "
      f"with repeats (CTC needs 2 L - 1 = {2 * longest - 1}); downsample "
      f"the width less (e.g. smaller model.width_strides)"
    )
  return shape[1]


def init_state(cfg: Any, model, tx, x_1xHxWxC: np.ndarray) -> dict:
  """{step 0, params, opt_state}. The initial parameters are drawn with XLA's "rbg"
  generator, still a pure function of the seed: compiling the two LSTM cells'
  initializers through the default threefry took 20 s on the (loaded) 2-core CPU,
  rbg 5 s. (rbg's draws may differ between backends; a run's checkpoints do not.)"""

  def init():
    key = jax.random.key(cfg.seed, impl="rbg")
    params = model.init(key, jnp.asarray(x_1xHxWxC))["params"]
    return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": tx.init(params)}

  return jax.jit(init)()


def make_train_chunk(cfg: Any, model, tx, n: int):
  """jit(state, k, x_NxHxWxC, targets_NxL) -> (state after k steps, summed loss,
  summed gradient norm)."""
  dropout_key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 1)  # apart from init's

  augment = augment_lib.from_config(cfg.get("augment", ()))

  def loss_fn(params, x, targets, key):
    if augment is not None:  # its own key, apart from dropout's
      x = augment(jax.random.fold_in(key, 1), x)
    logits_BxTxV = model.apply({"params": params}, x, train=True, rngs={"dropout": key})
    return jnp.mean(losses.ctc(logits_BxTxV, ctc_labels(targets), blank_id=BLANK))

  rows_key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 2)

  def batch_at(step, x_all, t_all):
    rows = chunks.epoch_rows(rows_key, step, n, cfg.batch_size)
    return x_all[rows], t_all[rows]

  return chunks.jit_gradient_steps(loss_fn, tx, dropout_key, batch_at)


def make_eval_batch(model):
  """jit(params, x_BxHxWxC, targets_BxL) -> (logits, -log P(l | x) per strip,
  best-path labels B x T, their lengths)."""

  @jax.jit
  def eval_batch(params, x, targets):
    logits_BxTxV = model.apply({"params": params}, x)
    nll_B = losses.ctc(logits_BxTxV, ctc_labels(targets), blank_id=BLANK)
    labels_BxT, lengths_B = ctc_best_path(logits_BxTxV, blank=BLANK)
    return logits_BxTxV, nll_B, labels_BxT, lengths_B

  return eval_batch


def run_split(eval_batch, params, split: dict, batch: int) -> dict[str, np.ndarray]:
  """The split in batches of `batch` (the last one padded by repeating row 0, one
  compiled shape): logits NxTxV, nll N, best-path labels NxT and lengths N."""
  x, t = split["inputs"], split["targets"]
  n = len(x)
  parts = []
  for i in range(0, n, batch):
    rows = np.arange(i, i + batch)
    rows[rows >= n] = 0
    parts.append(jax.device_get(eval_batch(params, x[rows], t[rows])))
  names = ("logits", "nll", "labels", "lengths")
  return {k: np.concatenate([p[j] for p in parts])[:n] for j, k in enumerate(names)}


def references(split: dict) -> list[list[int]]:
  return [list(row[:k]) for row, k in zip(split["targets"], split["lengths"])]


def beam_decode(logits_NxTxV: np.ndarray, beam_width: int) -> list[list[int]]:
  return [
    list(ctc_prefix_beam_search(z, blank=BLANK, beam_width=beam_width)[0].labels)
    for z in logits_NxTxV
  ]


def evaluate_split(cfg: Any, out: dict, split: dict, name: str) -> dict[str, float]:
  """Loss and sequence scores of one split's outputs (module docstring)."""
  refs = references(split)
  best = [list(r[:k]) for r, k in zip(out["labels"], out["lengths"])]
  s = sequence.sequence_scores(refs, best)
  metrics = {"loss": float(np.mean(out["nll"])), "seq_accuracy": s["seq_accuracy"], "cer": s["cer"]}
  if name in cfg.ctc.beam_splits:
    k = cfg.ctc.beam_strips or len(refs)
    b = sequence.sequence_scores(refs[:k], beam_decode(out["logits"][:k], cfg.ctc.beam_width))
    metrics.update(seq_accuracy_beam=b["seq_accuracy"], cer_beam=b["cer"])
  return metrics


def plot_strips(cfg: Any, workdir: Path, eval_batch, params, split: dict) -> None:
  """plots/ctc_strips.png: the first ctc.plot_strips strips of the split."""
  k = min(cfg.ctc.plot_strips, len(split["inputs"]))
  if not k:
    return
  split = {key: v[:k] for key, v in split.items()}
  out = run_split(eval_batch, params, split, cfg.eval_batch_size)  # evaluation's program
  best = [list(r[:n]) for r, n in zip(out["labels"][:k], out["lengths"][:k])]
  ctc_plot.strip_readings(
    split["inputs"][:k, ..., 0],
    out["logits"][:k].argmax(-1),
    blank=BLANK,
    refs=references(split)[:k],
    path=workdir / "plots" / "ctc_strips.png",
    decoded={"best path": best, "beam": beam_decode(out["logits"][:k], cfg.ctc.beam_width)},
  )


@workdir_lib.exclusive_workdir
def train_and_evaluate(cfg: Any, workdir: str | Path) -> Result:
  """Trains the CTC reader of `cfg` in `workdir` (resuming)."""
  t0 = time.time()
  validate(cfg)
  writers.quiet_library_logs()
  plot_fns = {name: plots.PLOTS.get(name) for name in cfg.get("plots", ())}
  model = build_model(cfg)
  splits = load(cfg)
  augment_lib.check_inputs(cfg.get("augment", ()), splits["train"]["inputs"].shape)
  n = len(splits["train"]["inputs"])
  if n < cfg.batch_size:
    raise ConfigError(
      f"config.batch_size={cfg.batch_size} is larger than the training "
      f"split ({n} strips); lower it or use more strips"
    )
  tx, _ = optim.make_optimizer(cfg)
  workdir = workdir_lib.prepare(cfg, workdir)

  state = init_state(cfg, model, tx, splits["train"]["inputs"][:1])
  frames = check_frames(model, state["params"], splits, cfg)
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  restored = checkpointer.restore_latest(state)
  state = state if restored is None else restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
  logging.info(
    "ctc %s: %d parameters, %d frames per strip; %d training strips; starting at step %d of %d",
    cfg.model.name,
    num_params,
    frames,
    n,
    start,
    cfg.num_steps,
  )

  train_chunk = make_train_chunk(cfg, model, tx, n)
  x_train = jnp.asarray(splits["train"]["inputs"])
  t_train = jnp.asarray(splits["train"]["targets"])
  eval_batch = make_eval_batch(model)

  def ctc_chunk(state, k: int):
    state, loss_sum, norm_sum = train_chunk(state, k, x_train, t_train)
    return state, {"loss": loss_sum / k, "grad_norm": norm_sum / k}

  def evaluate(state, _step: int, split: str) -> dict[str, float]:
    out = run_split(eval_batch, state["params"], splits[split], cfg.eval_batch_size)
    return evaluate_split(cfg, out, splits[split], split)

  state, history, steps_per_sec = chunks.run(
    cfg,
    state,
    start=start,
    workdir=workdir,
    checkpointer=checkpointer,
    train_chunk=ctc_chunk,
    evaluate=evaluate,
    fix_hint="Lower config.optimizer.learning_rate or set optimizer.clip_norm.",
  )

  final = history.final()
  if steps_per_sec is not None:
    final["train/steps_per_sec"] = steps_per_sec
  plot_split = "test" if "test" in splits else "train"
  plot_strips(cfg, workdir, eval_batch, state["params"], splits[plot_split])
  logits_fn = jax.jit(lambda params, x: model.apply({"params": params}, x))

  def predict(x_BxHxWxC: np.ndarray, method: str | None = None, state=state) -> np.ndarray:
    """Per-frame logits B x T x 11 (digits 0..9, blank 10)."""
    if method is not None:
      raise ValueError(f"the ctc trainer predicts per-frame logits; not {method!r}")
    return np.asarray(logits_fn(state["params"], jnp.asarray(x_BxHxWxC, jnp.float32)))

  result = Result(
    cfg=cfg,
    workdir=workdir,
    final=final,
    history=history,
    splits=splits,
    state=state,
    model=model,
    predict=predict,
    start_step=start,
    num_params=num_params,
    steps_per_sec=steps_per_sec,
  )
  return workdir_lib.finish(result, t0, plot_fns)
