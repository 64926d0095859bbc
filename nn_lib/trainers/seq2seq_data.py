"""The sequence-to-sequence trainer's data and scores (notes 004 "Sequence to sequence
model", "Bleu Score"): pairs of token arrays (source, target) in the character
vocabulary of nn_lib.data.dates (0 pad, 1 eos, 2 bos, 3.. characters), teacher
forcing's decoder inputs, mini-batches by epoch, and the scores of decoded strings.

Teacher forcing (notes 004, "Sequence to sequence model"): the decoder that predicts
y<t> is fed the true y<t-1>, from <bos>:

  decoder input  = <bos> y<1> ... y<T-1>,   targets = y<1> ... y<T>   (y<T_y> = <eos>).

Mini-batches: chunks.epoch_rows (epoch e = step // S visits the N training pairs in
the order of a permutation drawn from (seed, e), S = N // B batches of B). A pure
function of the step: a resumed run reads what the uninterrupted one read.

Scores of decoded outputs, on text (the characters before the first <eos>):
  exact match = fraction of outputs equal to their reference, whole string;
  character BLEU = corpus BLEU (nn_lib.metrics.bleu, N = 4, no smoothing) with every
  character a token (bleu.characters: whitespace dropped), one reference each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nn_lib import data as data_lib
from nn_lib.data import dates
from nn_lib.metrics import bleu
from nn_lib.registry import ConfigError

PAD, EOS, BOS = dates.PAD, dates.EOS, dates.BOS
VOCAB_SIZE = len(dates.VOCAB)  # 71 tokens: 3 special + 68 characters


class Pairs(NamedTuple):
  """One split: src_NxS and tgt_NxT, int32 tokens (each row ends with EOS, then PAD)."""

  src_NxS: np.ndarray
  tgt_NxT: np.ndarray


def _as_tokens(a: np.ndarray, what: str, cfg_data: Any) -> np.ndarray:
  """Token ids stored as float32 (embedded data's inputs) back to int32, checked."""
  a = np.asarray(a)
  if a.ndim != 2 or not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
    raise ConfigError(
      f"config.data: the seq2seq trainer reads N x length token arrays "
      f"(e.g. data.name='dates'); {cfg_data.name!r} gives {what} of "
      f"dtype {a.dtype} and shape {a.shape} that are not whole token ids"
    )
  ids = a.astype(np.int32)
  if ids.min() < 0 or ids.max() >= VOCAB_SIZE:
    raise ConfigError(
      f"config.data: {cfg_data.name!r} {what} hold token ids in "
      f"[{ids.min()}, {ids.max()}]; the vocabulary (nn_lib.data.dates."
      f"VOCAB) has ids 0..{VOCAB_SIZE - 1}"
    )
  return ids


def load_pairs(cfg_data: Any, splits: Sequence[str]) -> dict[str, Pairs]:
  """split -> Pairs for "train" and each of `splits` (data.{train,dev,test}_split)."""
  names = {s: cfg_data.get(f"{s}_split", s) for s in ("train", *splits)}
  out = data_lib.load_splits(cfg_data, names)
  pairs = {}
  for alias, split in out.items():
    src = _as_tokens(split["inputs"], "inputs", cfg_data)
    tgt = _as_tokens(split["targets"], "targets", cfg_data)
    if not np.all(np.any(tgt == EOS, axis=1)):
      raise ConfigError(
        f"config.data: every target of {cfg_data.name!r} must end with "
        f"<eos> (token {EOS}) within its {tgt.shape[1]} tokens"
      )
    pairs[alias] = Pairs(src, tgt)
  return pairs


def decoder_inputs(tgt_BxT: jax.Array) -> jax.Array:
  """<bos> y<1> ... y<T-1>: the targets shifted right by one (teacher forcing)."""
  bos_Bx1 = jnp.full((tgt_BxT.shape[0], 1), BOS, tgt_BxT.dtype)
  return jnp.concatenate([bos_Bx1, tgt_BxT[:, :-1]], axis=1)


def texts(tokens_NxL: np.ndarray) -> list[str]:
  """The text of each row: its characters before the first EOS."""
  return [dates.decode(row) for row in np.asarray(tokens_NxL)]


def token_labels(tokens_L: np.ndarray) -> list[str]:
  """A row's tokens up to and including its first EOS, as strings ('<eos>' for EOS,
  U+2423 for a space, which would not show as a tick label)."""
  out = []
  for t in np.asarray(tokens_L).tolist():
    out.append("\u2423" if dates.VOCAB[t] == " " else dates.VOCAB[t])  # a visible space
    if t == EOS:
      break
  return out


def exact_match(predicted: Sequence[str], references: Sequence[str]) -> float:
  """Fraction of predicted strings equal to their reference."""
  if len(predicted) != len(references) or not references:
    raise ValueError(
      f"exact_match: {len(predicted)} predictions for "
      f"{len(references)} references (need equal, >= 1)"
    )
  return float(np.mean([p == r for p, r in zip(predicted, references)]))


def char_bleu(predicted: Sequence[str], references: Sequence[str]) -> float:
  """Corpus BLEU over characters, one reference per output."""
  return bleu.corpus_bleu(
    [bleu.characters(p) for p in predicted], [[bleu.characters(r)] for r in references]
  ).score


def eval_batches(pairs: Pairs, batch_size: int):
  """(src_BxS, tgt_BxT, real) of each batch: the split in order, the last batch
  filled up with copies of the first row (one compiled shape); `real` rows count."""
  n = len(pairs.src_NxS)
  for i in range(0, n, batch_size):
    idx = np.arange(i, i + batch_size)
    real = min(batch_size, n - i)
    idx[real:] = 0
    yield pairs.src_NxS[idx], pairs.tgt_NxT[idx], real
