"""The sequence-to-sequence trainer (notes 004 "Sequence to sequence model",
"Attention model", "Beam Search", "Bleu Score"): an encoder-decoder
(models seq2seq_rnn: bidirectional GRU + Bahdanau attention; seq2seq_transformer)
learns P(y<1..T_y> | x) on pairs of token sequences (data.name="dates": human dates
-> ISO), by teacher forcing (trainers/seq2seq_data.py):

  loss = sum over real target tokens of -log softmax(z<t>)_{y<t>} / their number,
  z<t> = decoder(x, <bos> y<1..t-1>),

padding (token 0) masked out. Mini-batches walk the training pairs in a permuted
order per epoch; optimizer and schedule come from the config (optimizer.clip_norm
clips the gradients' global norm; its mean pre-clip norm is logged).

Evaluation of each of eval_splits: teacher-forced loss and token accuracy, then the
model writes its own output, by greedy decoding (y<t> = argmax, fed back) and by beam
search (width seq2seq.beam_width, score (1/T_y^alpha) sum_t log P, alpha =
seq2seq.alpha), both jitted over batches of eval_batch_size and at most T tokens
(the targets' length). Metrics, on the text before <eos>:
  {split}/loss, {split}/token_accuracy        teacher forcing
  {split}/exact_match, {split}/bleu           greedy: whole-string accuracy, corpus
                                              BLEU over characters (N = 4)
  {split}/beam_exact_match, {split}/beam_bleu beam search
After training, seq2seq.num_examples decoded pairs of the last eval split go to the
log and workdir/examples.txt, and the attention of seq2seq.plot_examples of them
(alpha<t,t'>; the transformer's last decoder layer's cross-attention averaged over
heads), read while the model re-reads its own greedy output, to
workdir/plots/attention.png.

The state {step, params, opt_state} is checkpointed; the batch a step reads and its
dropout key are functions of the step, so a resumed run is the uninterrupted one.
Config: data.{name, train_split, dev_split, test_split}, eval_splits, model (its
name and kwargs; vocab_size is the data's 71 tokens), optimizer (with clip_norm),
schedule, seq2seq.{beam_width, alpha, num_examples, plot_examples}, num_steps,
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
from nn_lib import models, plots, writers
from nn_lib.decoding.beam_search import beam_search, greedy_decode
from nn_lib.models import seq2seq as seq2seq_models
from nn_lib.plots import attention as attention_plot
from nn_lib.registry import ConfigError
from nn_lib.trainers import chunks
from nn_lib.trainers import seq2seq_data as sd
from nn_lib.training import optim
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.result import Result

MODELS = ("seq2seq_rnn", "seq2seq_transformer")
V = sd.VOCAB_SIZE


def validate(cfg: Any) -> None:
  """Every key the seq2seq trainer reads, with an error naming the key."""
  chunks.check_loop_keys(
    cfg, "seq2seq", ("seed", "data", "eval_splits", "model", "optimizer", "schedule", "seq2seq")
  )
  chunks.need(
    bool(cfg.eval_splits) and set(cfg.eval_splits) <= {"train", "dev", "test"},
    "eval_splits",
    cfg.eval_splits,
    "must name one or more of train, dev, test",
  )
  name = cfg.model.get("name")
  chunks.need(name in MODELS, "model.name", name, f"the seq2seq trainer trains one of {MODELS}")
  for key in ("vocab_size", "src_vocab_size"):
    chunks.need(
      cfg.model.get(key) in (None, V),
      f"model.{key}",
      cfg.model.get(key),
      f"the data's vocabulary has {V} tokens (nn_lib.data.dates.VOCAB); leave it unset",
    )
  chunks.need(
    cfg.model.get("pad_id", sd.PAD) == sd.PAD,
    "model.pad_id",
    cfg.model.get("pad_id"),
    f"the data pads with token {sd.PAD}; leave it unset",
  )
  chunks.check_optimizer(cfg)
  clip = cfg.optimizer.get("clip_norm", 0.0)
  chunks.need(
    chunks.is_number(clip) and clip >= 0,
    "optimizer.clip_norm",
    clip,
    "must be a number >= 0 (0: no gradient clipping)",
  )
  s = cfg.seq2seq
  chunks.need(
    chunks.positive_int(s.get("beam_width")),
    "seq2seq.beam_width",
    s.get("beam_width"),
    "must be a positive integer (1: beam search is greedy decoding)",
  )
  chunks.need(
    chunks.is_number(s.get("alpha")) and s.alpha >= 0,
    "seq2seq.alpha",
    s.get("alpha"),
    "must be a number >= 0 (the length normalisation 1/T_y^alpha; 0: none)",
  )
  for key in ("num_examples", "plot_examples"):
    v = s.get(key)
    chunks.need(
      isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= cfg.eval_batch_size,
      f"seq2seq.{key}",
      v,
      f"must be an integer in 0..eval_batch_size="
      f"{cfg.eval_batch_size} (decoded examples shown after training)",
    )


def build_model(cfg: Any):
  kw = dict(cfg.model)
  kw.pop("name")
  kw["vocab_size"] = V
  return models.get(cfg.model.name, **kw)


def init_state(cfg: Any, model, tx, src_len: int, tgt_len: int) -> dict:
  def init(key):
    params = model.init(
      key, jnp.zeros((1, src_len), jnp.int32), jnp.zeros((1, tgt_len), jnp.int32)
    )["params"]
    return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": tx.init(params)}

  # the key is an argument: a constant one lets XLA fold the whole initialisation
  # at compile time, several times slower than running it
  return jax.jit(init)(jax.random.PRNGKey(cfg.seed))


def masked_token_loss(
  logits_BxTxV: jax.Array, tgt_BxT: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Per row: summed cross-entropy over the real (non-pad) target tokens, the number
  of them predicted right (argmax), and their number."""
  mask_BxT = tgt_BxT != sd.PAD
  ce_BxT = losses.softmax_cross_entropy_with_integer_labels(logits_BxTxV, tgt_BxT, where=mask_BxT)
  right_BxT = (jnp.argmax(logits_BxTxV, axis=-1) == tgt_BxT) & mask_BxT
  return (jnp.sum(ce_BxT, axis=1), jnp.sum(right_BxT, axis=1), jnp.sum(mask_BxT, axis=1))


def make_train_chunk(cfg: Any, model, tx, num_pairs: int):
  """jit(state, n, src_NxS, tgt_NxT) -> (state after n steps, summed loss, summed
  grad norm); step s reads chunks.epoch_rows(s) and dropout key (seed, s)."""
  base_key = jax.random.PRNGKey(cfg.seed)
  data_key, dropout_key = jax.random.fold_in(base_key, 1), jax.random.fold_in(base_key, 2)

  def loss_fn(params, src_BxS, tgt_BxT, key):
    logits_BxTxV = model.apply(
      {"params": params}, src_BxS, sd.decoder_inputs(tgt_BxT), train=True, rngs={"dropout": key}
    )
    ce_B, _, count_B = masked_token_loss(logits_BxTxV, tgt_BxT)
    return jnp.sum(ce_B) / jnp.maximum(jnp.sum(count_B), 1)

  def batch_at(step, src_NxS, tgt_NxT):
    rows_B = chunks.epoch_rows(data_key, step, num_pairs, cfg.batch_size)
    return src_NxS[rows_B], tgt_NxT[rows_B]

  return chunks.jit_gradient_steps(loss_fn, tx, dropout_key, batch_at)


def last_layer_attention(weights: jax.Array) -> jax.Array:
  """B x T x S attention weights: the RNN's alpha as is; the transformer's cross-
  attention (B x layers x heads x T x S) of its last decoder layer, mean over heads."""
  return weights[:, -1].mean(axis=1) if weights.ndim == 5 else weights


def make_eval_batch(cfg: Any, model, max_len: int):
  """jit(params, src_BxS, tgt_BxT) -> {ce, right, count (per row, teacher forcing),
  greedy, beam (tokens B x L, L = max_len: greedy decoding's and beam search's best),
  attention (B x L x S, while re-reading the greedy output)}: one compiled program
  for every number and picture of a split."""
  K, alpha = cfg.seq2seq.beam_width, float(cfg.seq2seq.alpha)

  @jax.jit
  def eval_batch(params, src_BxS, tgt_BxT):
    variables = {"params": params}
    logits_BxTxV = model.apply(variables, src_BxS, sd.decoder_inputs(tgt_BxT), train=False)
    ce_B, right_B, count_B = masked_token_loss(logits_BxTxV, tgt_BxT)
    step_fn, state = seq2seq_models.decoder(model, variables, src_BxS, max_len)
    start_B = jnp.full((src_BxS.shape[0],), sd.BOS, jnp.int32)
    greedy_BxL = greedy_decode(
      step_fn, state, start_B, max_len=max_len, eos_id=sd.EOS, pad_id=sd.PAD
    ).tokens_BxL
    beam = beam_search(
      step_fn,
      state,
      start_B,
      beam_width=K,
      max_len=max_len,
      eos_id=sd.EOS,
      alpha=alpha,
      pad_id=sd.PAD,
    )
    # Fed its own greedy output, the model repeats greedy decoding's steps: the
    # attention of those steps, for the heat maps.
    _, weights = seq2seq_models.teacher_force_with_attention(
      model, variables, src_BxS, sd.decoder_inputs(greedy_BxL)
    )
    return {
      "ce": ce_B,
      "right": right_B,
      "count": count_B,
      "greedy": greedy_BxL,
      "beam": beam.tokens_BxKxL[:, 0],
      "attention": last_layer_attention(weights),
    }

  return eval_batch


def decode_split(
  eval_batch, params, pairs: sd.Pairs, batch_size: int, limit: int | None = None
) -> dict[str, np.ndarray]:
  """eval_batch over the split's rows (the first `limit`), concatenated on the host."""
  if limit is not None:
    pairs = sd.Pairs(pairs.src_NxS[:limit], pairs.tgt_NxT[:limit])
  parts = []
  for src_BxS, tgt_BxT, real in sd.eval_batches(pairs, batch_size):
    out = jax.device_get(eval_batch(params, jnp.asarray(src_BxS), jnp.asarray(tgt_BxT)))
    parts.append({k: np.asarray(v)[:real] for k, v in out.items()})
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def scores(decoded: dict[str, np.ndarray], pairs: sd.Pairs) -> dict[str, float]:
  """The split's metrics (module docstring) from decode_split's arrays."""
  refs = sd.texts(pairs.tgt_NxT)
  count = max(float(np.sum(decoded["count"], dtype=np.float64)), 1.0)
  out = {
    "loss": float(np.sum(decoded["ce"], dtype=np.float64)) / count,
    "token_accuracy": float(np.sum(decoded["right"])) / count,
  }
  for prefix, key in (("", "greedy"), ("beam_", "beam")):
    predicted = sd.texts(decoded[key])
    out[f"{prefix}exact_match"] = sd.exact_match(predicted, refs)
    out[f"{prefix}bleu"] = sd.char_bleu(predicted, refs)
  return out


def write_examples(
  cfg: Any, workdir: Path, eval_batch, params, pairs: sd.Pairs, split: str
) -> list[str]:
  """Logs the first seq2seq.num_examples decoded pairs of `split` and writes them to
  workdir/examples.txt; draws the attention of the first plot_examples."""
  s = cfg.seq2seq
  n = max(s.num_examples, s.plot_examples)
  if n == 0:
    return []
  decoded = decode_split(eval_batch, params, pairs, cfg.eval_batch_size, limit=n)
  src, ref = sd.texts(pairs.src_NxS[:n]), sd.texts(pairs.tgt_NxT[:n])
  greedy, beam = sd.texts(decoded["greedy"]), sd.texts(decoded["beam"])
  lines = [
    f"{x!r} -> greedy {g!r}{'' if g == r else ' (wrong)'}, beam {b!r}"
    f"{'' if b == r else ' (wrong)'}; reference {r!r}"
    for x, g, b, r in zip(src, greedy, beam, ref)
  ][: s.num_examples]
  if lines:
    logging.info("decoded %s examples:\n%s", split, "\n".join(lines))
    if jax.process_index() == 0:
      workdir_lib.write_json_atomic(workdir / "examples.txt", "\n".join(lines) + "\n")
  k = s.plot_examples
  if k:
    attention_plot.attention_maps(
      decoded["attention"][:k],
      [sd.token_labels(x) for x in pairs.src_NxS[:k]],
      [sd.token_labels(y) for y in decoded["greedy"][:k]],
      workdir / "plots" / "attention.png",
      titles=src[:k],
      suptitle=f"{cfg.model.name}: attention while writing its greedy output ({split})",
    )
  return lines


@workdir_lib.exclusive_workdir
def train_and_evaluate(cfg: Any, workdir: str | Path) -> Result:
  """Trains the sequence-to-sequence model of `cfg` in `workdir` (resuming)."""
  t0 = time.time()
  validate(cfg)
  writers.quiet_library_logs()
  plot_fns = {name: plots.PLOTS.get(name) for name in cfg.get("plots", ())}
  model = build_model(cfg)
  tx, _ = optim.make_optimizer(cfg)
  pairs = sd.load_pairs(cfg.data, tuple(cfg.eval_splits))
  train = pairs["train"]
  num_pairs, (src_len, tgt_len) = (
    len(train.src_NxS),
    (train.src_NxS.shape[1], train.tgt_NxT.shape[1]),
  )
  if cfg.batch_size > num_pairs:
    raise ConfigError(
      f"config.batch_size={cfg.batch_size} is more than the "
      f"{num_pairs} training pairs of data.train_split="
      f"{cfg.data.train_split!r}; lower it"
    )
  workdir = workdir_lib.prepare(cfg, workdir)

  state = init_state(cfg, model, tx, src_len, tgt_len)
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  restored = checkpointer.restore_latest(state)
  state = state if restored is None else restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
  logging.info(
    "seq2seq %s: %d parameters; %d training pairs (sources of %d tokens, "
    "targets of %d); starting at step %d of %d",
    cfg.model.name,
    num_params,
    num_pairs,
    src_len,
    tgt_len,
    start,
    cfg.num_steps,
  )

  train_chunk = make_train_chunk(cfg, model, tx, num_pairs)
  eval_batch = make_eval_batch(cfg, model, tgt_len)
  src_NxS, tgt_NxT = jnp.asarray(train.src_NxS), jnp.asarray(train.tgt_NxT)

  def s2s_chunk(state, n: int):
    state, loss_sum, norm_sum = train_chunk(state, n, src_NxS, tgt_NxT)
    return state, {"loss": loss_sum / n, "grad_norm": norm_sum / n}

  def evaluate(state, _step: int, split: str) -> dict[str, float]:
    return scores(
      decode_split(eval_batch, state["params"], pairs[split], cfg.eval_batch_size), pairs[split]
    )

  state, history, steps_per_sec = chunks.run(
    cfg,
    state,
    start=start,
    workdir=workdir,
    checkpointer=checkpointer,
    train_chunk=s2s_chunk,
    evaluate=evaluate,
    fix_hint="Lower config.optimizer.learning_rate or set optimizer.clip_norm.",
  )

  final = history.final()
  if steps_per_sec is not None:
    final["train/steps_per_sec"] = steps_per_sec
  shown = cfg.eval_splits[-1]
  write_examples(cfg, workdir, eval_batch, state["params"], pairs[shown], shown)

  def predict(src_BxS: np.ndarray, method: str | None = None, state=state) -> np.ndarray:
    """Decoded tokens B x T (<eos> included, then padding): greedy, or method="beam"."""
    if method not in (None, "greedy", "beam"):
      raise ValueError(f"the seq2seq trainer decodes greedily or by beam; not {method!r}")
    src_BxS = np.asarray(src_BxS, np.int32)
    tgt_BxT = np.full((len(src_BxS), tgt_len), sd.EOS, np.int32)  # unused by decoding
    out = decode_split(eval_batch, state["params"], sd.Pairs(src_BxS, tgt_BxT), cfg.eval_batch_size)
    return out["beam" if method == "beam" else "greedy"]

  result = Result(
    cfg=cfg,
    workdir=workdir,
    final=final,
    history=history,
    splits={k: {"inputs": p.src_NxS, "targets": p.tgt_NxT} for k, p in pairs.items()},
    state=state,
    model=model,
    predict=predict,
    start_step=start,
    num_params=num_params,
    steps_per_sec=steps_per_sec,
  )
  return workdir_lib.finish(result, t0, plot_fns)
