"""An English text corpus for character-level language models (notes 004 "Language
model and sequence generation": "Training set: large corpus of English text",
x<t> = y<t-1>; "Sampling a sequence from a trained RNN").

  austen_text  Jane Austen's six novels (public domain; assets/README.md), 4,024,616
               bytes of UTF-8 text cut into rows of BLOCK = 256 bytes, in text order:
               the first 90% of the rows train, the next 5% dev, the last 5% test.

The text: Sense and Sensibility, Pride and Prejudice, Mansfield Park, Emma,
Northanger Abbey and Persuasion, in that order, as Project Gutenberg's e-texts
without their licence boilerplate (shipped as assets/austen.txt.xz, made by
assets/make_corpus.py). Line breaks are the e-texts' (about 70 characters a line),
`_underscores_` mark italics, and novels are separated by four empty lines.

Vocabulary: the tokens are bytes (V = 256). The text uses 82 of them, `BYTES_USED`:
newline, 79 printable ASCII characters, and 0xC2 0xA3, the UTF-8 of the one
non-ASCII character, "£" (Mansfield Park's "£20,000"). `to_ids` maps the bytes to
a compact vocabulary 0..81 (index into BYTES_USED) for an 82-way softmax, and
`from_ids` maps back; `decode` turns bytes into text.

Splits are contiguous, so that dev and test are text the model has never seen a
part of: a random split of 256-byte rows would put each test row's neighbours in
training. Both lie in Persuasion (dev from 64 kB into it, then test to its end), so
they measure generalisation to new chapters of a novel whose first pages, and whose
author's five other novels, were trained on. The last len % BLOCK = 40 bytes (the
end of Persuasion's last sentence and "Finis") are dropped: every row is full.

Each row is both the input and the target: a language model predicts byte t + 1
from bytes 1..t, so the trainer shifts (`next_byte_pairs`). Rows of one split
concatenated are its contiguous text, so a trainer may also cut windows of any
length across rows.
"""

from __future__ import annotations

import lzma
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from nn_lib.data import builders

ASSET = "austen.txt.xz"
BLOCK = 256  # bytes per row
FRACTIONS = {"train": 0.90, "dev": 0.05, "test": 0.05}
# The bytes that occur in the corpus, sorted (tests/data/test_text_corpus.py checks it).
BYTES_USED = (
  b"\n !\"&'()*,-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz\xa3\xc2"
)
_BYTE_TO_ID = np.full(256, -1, np.int32)
_BYTE_TO_ID[np.frombuffer(BYTES_USED, np.uint8)] = np.arange(len(BYTES_USED))


def corpus_bytes() -> bytes:
  """The whole corpus, UTF-8 (4,024,616 bytes; SHA-256 in assets/README.md)."""
  return lzma.decompress((builders.ASSETS / ASSET).read_bytes())


def split_blocks(raw: bytes, block: int = BLOCK) -> dict[str, np.ndarray]:
  """split -> blocks_NxBLOCK (uint8): the text cut into len(raw) // block rows, the
  remainder dropped, and the rows shared out in order by FRACTIONS (dev and test
  get round(5% of the rows) each, train the rest)."""
  n = len(raw) // block
  rows_NxB = np.frombuffer(raw[: n * block], np.uint8).reshape(n, block)
  n_dev, n_test = (int(round(FRACTIONS[s] * n)) for s in ("dev", "test"))
  n_train = n - n_dev - n_test
  return {
    "train": rows_NxB[:n_train],
    "dev": rows_NxB[n_train : n_train + n_dev],
    "test": rows_NxB[n_train + n_dev :],
  }


def to_ids(bytes_: np.ndarray) -> np.ndarray:
  """Bytes -> ids 0..81 in the compact vocabulary BYTES_USED (int32). A byte the
  corpus never uses is an error: it has no id."""
  ids = _BYTE_TO_ID[np.asarray(bytes_, np.uint8)]
  if (ids < 0).any():
    unknown = sorted(set(np.asarray(bytes_, np.uint8)[ids < 0].tolist()))
    raise ValueError(f"bytes {unknown} do not occur in the corpus: no id in BYTES_USED")
  return ids


def from_ids(ids: np.ndarray) -> np.ndarray:
  """Ids 0..81 -> the bytes (uint8), the inverse of `to_ids`."""
  return np.frombuffer(BYTES_USED, np.uint8)[np.asarray(ids)]


def decode(bytes_: np.ndarray) -> str:
  """A row (or any run of bytes) as text. A row may begin or end inside "£"'s two
  bytes: those halves become U+FFFD rather than an error."""
  return np.asarray(bytes_, np.uint8).tobytes().decode("utf-8", errors="replace")


def next_byte_pairs(rows_NxT: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Rows -> (inputs_Nx(T-1), targets_Nx(T-1)): x<t> = y<t-1>, the text shifted by
  one byte (notes 004)."""
  rows_NxT = np.asarray(rows_NxT)
  return rows_NxT[:, :-1], rows_NxT[:, 1:]


@builders.register_embedded("austen_text")
class AustenText(builders._ArrayBuilder):  # pylint: disable=protected-access
  """Jane Austen's novels as rows of 256 bytes, contiguous 90/5/5 splits."""

  DESCRIPTION = (
    "Jane Austen's six novels (Project Gutenberg e-texts, public domain), "
    "4,024,616 bytes of UTF-8 in rows of 256 bytes in text order: 14,149 "
    "train / 786 dev / 786 test rows, contiguous. Input and target are the "
    "same bytes: a language model shifts them by one."
  )
  INPUT_KEY = TARGET_KEY = "text"
  INPUT_MAX = 1.0  # inputs are the byte values, as float32
  DISABLE_SHUFFLING = True  # rows in text order: concatenated, a split is its text
  SIZES: ClassVar[dict[str, int]] = {"train": 14149, "dev": 786, "test": 786}

  def _features(self):
    return {"text": tfds.features.Tensor(shape=(BLOCK,), dtype=np.uint8)}

  def _arrays(self):
    return {split: (rows, rows) for split, rows in split_blocks(corpus_bytes()).items()}
