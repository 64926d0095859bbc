"""The word-embedding trainer (notes 004 "Learning word embeddings", "Word2Vec",
"Negative sampling", "GloVe word vectors"): a table of word vectors learnt from a
text corpus (data.name="austen_text"), by one of two methods
(embeddings.method; the corpus's words, pairs and counts: nn_lib/data/words.py):

  "sgns"   skip-gram with negative sampling: per (centre c, target o) pair with K
           negatives k from count^(3/4), the loss (losses.negative_sampling)
             -log sigma(u_o . v_c) - sum_k log sigma(-u_k . v_c),
           centre vectors v (the embedding) and context vectors u; frequent words
           subsampled (P_keep = min(1, sqrt(t / f))). Init: v ~ U(-0.5/D, 0.5/D),
           u = 0 (word2vec's).
  "glove"  GloVe on the co-occurrence counts X_ij (window with 1/d weighting): per
           nonzero entry (losses.glove)
             f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,
             f(x) = min(1, (x / x_max)^alpha);
           the embedding is w + w~ (the GloVe paper's). Init: vectors
           U(-0.5/D, 0.5/D), biases 0.

A step's batch (config.batch_size pairs / nonzero entries) is drawn on the host from
(seed, step) alone (SGNS: from the text subsampled for the step's pass), so a
resumed run is the uninterrupted one. The gradient is that of the batch's summed
loss (each pair is one of word2vec's SGD examples; train/loss logs the mean per
pair); the optimizer is the config's (GloVe's paper uses AdaGrad, whose update is 0
for a row with no gradient, so it also suits SGNS's sparse rows).

Evaluation (eval_splits = ("analogy",)): 3CosAdd analogy accuracy over the shipped
question set (nn_lib/data/assets/analogies.txt, nn_lib.metrics.word_vectors):
analogy/accuracy, analogy/answerable (questions whose four words are in the
vocabulary) and both per category, and analogy/chance = 1 / (V - 3). After
training: the cosine nearest neighbours of embeddings.neighbours (logged, and
written to workdir/neighbours.txt) and a 2-D PCA of embeddings.pca_pairs
(workdir/plots/pca.png; none when it is empty).

Config: data.{name, train_split}, embeddings.{method, vocab_size, min_count, dim,
window; sgns: subsample, num_negatives, neg_power; glove: x_max, alpha;
analogies, neighbours, num_neighbours, pca_pairs}, optimizer, schedule, num_steps,
batch_size, eval_batch_size (unused; the loop's key), log_every, eval_every,
checkpoint_every, keep_checkpoints.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

import losses
from nn_lib import data as data_lib
from nn_lib import writers
from nn_lib.data import builders, text_corpus, words
from nn_lib.metrics import word_vectors as wv_metrics
from nn_lib.plots import word_vectors as wv_plots
from nn_lib.registry import ConfigError
from nn_lib.trainers import chunks
from nn_lib.trainers.word_vectors_config import validate
from nn_lib.training import optim
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.result import Result


def load_tokens(cfg_data: Any) -> list[str]:
  """The training split's text (rows of bytes in text order) as lower-case words."""
  split = data_lib.load_splits(cfg_data, {"train": cfg_data.train_split})["train"]
  rows = np.asarray(split["targets"])
  if rows.dtype != np.uint8 or rows.ndim != 2:
    raise ConfigError(
      f"config.data: the word_vectors trainer reads rows of text bytes "
      f"(e.g. data.name='austen_text'); {cfg_data.name!r} gives "
      f"{rows.dtype} of shape {rows.shape}"
    )
  return words.tokenize(text_corpus.decode(rows.reshape(-1)))


def load_questions(name: str) -> list[wv_metrics.Analogy]:
  path = Path(name) if "/" in name else builders.ASSETS / name
  if not path.exists():
    raise ConfigError(f"config.embeddings.analogies={name!r}: no such file ({path})")
  return wv_metrics.read_analogies(path.read_text().splitlines())


def init_params(cfg: Any, vocab_size: int) -> dict:
  d, key = cfg.embeddings.dim, jax.random.PRNGKey(cfg.seed)
  k1, k2 = jax.random.split(key)
  uniform = lambda k: jax.random.uniform(k, (vocab_size, d), jnp.float32, -0.5 / d, 0.5 / d)
  if cfg.embeddings.method == "sgns":
    return {"center": uniform(k1), "context": jnp.zeros((vocab_size, d), jnp.float32)}
  return {
    "word": uniform(k1),
    "context": uniform(k2),
    "word_bias": jnp.zeros((vocab_size,), jnp.float32),
    "context_bias": jnp.zeros((vocab_size,), jnp.float32),
  }


def embedding(params: dict) -> np.ndarray:
  """The word vectors judged: SGNS's centre vectors, GloVe's w + w~."""
  if "center" in params:
    return np.asarray(params["center"])
  return np.asarray(params["word"]) + np.asarray(params["context"])


def make_loss(cfg: Any):
  """loss(params, batch) -> (the batch's summed loss, its mean). The sum is what is
  differentiated: each pair (entry) is one of word2vec's (GloVe's) stochastic
  examples, and a row's gradient is the sum over its pairs, whatever the batch size;
  the mean is logged."""
  e = cfg.embeddings
  if e.method == "sgns":

    def sgns(params, batch):
      center_B, context_B, negatives_BxK, valid_B = batch
      per_pair = losses.negative_sampling(
        params["center"][center_B],
        params["context"][context_B],
        params["context"][negatives_BxK],
        where=valid_B,
      )
      total = jnp.sum(per_pair)
      return total, total / jnp.maximum(jnp.sum(valid_B), 1)

    return sgns

  def glove(params, batch):
    i_B, j_B, x_B = batch
    per_entry = losses.glove(
      params["word"][i_B],
      params["context"][j_B],
      params["word_bias"][i_B],
      params["context_bias"][j_B],
      x_B,
      x_max=float(e.x_max),
      alpha=float(e.alpha),
    )
    return jnp.sum(per_entry), jnp.mean(per_entry)

  return glove


def make_train_step(loss_fn, tx):
  """jit(state, batch) -> (state after the step, the batch's mean loss). One program
  for every chunk length: the chunk loop calls it step by step."""

  def one_step(state, batch):
    (_, mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"], batch)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return {
      "step": state["step"] + 1,
      "params": optax.apply_updates(state["params"], updates),
      "opt_state": opt_state,
    }, mean

  return jax.jit(one_step, donate_argnums=0)


class Batches:
  """The host side: step -> that step's batch (nn_lib.data.words), from the text."""

  def __init__(self, cfg: Any, vocab: words.Vocab, ids_N: np.ndarray):
    self.cfg, e = cfg, cfg.embeddings
    if e.method == "sgns":
      self.ids_N = ids_N
      self.keep_V = words.keep_probs(vocab.counts_V, float(e.subsample))
      self.steps_per_pass = words.steps_per_pass(ids_N, self.keep_V, cfg.batch_size)
      # (pass, its subsampled text): one pass is kept; none yet
      self.text: tuple[int, np.ndarray] = (-1, ids_N[:0])
      self.neg_cdf_V = np.cumsum(words.negative_probs(vocab.counts_V, float(e.neg_power)))
    else:
      self.cooc = words.cooccurrence(ids_N, len(vocab), e.window)
      if not len(self.cooc.values_E):
        raise ConfigError(
          "config.data.train_split: no two vocabulary words co-occur; use more text"
        )

  def __call__(self, step: int):
    cfg, e = self.cfg, self.cfg.embeddings
    if e.method == "sgns":
      epoch = step // self.steps_per_pass
      if self.text[0] != epoch:
        self.text = (epoch, words.subsample(self.ids_N, self.keep_V, seed=cfg.seed, epoch=epoch))
        if len(self.text[1]) < 2:
          raise ConfigError(
            f"config.embeddings.subsample={e.subsample}: pass {epoch} kept "
            f"{len(self.text[1])} words of {len(self.ids_N)}; use more "
            "text or a larger threshold"
          )
      return tuple(
        words.sgns_batch(
          self.text[1],
          self.neg_cdf_V,
          seed=cfg.seed,
          step=step,
          batch=cfg.batch_size,
          window=e.window,
          num_negatives=e.num_negatives,
        )
      )
    idx = words.glove_batch(len(self.cooc.values_E), seed=cfg.seed, step=step, batch=cfg.batch_size)
    return (self.cooc.rows_E[idx], self.cooc.cols_E[idx], self.cooc.values_E[idx])


@dataclasses.dataclass
class WordVectorsResult(Result):
  """A Result that also holds the vocabulary and the logged nearest neighbours
  (word -> its neighbours), for callers and tests."""

  vocab: words.Vocab | None = None
  neighbours: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def write_neighbours(
  cfg: Any, workdir: Path, vectors_VxD: np.ndarray, vocab: words.Vocab
) -> dict[str, list[str]]:
  """Logs the cosine nearest neighbours of embeddings.neighbours (those in the
  vocabulary) and writes them to workdir/neighbours.txt."""
  queries = [w for w in cfg.embeddings.neighbours if w in vocab.index]
  out, lines = {}, []
  if queries:
    ids_QxK, cos_QxK = wv_metrics.nearest_neighbours(
      vectors_VxD, [vocab.index[w] for w in queries], cfg.embeddings.num_neighbours
    )
    for w, ids, cos in zip(queries, ids_QxK, cos_QxK):
      out[w] = [vocab.words[i] for i in ids]
      lines.append(f"{w}: " + ", ".join(f"{vocab.words[i]} {c:.2f}" for i, c in zip(ids, cos)))
  text = "\n".join(lines) + "\n"
  logging.info("nearest neighbours (cosine):\n%s", text)
  if jax.process_index() == 0:
    (workdir / "neighbours.txt").write_text(text)
  return out


@workdir_lib.exclusive_workdir
def train_and_evaluate(cfg: Any, workdir: str | Path) -> Result:
  """Learns the word vectors of `cfg` in `workdir` (resuming)."""
  t0 = time.time()
  validate(cfg)
  writers.quiet_library_logs()
  e = cfg.embeddings
  questions = load_questions(e.analogies)
  tokens = load_tokens(cfg.data)
  vocab = words.build_vocab(tokens, e.vocab_size, e.min_count)
  if len(vocab) < 4:
    raise ConfigError(
      f"config.embeddings: only {len(vocab)} words occur min_count="
      f"{e.min_count} times in data.train_split={cfg.data.train_split!r}; "
      "an analogy needs 4: lower min_count or use more text"
    )
  ids_N = words.encode(tokens, vocab)
  batches = Batches(cfg, vocab, ids_N)
  tx, _ = optim.make_optimizer(cfg)
  workdir = workdir_lib.prepare(cfg, workdir)

  def init():
    params = init_params(cfg, len(vocab))
    return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": tx.init(params)}

  state = jax.jit(init)()
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  restored = checkpointer.restore_latest(state)
  state = state if restored is None else restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
  logging.info(
    "word_vectors %s: %d tokens, vocabulary %d (%.1f%% of the tokens), %d "
    "parameters%s; starting at step %d of %d",
    e.method,
    len(tokens),
    len(vocab),
    100.0 * len(ids_N) / max(len(tokens), 1),
    num_params,
    f", {len(batches.cooc.values_E)} nonzero X_ij" if e.method == "glove" else "",
    start,
    cfg.num_steps,
  )

  train_step = make_train_step(make_loss(cfg), tx)
  chance = 1.0 / max(len(vocab) - 3, 1)

  def wv_chunk(state, n: int):
    step, losses_n = int(jax.device_get(state["step"])), []
    for s in range(step, step + n):  # batch s is a function of s alone
      state, loss = train_step(state, batches(s))
      losses_n.append(loss)
    return state, {"loss": jnp.stack(losses_n)}

  def evaluate(state, _step: int, _split: str) -> dict[str, float]:
    vectors = embedding(jax.device_get(state["params"]))
    return {**wv_metrics.analogy_accuracy(vectors, vocab.index, questions), "chance": chance}

  state, history, steps_per_sec = chunks.run(
    cfg,
    state,
    start=start,
    workdir=workdir,
    checkpointer=checkpointer,
    train_chunk=wv_chunk,
    evaluate=evaluate,
    fix_hint="Lower config.optimizer.learning_rate.",
  )

  final = history.final()
  if steps_per_sec is not None:
    final["train/steps_per_sec"] = steps_per_sec
  vectors_VxD = embedding(jax.device_get(state["params"]))
  neighbours = write_neighbours(cfg, workdir, vectors_VxD, vocab)
  if e.pca_pairs:  # (only process 0 writes the file)
    final["pca/explained"] = wv_plots.pca_pairs(
      vectors_VxD,
      vocab.index,
      [tuple(p) for p in e.pca_pairs],
      workdir / "plots" / "pca.png",
      title=f"{e.method}: word pairs",
    )

  def predict(words_or_ids, method: str | None = None, state=state) -> np.ndarray:
    """The word vectors (N x D) of a list of ids or words."""
    if method is not None:
      raise ValueError(f"the word_vectors trainer gives word vectors; not {method!r}")
    ids = [vocab.index[w] if isinstance(w, str) else int(w) for w in words_or_ids]
    return embedding(jax.device_get(state["params"]))[ids]

  result = WordVectorsResult(
    cfg=cfg,
    workdir=workdir,
    final=final,
    history=history,
    splits={},
    state=state,
    model=None,
    predict=predict,
    start_step=start,
    num_params=num_params,
    steps_per_sec=steps_per_sec,
    vocab=vocab,
    neighbours=neighbours,
  )
  return workdir_lib.finish(result, t0)
