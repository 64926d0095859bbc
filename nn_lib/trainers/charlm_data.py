"""The character language model's text, cut for truncated backpropagation through
time (notes 004 "Language model and sequence generation": x<t> = y<t-1>; "Vanishing
gradients with RNNs").

Training. The split's text (its rows concatenated: nn_lib.data.text_corpus keeps them
in text order), as ids 0..V-1, is cut into B = batch_size contiguous streams of
L = N // B characters, stream b = text[b L, (b + 1) L) (the last N mod B characters
dropped). Step s trains on window w = s mod W of every stream, W = (L - 1) // bptt:

  inputs  x_BxT = streams[:, w T     : w T + T],
  targets y_BxT = streams[:, w T + 1 : w T + T + 1],   T = bptt,

so window w + 1 of a stream continues window w's text exactly, and a recurrent model
that carries its state from one window to the next reads the streams as one long
text while its gradients stop at the window's start. The position is a pure function
of the step: a resumed run reads what the uninterrupted one read. A new pass over
the text (w = 0) starts the streams again, and the trainer resets their state.

Evaluation covers every prediction of a split once: its N - 1 (input, target) pairs,
in order, are cut into B_eval streams of L' = ceil((N - 1) / B_eval) pairs rounded
up to whole windows, and the padding at the end of the last stream(s) has the target
-1 (the losses ignore negative labels), so

  bits per character = sum over the N - 1 predictions of -log p(y_t | x_<=t) / (N - 1) / ln 2.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nn_lib import data as data_lib
from nn_lib.data import text_corpus
from nn_lib.registry import ConfigError

VOCAB_SIZE = len(text_corpus.BYTES_USED)  # 82 characters (bytes) the corpus uses
IGNORE = -1  # target of the padding: no loss, not counted


class EvalStreams(NamedTuple):
  """A split laid out for streaming evaluation: windows first, for a lax.scan."""

  inputs_WxBxT: np.ndarray  # int32 ids (0 on padding)
  targets_WxBxT: np.ndarray  # int32 ids, IGNORE on padding
  num_predictions: int  # N - 1: the real targets


def load_ids(cfg_data: Any, splits: tuple[str, ...]) -> dict[str, np.ndarray]:
  """split -> the split's text as ids_N (int32), for "train" and each of `splits`,
  read from the configured dataset (data.train_split / dev_split / test_split)."""
  names = {s: cfg_data.get(f"{s}_split", s) for s in ("train", *splits)}
  out = data_lib.load_splits(cfg_data, names)
  ids = {}
  for alias, split in out.items():
    rows = np.asarray(split["targets"])
    if rows.dtype != np.uint8 or rows.ndim != 2:
      raise ConfigError(
        f"config.data: the charlm trainer reads rows of bytes (N x "
        f"block uint8, e.g. data.name='austen_text'); {cfg_data.name!r} "
        f"gives {rows.dtype} of shape {rows.shape}"
      )
    ids[alias] = text_corpus.to_ids(rows.reshape(-1))
  return ids


def cut_streams(ids_N: np.ndarray, num_streams: int) -> np.ndarray:
  """streams_BxL: the text cut into `num_streams` contiguous pieces of L = N // B."""
  length = len(ids_N) // num_streams
  if length < 2:
    raise ConfigError(
      f"{len(ids_N)} characters cannot be cut into {num_streams} "
      "streams of at least 2; lower config.batch_size"
    )
  return np.asarray(ids_N[: num_streams * length], np.int32).reshape(num_streams, length)


def windows_per_pass(stream_len: int, bptt: int) -> int:
  """W: whole windows of `bptt` predictions in a stream of `stream_len` characters
  (a window needs bptt + 1 characters: its targets reach one further)."""
  return (stream_len - 1) // bptt


def window(streams_BxL: np.ndarray, step: int, bptt: int) -> tuple[np.ndarray, np.ndarray]:
  """(x_BxT, y_BxT) that training step `step` reads (the trainer's jitted version
  slices the same way; tests/test_charlm.py checks both)."""
  start = (step % windows_per_pass(streams_BxL.shape[1], bptt)) * bptt
  return (streams_BxL[:, start : start + bptt], streams_BxL[:, start + 1 : start + bptt + 1])


def eval_streams(ids_N: np.ndarray, num_streams: int, bptt: int) -> EvalStreams:
  """Every (x_t, y_t = x_{t+1}) pair of the text in `num_streams` streams of whole
  windows of `bptt`; the padding's targets are IGNORE."""
  pairs = len(ids_N) - 1
  if pairs < 1:
    raise ConfigError("an evaluation split needs at least 2 characters")
  per_stream = -(-pairs // num_streams)
  per_stream = -(-per_stream // bptt) * bptt
  x = np.zeros(num_streams * per_stream, np.int32)
  y = np.full(num_streams * per_stream, IGNORE, np.int32)
  x[:pairs], y[:pairs] = ids_N[:-1], ids_N[1:]

  def windows(a):  # B x L -> W x B x T
    return a.reshape(num_streams, per_stream // bptt, bptt).transpose(1, 0, 2)

  return EvalStreams(windows(x), windows(y), pairs)
