"""Date normalisation, a character-level sequence-to-sequence task (notes 004
"Attention model": an encoder reads the input, the decoder writes the output one
token at a time paying attention d<t,t'> to the input positions; "Sequence to
sequence model", "Beam Search").

  dates  "3 May 1979", "Thursday, May 3 1979", "05/03/79", "may 3rd, 1979", ...
         -> "1979-05-03": 10,000 train / 1,000 dev / 2,000 test pairs, each input
         in one of the FORMATS, as token arrays (below). (10,000 training pairs
         are ample for an attention model here, and keep preparation near a
         second.)

Dates are drawn uniformly from 1950-01-01 .. 2049-12-31 (36,525 days) without
replacement, so no date occurs twice: dev and test dates are never seen in
training, in any format. In that range a two-digit year yy is unambiguous (50..99 ->
19yy, 00..49 -> 20yy). Every weekday name is the true weekday of its date.
Slashes are always month first (US: "05/03/79" is 3 May 1979), dots always day
first ("03.05.1979"), so no input has two readings.

Tokens (one vocabulary, VOCAB, for inputs and targets):
  0 PAD   fills each array after its end-of-sequence token
  1 EOS   ends every input and every target
  2 BOS   not stored: reserved for a decoder's start token (teacher forcing feeds
          BOS, y1, ..., y10 to predict y1, ..., y10, EOS)
  3..70   the characters of CHARS, in that order: space ' , - . / 0-9 A-Z a-z
Inputs are MAX_INPUT_LEN = 32 tokens: the characters (29 at most, e.g. "Wednesday
14th September 1988"), EOS, then PAD. Targets are TARGET_LEN = 11 tokens: the 10
ISO characters and EOS, never padded.
"""

from __future__ import annotations

import datetime
from typing import Callable, ClassVar

import numpy as np
import tensorflow_datasets as tfds

from nn_lib.data import builders

PAD, EOS, BOS = 0, 1, 2
CHARS = " ',-./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
VOCAB = ("<pad>", "<eos>", "<bos>") + tuple(CHARS)
MAX_INPUT_LEN = 32
TARGET_LEN = 11
FIRST_DAY, LAST_DAY = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)
_IDS = {c: i for i, c in enumerate(VOCAB) if len(c) == 1}
_BYTE_IDS = np.full(256, -1, np.int32)  # ASCII byte -> token (NUL -> PAD)
_BYTE_IDS[0] = PAD
_BYTE_IDS[[ord(c) for c in CHARS]] = [_IDS[c] for c in CHARS]

# English names, spelled out: `calendar` and strftime follow the locale.
_MONTHS = (
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ordinal(day: int) -> str:
  """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, 22nd, 23rd, ..., 31st."""
  suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
  return f"{day}{suffix}"


def _month(d: datetime.date) -> str:
  return _MONTHS[d.month - 1]


def _weekday(d: datetime.date) -> str:
  return _DAYS[d.weekday()]


# name -> date -> text. Names say the layout (d day, dd zero-padded, M month number,
# MMM/MMMM month abbreviated/full, EEE/EEEE weekday, yy/yyyy year), as in CLDR/Java.
FORMATS: dict[str, Callable[[datetime.date], str]] = {
  "d MMMM yyyy": lambda d: f"{d.day} {_month(d)} {d.year}",
  "dd MMM yyyy": lambda d: f"{d.day:02d} {_month(d)[:3]} {d.year}",
  "MMMM d, yyyy": lambda d: f"{_month(d)} {d.day}, {d.year}",
  "mmmm dth, yyyy": lambda d: f"{_month(d).lower()} {_ordinal(d.day)}, {d.year}",
  "EEEE, MMMM d yyyy": lambda d: f"{_weekday(d)}, {_month(d)} {d.day} {d.year}",
  "EEE d MMM yyyy": lambda d: f"{_weekday(d)[:3]} {d.day} {_month(d)[:3]} {d.year}",
  "EEEE dth MMMM yyyy": lambda d: f"{_weekday(d)} {_ordinal(d.day)} {_month(d)} {d.year}",
  "the dth of MMMM, yyyy": lambda d: f"the {_ordinal(d.day)} of {_month(d)}, {d.year}",
  "MMM d 'yy": lambda d: f"{_month(d)[:3]} {d.day} '{d.year % 100:02d}",
  "MM/dd/yy": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
  "M/d/yyyy": lambda d: f"{d.month}/{d.day}/{d.year}",
  "dd.MM.yyyy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
  "dd-MMM-yy": lambda d: f"{d.day:02d}-{_month(d)[:3].upper()}-{d.year % 100:02d}",
  "yyyy-MM-dd": lambda d: d.isoformat(),
  "yyyyMMdd": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
  "EEEE MMMM d, yyyy (upper)": lambda d: f"{_weekday(d)} {_month(d)} {d.day}, {d.year}".upper(),
}
FORMAT_NAMES = tuple(FORMATS)


def encode(text: str, length: int) -> np.ndarray:
  """Text -> `length` tokens (int32): its characters' ids, EOS, then PAD."""
  if len(text) + 1 > length:
    raise ValueError(f"{text!r} needs {len(text) + 1} tokens with EOS; the limit is {length}")
  unknown = sorted(set(text) - set(_IDS))
  if unknown:
    raise ValueError(f"{text!r} holds characters outside the vocabulary: {unknown}")
  tokens = np.full(length, PAD, np.int32)
  tokens[: len(text)] = [_IDS[c] for c in text]
  tokens[len(text)] = EOS
  return tokens


def decode(tokens: np.ndarray) -> str:
  """Tokens -> text: the characters before the first EOS (PAD and BOS skipped)."""
  out = []
  for t in np.asarray(tokens).tolist():
    if t == EOS:
      break
    if t > BOS:
      out.append(VOCAB[t])
  return "".join(out)


def date_pairs(n: int, seed: int) -> tuple[list[str], list[datetime.date], np.ndarray]:
  """`n` distinct dates drawn uniformly from FIRST_DAY..LAST_DAY and written in a
  format drawn uniformly from FORMATS. Returns (texts, dates, format ids into
  FORMAT_NAMES), a pure function of (n, seed)."""
  days = (LAST_DAY - FIRST_DAY).days + 1
  if not 0 <= n <= days:
    raise ValueError(f"n={n} distinct dates must be in 0..{days}")
  rng = np.random.default_rng(seed)
  offsets = rng.choice(days, size=n, replace=False)
  formats = rng.integers(len(FORMATS), size=n)
  dates = [FIRST_DAY + datetime.timedelta(days=int(k)) for k in offsets]
  texts = [FORMATS[FORMAT_NAMES[f]](d) for d, f in zip(dates, formats)]
  return texts, dates, formats


def encode_pairs(texts: list[str], dates: list[datetime.date]) -> tuple[np.ndarray, np.ndarray]:
  """-> (inputs_NxMAX_INPUT_LEN, targets_NxTARGET_LEN), int32 tokens, each row
  `encode(text)`, made by one table lookup over all rows."""

  def tokens(strings: list[str], length: int) -> np.ndarray:
    bad = [t for t in strings if len(t) + 1 > length or not t.isascii()]
    if bad:
      encode(bad[0], length)  # raises, naming the text
    # NUL-padded ASCII bytes; NUL -> PAD, and EOS goes at each text's length
    chars_NxL = np.array(strings, dtype=f"S{length}").view(np.uint8).reshape(-1, length)
    ids_NxL = _BYTE_IDS[chars_NxL]
    if (ids_NxL < 0).any():
      encode(strings[int(np.argmax((ids_NxL < 0).any(axis=1)))], length)  # raises
    ids_NxL[np.arange(len(strings)), [len(t) for t in strings]] = EOS
    return ids_NxL

  return tokens(texts, MAX_INPUT_LEN), tokens([d.isoformat() for d in dates], TARGET_LEN)


@builders.register_embedded("dates")
class Dates(builders._ArrayBuilder):  # pylint: disable=protected-access
  """Human-readable dates in 16 formats -> ISO YYYY-MM-DD, as token arrays."""

  DESCRIPTION = (
    "Dates 1950-2049 written in 16 human formats ('3 May 1979', "
    "'Thursday, May 3 1979', '05/03/79', ...) -> ISO 'YYYY-MM-DD'; "
    "10,000 train / 1,000 dev / 2,000 test, no date twice; char tokens "
    "(0 pad, 1 eos, 2 bos, 3.. characters), inputs 32, targets 11."
  )
  INPUT_KEY, TARGET_KEY = "text", "iso"
  INPUT_MAX = 1.0  # inputs are token ids, as float32
  DISABLE_SHUFFLING = True  # split[:k] is the first k pairs drawn
  SIZES: ClassVar[dict[str, int]] = {"train": 10000, "dev": 1000, "test": 2000}
  SEED = 14

  def _features(self):
    return {
      "text": tfds.features.Tensor(shape=(MAX_INPUT_LEN,), dtype=np.int32),
      "iso": tfds.features.Tensor(shape=(TARGET_LEN,), dtype=np.int32),
    }

  def _arrays(self):
    # One draw for all splits, cut in order: dates never repeat across splits.
    texts, dates, _ = date_pairs(sum(self.SIZES.values()), self.SEED)
    inputs, targets = encode_pairs(texts, dates)
    out, start = {}, 0
    for split, n in self.SIZES.items():
      out[split] = (inputs[start : start + n], targets[start : start + n])
      start += n
    return out
