"""Words of a text corpus for learning word embeddings (notes 004 "Word
representation", "Learning word embeddings", "Word2Vec", "Negative sampling",
"GloVe word vectors"). Pure numpy; every random draw is seeded by (seed, step), so
the batch a training step reads is a function of the step (a resumed run reads
what the uninterrupted one read).

Tokens: the text lower-cased, then every maximal run of the letters a-z, with
apostrophes kept inside a word ("don't", "elinor's" are one token); everything else
(digits, punctuation, the `_italics_` underscores, line breaks) separates words.

Vocabulary V = [w_0, ..., w_{V-1}]: the `max_size` most frequent tokens that occur
at least `min_count` times, most frequent first (ties alphabetical). Words outside
it are dropped from the text before any window is taken (as word2vec does), so a
window spans V-words only.

Skip-gram with negative sampling (Mikolov et al. 2013; notes 004 "Word2Vec",
"Negative sampling"): a (context c, target t) pair is a word and a word near it.
  * Subsampling of frequent words ("How to sample the context c? Use less
    frequent/common words"): each occurrence of w is kept with probability
        P_keep(w) = min(1, sqrt(t / f(w))),   f(w) = count(w) / sum of counts,
    Mikolov's formula, t the `subsample` threshold (e.g. 1e-4; 0: keep all).
    The whole text is subsampled afresh for every pass (epoch), before windows are
    taken, so dropped words widen the window as in word2vec; a pass is
    `steps_per_pass` steps.
  * Window: for a centre word at a uniform position of the subsampled text, a
    radius r ~ U{1..window} (word2vec's dynamic window: near words count more) and
    a side; the target is the word r positions away on that side.
  * Negatives: K words per pair drawn from the notes' unigram^(3/4) distribution
        P(w_i) = count(w_i)^(3/4) / sum_j count(w_j)^(3/4)
    (not excluding the target: with V in the thousands a collision is rare).

GloVe (Pennington et al. 2014; notes 004 "GloVe word vectors"): X_ij = sum over
every occurrence of i and every j at distance d <= window on either side of 1/d
(the GloVe tool's distance weighting), so X is symmetric; kept as the list of its
nonzero entries (i, j, X_ij).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple, Sequence

import numpy as np

TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*")


def tokenize(text: str) -> list[str]:
  """Lower-case words: runs of a-z with inner apostrophes (module docstring)."""
  return TOKEN.findall(text.lower())


class Vocab(NamedTuple):
  words: tuple[str, ...]  # most frequent first
  counts_V: np.ndarray  # int64 count of each word in the text
  # word -> id; mypy takes a NamedTuple field named like tuple.index for an override
  index: dict[str, int]  # type: ignore[assignment]  # see above

  def __len__(self) -> int:
    return len(self.words)


def build_vocab(tokens: Sequence[str], max_size: int, min_count: int = 1) -> Vocab:
  """The `max_size` most frequent tokens with count >= min_count, ties alphabetical."""
  ranked = sorted(Counter(tokens).items(), key=lambda kv: (-kv[1], kv[0]))
  kept = [(w, n) for w, n in ranked if n >= min_count][:max_size]
  words = tuple(w for w, _ in kept)
  return Vocab(
    words, np.asarray([n for _, n in kept], np.int64), {w: i for i, w in enumerate(words)}
  )


def encode(tokens: Sequence[str], vocab: Vocab) -> np.ndarray:
  """ids_N (int32) of the tokens in the vocabulary, the others dropped."""
  return np.asarray([vocab.index[w] for w in tokens if w in vocab.index], np.int32)


def keep_probs(counts_V: np.ndarray, threshold: float) -> np.ndarray:
  """P_keep(w) = min(1, sqrt(t / f(w))), f = count / total; t = 0 keeps every word."""
  counts_V = np.asarray(counts_V, np.float64)
  if threshold <= 0:
    return np.ones_like(counts_V)
  f_V = counts_V / counts_V.sum()
  return np.minimum(1.0, np.sqrt(threshold / f_V))


def negative_probs(counts_V: np.ndarray, power: float = 0.75) -> np.ndarray:
  """The notes' negative-sampling distribution count^power / sum (power 3/4)."""
  w_V = np.asarray(counts_V, np.float64) ** power
  return w_V / w_V.sum()


def rng_for(seed: int, step: int, stream: int = 0) -> np.random.Generator:
  """The generator of step `step` (a pure function of seed, step and stream)."""
  return np.random.default_rng([seed, step, stream])


def subsample(ids_N: np.ndarray, keep_V: np.ndarray, *, seed: int, epoch: int) -> np.ndarray:
  """The text of pass `epoch`: each occurrence of w kept with P_keep(w), independently
  (a fresh draw each pass, as word2vec does each epoch)."""
  ids_N = np.asarray(ids_N)
  return ids_N[rng_for(seed, epoch, 2).random(len(ids_N)) < keep_V[ids_N]]


def steps_per_pass(ids_N: np.ndarray, keep_V: np.ndarray, batch: int) -> int:
  """Steps of `batch` centres in one pass: the expected length of a subsampled text
  (sum of P_keep over the text) / batch, at least 1."""
  return max(1, int(round(float(np.sum(keep_V[np.asarray(ids_N)])) / batch)))


class SgnsBatch(NamedTuple):
  center_B: np.ndarray  # int32 ids of the centre words
  context_B: np.ndarray  # int32 ids of the targets in their windows
  negatives_BxK: np.ndarray  # int32 ids from count^(3/4)
  valid_B: np.ndarray  # bool: False where the target would lie outside the text


def sgns_batch(
  text_M: np.ndarray,
  neg_cdf_V: np.ndarray,
  *,
  seed: int,
  step: int,
  batch: int,
  window: int,
  num_negatives: int,
) -> SgnsBatch:
  """The `batch` skip-gram pairs of step `step` from a (subsampled) text: centres at
  uniform positions p, radius r ~ U{1..window}, a side s = -1 or +1, target at
  p + s r (invalid when that is outside the text, so the loss leaves it out); K
  negatives per pair by inverse-CDF from `neg_cdf_V` (the cumulative
  negative_probs)."""
  m = len(text_M)
  rng = rng_for(seed, step)
  center_B = rng.integers(0, m, batch)
  offset_B = rng.integers(1, window + 1, batch) * np.where(rng.random(batch) < 0.5, -1, 1)
  target_B = center_B + offset_B
  valid_B = (target_B >= 0) & (target_B < m)
  negatives = np.searchsorted(neg_cdf_V, rng.random((batch, num_negatives)), side="right")
  return SgnsBatch(
    text_M[center_B].astype(np.int32),
    text_M[np.clip(target_B, 0, m - 1)].astype(np.int32),
    np.minimum(negatives, len(neg_cdf_V) - 1).astype(np.int32),
    valid_B,
  )


class Cooccurrence(NamedTuple):
  rows_E: np.ndarray  # int32 word i
  cols_E: np.ndarray  # int32 context word j
  values_E: np.ndarray  # float32 X_ij > 0


def cooccurrence(ids_N: np.ndarray, vocab_size: int, window: int) -> Cooccurrence:
  """The nonzero X_ij = sum over pairs at distance 1 <= d <= window of 1/d, both
  orders (X symmetric), sorted by (i, j)."""
  ids_N = np.asarray(ids_N, np.int64)
  keys, vals = [], []
  for d in range(1, min(window, len(ids_N) - 1) + 1):
    a, b = ids_N[:-d], ids_N[d:]
    keys += [a * vocab_size + b, b * vocab_size + a]
    vals += [np.full(2 * len(a), 1.0 / d)]
  if not keys:
    empty = np.empty(0, np.int32)
    return Cooccurrence(empty, empty, np.empty(0, np.float32))
  uniq, inverse = np.unique(np.concatenate(keys), return_inverse=True)
  x = np.bincount(inverse, weights=np.concatenate(vals))
  return Cooccurrence(
    (uniq // vocab_size).astype(np.int32),
    (uniq % vocab_size).astype(np.int32),
    x.astype(np.float32),
  )


def glove_batch(num_entries: int, *, seed: int, step: int, batch: int) -> np.ndarray:
  """Indices into the nonzero entries for step `step`: `batch` uniform draws (with
  replacement; every entry is equally likely, as in GloVe's shuffled passes)."""
  return rng_for(seed, step, 1).integers(0, num_entries, batch).astype(np.int32)
