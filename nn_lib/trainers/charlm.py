"""The character language model trainer (notes 004 "Language model and sequence
generation", "Sampling a sequence from a trained RNN", "Vanishing gradients with
RNNs"): next-character prediction on a text corpus (data.name="austen_text"),

  loss = mean over the B x T window of -log softmax(z<t>)_{y<t>},   x<t> = y<t-1>,

with truncated backpropagation through time (trainers/charlm_data.py): the training
text is cut into `batch_size` contiguous streams and step s trains on the next window
of `lm.bptt` characters of every stream. A recurrent model (rnn, gru, lstm) carries
its state a<T> from one window into the next, with its gradient stopped, so it reads
the streams as one long text while backpropagation is truncated to bptt steps (the
state is reset when a new pass over the text starts); the transformer (transformer_lm)
sees each window alone: its context is the window. Gradients are clipped to global
norm optimizer.clip_norm (the notes' remedy for exploding gradients; the mean
pre-clip norm is logged as train/grad_norm).

Metrics: bits per character of each of eval_splits (train, dev, test), evaluated in
the same streaming way over every character of the split,

  bpc = sum_t -ln p(y<t> | y<1..t-1>) / (N - 1) / ln 2,

and train/loss (nats), train/bpc, train/steps_per_sec. After training, a paragraph is
sampled (nn_lib.decoding.sampling: temperature, top-k, a fixed seed), primed with
`lm.sample.prompt_chars` characters of the dev text, logged and written to
workdir/sample.txt; the transformer samples through its KV-cache decoder, one window
of context at a time: its cache holds bptt positions, as in training, and when it is
full decoding restarts from the last prompt_chars characters.

The state {step, params, opt_state, carry (recurrent models: the streams' state)} is
checkpointed; the window a step reads is a function of the step, so a resumed run is
the uninterrupted one. Config: data.{name, train_split, dev_split, test_split}, model
(its name and kwargs; vocab_size / num_outputs are the corpus's), optimizer (with
clip_norm), schedule, lm.{bptt, sample.{num_chars, temperature, top_k, seed,
prompt_chars, prompt_start}}, num_steps, batch_size (streams), eval_batch_size
(streams), log_every, eval_every, checkpoint_every, keep_checkpoints.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from jax.typing import ArrayLike

import losses
from nn_lib import models, plots, writers
from nn_lib.data import text_corpus
from nn_lib.decoding.sampling import sample_sequences
from nn_lib.models import transformer_cache
from nn_lib.trainers import charlm_data, chunks
from nn_lib.trainers.charlm_config import RECURRENT, V, check_lengths, validate
from nn_lib.training import optim
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.result import Result


def build_model(cfg: Any):
  kw = dict(cfg.model)
  name = kw.pop("name")
  kw["vocab_size"] = V
  if name in RECURRENT:
    kw["num_outputs"] = V
  return models.get(name, **kw), name in RECURRENT


def make_forward(model, recurrent: bool):
  """forward(params, x_BxT, carry, key or None) -> (logits_BxTxV, carry); train mode
  (dropout from `key`) when a key is given. The transformer's carry is () and stays."""

  def forward(params, x_BxT, carry, key):
    kw = {"train": key is not None, "rngs": None if key is None else {"dropout": key}}
    if recurrent:
      return model.apply({"params": params}, x_BxT, carry, method="with_carry", **kw)
    return model.apply({"params": params}, x_BxT, **kw), carry

  return forward


def zero_carry(model, recurrent: bool, params, batch: int) -> Any:
  """The recurrent state a<0> = 0 of `batch` streams (the transformer: ())."""
  if not recurrent:
    return ()
  shapes = jax.eval_shape(
    lambda p: model.apply({"params": p}, jnp.zeros((batch, 1), jnp.int32), method="with_carry")[1],
    params,
  )
  return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def init_state(cfg: Any, model, recurrent: bool, tx) -> dict:
  def init():
    params = model.init(jax.random.PRNGKey(cfg.seed), jnp.zeros((1, cfg.lm.bptt), jnp.int32))[
      "params"
    ]
    state = {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": tx.init(params)}
    if recurrent:  # (orbax keeps no empty tuple: the transformer's state has no carry)
      state["carry"] = zero_carry(model, True, params, cfg.batch_size)
    return state

  return jax.jit(init)()


def make_train_chunk(cfg: Any, forward, tx, num_windows: int):
  """jit(state, n, streams_BxL) -> (state after n steps, summed loss, summed grad norm).
  Step s reads window s mod num_windows (charlm_data.window); at window 0 a new pass
  over the text starts and the carried state is reset to 0."""
  bptt, batch = cfg.lm.bptt, cfg.batch_size
  base_key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 1)  # apart from init's

  def loss_fn(params, x_BxT, y_BxT, carry, key):
    logits_BxTxV, carry = forward(params, x_BxT, carry, key)
    ce_BxT = losses.softmax_cross_entropy_with_integer_labels(logits_BxTxV, y_BxT)
    return jnp.mean(ce_BxT), carry

  def chunk(state, n, streams_BxL):
    def one_step(_, acc):
      state, loss_sum, norm_sum = acc
      step = state["step"]
      w = step % num_windows
      xy_BxT1 = jax.lax.dynamic_slice(streams_BxL, (0, w * bptt), (batch, bptt + 1))
      carry = jax.tree.map(
        lambda c: jnp.where(w == 0, jnp.zeros_like(c), c), state.get("carry", ())
      )
      (loss, carry), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state["params"], xy_BxT1[:, :-1], xy_BxT1[:, 1:], carry, jax.random.fold_in(base_key, step)
      )
      updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
      new = {
        "step": step + 1,
        "params": optax.apply_updates(state["params"], updates),
        "opt_state": opt_state,
      }
      if "carry" in state:  # truncation: the next window's gradient stops here
        new["carry"] = jax.lax.stop_gradient(carry)
      return new, loss_sum + loss, norm_sum + optax.tree.norm(grads)

    zero = jnp.zeros((), jnp.float32)
    return jax.lax.fori_loop(0, n, one_step, (state, zero, zero))

  return jax.jit(chunk, donate_argnums=0)


def make_eval_sums(forward, zero_carry_fn):
  """jit(params, x_WxBxT, y_WxBxT) -> per window the summed -ln p of its targets
  (IGNORE targets add 0), the state carried from window to window."""

  @jax.jit
  def eval_sums(params, x_WxBxT, y_WxBxT):
    def body(carry, xy):
      logits_BxTxV, carry = forward(params, xy[0], carry, None)
      return carry, jnp.sum(losses.softmax_cross_entropy_with_integer_labels(logits_BxTxV, xy[1]))

    _, sums_W = jax.lax.scan(body, zero_carry_fn(params, x_WxBxT.shape[1]), (x_WxBxT, y_WxBxT))
    return sums_W

  return eval_sums


def bits_per_char(eval_sums, params, streams: charlm_data.EvalStreams) -> dict[str, float]:
  """{"loss": mean nats, "bpc": mean bits} over the split's every prediction."""
  total = float(
    np.sum(
      np.asarray(
        jax.device_get(eval_sums(params, streams.inputs_WxBxT, streams.targets_WxBxT)), np.float64
      )
    )
  )
  nats = total / streams.num_predictions
  return {"loss": nats, "bpc": nats / math.log(2.0)}


def sample_ids(cfg: Any, model, recurrent: bool, params, prompt_P: ArrayLike) -> np.ndarray:
  """lm.sample.num_chars ids sampled after `prompt_P` (temperature, top_k, seed)."""
  s = cfg.lm.sample
  opts = dict(eos_id=charlm_data.IGNORE, temperature=float(s.temperature), top_k=s.top_k)
  key = jax.random.PRNGKey(s.seed)
  prompt_P = jnp.asarray(prompt_P, jnp.int32)
  if recurrent:

    @jax.jit
    def run(params, prompt_P, key):
      variables = {"params": params}

      def step_fn(carry, token_B):
        logits_Bx1xV, carry = model.apply(variables, token_B[:, None], carry, method="with_carry")
        return logits_Bx1xV[:, 0], carry

      carry = zero_carry(model, True, params, 1)
      if prompt_P.shape[0] > 1:  # read the prompt; its last character starts sampling
        _, carry = model.apply(variables, prompt_P[None, :-1], carry, method="with_carry")
      return sample_sequences(
        step_fn, carry, prompt_P[-1:], key, max_len=s.num_chars, **opts
      ).tokens_BxL[0]

    return np.asarray(run(params, prompt_P, key))

  # The transformer: a cache of bptt positions, as in training (positions past the
  # window were never trained); per segment, prefill the last prompt_chars characters
  # and sample until the cache is full, then start a fresh cache from the text so far.
  bptt, ctx = cfg.lm.bptt, len(prompt_P)
  per_segment = bptt - ctx + 1

  @jax.jit
  def segment(params, ctx_P, key):
    variables = {"params": params}
    step_fn, cache = transformer_cache.lm_decoder(model, variables, batch=1, max_len=bptt)
    if ctx > 1:
      _, cache = transformer_cache.prefill(model, variables, cache, ctx_P[None, :-1])
    return sample_sequences(
      step_fn, cache, ctx_P[-1:], key, max_len=per_segment, **opts
    ).tokens_BxL[0]

  text, i = np.asarray(prompt_P), 0
  while len(text) < ctx + s.num_chars:
    text = np.concatenate(
      [text, np.asarray(segment(params, text[-ctx:], jax.random.fold_in(key, i)))]
    )
    i += 1
  return text[ctx : ctx + s.num_chars]


def write_sample(
  cfg: Any, workdir: Path, model, recurrent: bool, params, dev_ids: np.ndarray
) -> str:
  """Samples a paragraph after a dev prompt; writes workdir/sample.txt; returns it."""
  s = cfg.lm.sample
  prompt_P = dev_ids[s.prompt_start : s.prompt_start + s.prompt_chars]
  sampled = sample_ids(cfg, model, recurrent, params, prompt_P)
  prompt, text = (text_corpus.decode(text_corpus.from_ids(a)) for a in (prompt_P, sampled))
  logging.info(
    "sample (temperature %s, top_k %s, seed %d) after the dev prompt %r:\n%s",
    s.temperature,
    s.top_k,
    s.seed,
    prompt,
    text,
  )
  if jax.process_index() == 0:
    workdir_lib.write_json_atomic(workdir / "sample.txt", prompt + text)
  return prompt + text


@workdir_lib.exclusive_workdir
def train_and_evaluate(cfg: Any, workdir: str | Path) -> Result:
  """Trains the character language model of `cfg` in `workdir` (resuming)."""
  t0 = time.time()
  validate(cfg)
  writers.quiet_library_logs()
  plot_fns = {name: plots.PLOTS.get(name) for name in cfg.get("plots", ())}
  model, recurrent = build_model(cfg)
  tx, _ = optim.make_optimizer(cfg)
  ids = charlm_data.load_ids(cfg.data, tuple(dict.fromkeys((*cfg.eval_splits, "dev"))))
  check_lengths(cfg, ids)
  workdir = workdir_lib.prepare(cfg, workdir)

  state = init_state(cfg, model, recurrent, tx)
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  restored = checkpointer.restore_latest(state)
  state = state if restored is None else restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
  streams_BxL = jnp.asarray(charlm_data.cut_streams(ids["train"], cfg.batch_size))
  num_windows = charlm_data.windows_per_pass(streams_BxL.shape[1], cfg.lm.bptt)
  logging.info(
    "charlm %s: %d parameters; %d streams of %d characters (%d windows of %d "
    "a pass); starting at step %d of %d",
    cfg.model.name,
    num_params,
    cfg.batch_size,
    streams_BxL.shape[1],
    num_windows,
    cfg.lm.bptt,
    start,
    cfg.num_steps,
  )

  forward = make_forward(model, recurrent)
  train_chunk = make_train_chunk(cfg, forward, tx, num_windows)
  eval_sums = make_eval_sums(forward, lambda p, b: zero_carry(model, recurrent, p, b))
  eval_data = {
    split: charlm_data.eval_streams(ids[split], cfg.eval_batch_size, cfg.lm.bptt)
    for split in cfg.eval_splits
  }

  def lm_chunk(state, n: int):
    state, loss_sum, norm_sum = train_chunk(state, n, streams_BxL)
    return state, {"loss": loss_sum / n, "grad_norm": norm_sum / n}

  def evaluate(state, _step: int, split: str) -> dict[str, float]:
    return bits_per_char(eval_sums, state["params"], eval_data[split])

  state, history, steps_per_sec = chunks.run(
    cfg,
    state,
    start=start,
    workdir=workdir,
    checkpointer=checkpointer,
    train_chunk=lm_chunk,
    evaluate=evaluate,
    fix_hint="Lower config.optimizer.learning_rate or set optimizer.clip_norm.",
    train_extra=lambda m: {**m, "bpc": m["loss"] / math.log(2.0)},
  )

  final = history.final()
  if steps_per_sec is not None:
    final["train/steps_per_sec"] = steps_per_sec
  write_sample(cfg, workdir, model, recurrent, state["params"], ids["dev"])

  predict_logits = jax.jit(
    lambda params, x_BxT: forward(
      params, x_BxT, zero_carry(model, recurrent, params, x_BxT.shape[0]), None
    )[0]
  )

  def predict(ids_BxT: np.ndarray, method: str | None = None, state=state) -> np.ndarray:
    """Logits B x T x V of each next character, every row read from a zero state."""
    if method is not None:
      raise ValueError(f"the charlm trainer predicts next-character logits; not {method!r}")
    return np.asarray(predict_logits(state["params"], jnp.asarray(ids_BxT, jnp.int32)))

  result = Result(
    cfg=cfg,
    workdir=workdir,
    final=final,
    history=history,
    splits={split: {"ids": v} for split, v in ids.items()},
    state=state,
    model=model,
    predict=predict,
    start_step=start,
    num_params=num_params,
    steps_per_sec=steps_per_sec,
  )
  return workdir_lib.finish(result, t0, plot_fns)
