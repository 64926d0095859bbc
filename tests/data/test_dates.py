"""The synthetic date-normalisation pairs (notes 004 "Attention model"): weekdays are
true, every format occurs, targets decode to the ISO form of the input's date, the
token encoding is as documented, and the builder is deterministic."""
from __future__ import annotations

import datetime
import re

import ml_collections
import numpy as np
import pytest

from nn_lib import data
from nn_lib.data import dates as D

N = 2000


@pytest.fixture(scope="module")
def drawn():
  return D.date_pairs(N, seed=D.Dates.SEED)


def _parse(text: str) -> datetime.date:
  """The input read back independently of the generator: strptime per layout, with
  ordinals stripped and two-digit years in the window 1950..2049."""
  plain = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text).replace("the ", "", 1)
  plain = plain.replace(" of ", " ")
  for layout in ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%A, %B %d %Y", "%a %d %b %Y",
                 "%A %d %B %Y", "%d %B, %Y", "%b %d '%y", "%m/%d/%y", "%m/%d/%Y",
                 "%d.%m.%Y", "%d-%b-%y", "%Y-%m-%d", "%Y%m%d", "%A %B %d, %Y"):
    try:
      parsed = datetime.datetime.strptime(plain, layout).date()
    except ValueError:
      continue
    if "%y" in layout and parsed.year >= 2050:  # strptime's window is 1969..2068
      parsed = parsed.replace(year=parsed.year - 100)
    elif "%y" in layout and parsed.year < 1950:
      parsed = parsed.replace(year=parsed.year + 100)
    if "%A" in layout or "%a" in layout:  # strptime ignores the weekday: check it
      weekday = text.split()[0].rstrip(",").lower()
      assert parsed.strftime("%A").lower().startswith(weekday), text
    return parsed
  raise AssertionError(f"no layout reads {text!r}")


def test_by_hand():
  may3 = datetime.date(1979, 5, 3)  # a Thursday
  out = {name: fmt(may3) for name, fmt in D.FORMATS.items()}
  assert out == {
      "d MMMM yyyy": "3 May 1979", "dd MMM yyyy": "03 May 1979",
      "MMMM d, yyyy": "May 3, 1979", "mmmm dth, yyyy": "may 3rd, 1979",
      "EEEE, MMMM d yyyy": "Thursday, May 3 1979", "EEE d MMM yyyy": "Thu 3 May 1979",
      "EEEE dth MMMM yyyy": "Thursday 3rd May 1979",
      "the dth of MMMM, yyyy": "the 3rd of May, 1979", "MMM d 'yy": "May 3 '79",
      "MM/dd/yy": "05/03/79", "M/d/yyyy": "5/3/1979", "dd.MM.yyyy": "03.05.1979",
      "dd-MMM-yy": "03-MAY-79", "yyyy-MM-dd": "1979-05-03", "yyyyMMdd": "19790503",
      "EEEE MMMM d, yyyy (upper)": "THURSDAY MAY 3, 1979"}
  assert D.FORMATS["EEEE, MMMM d yyyy"](datetime.date(2008, 3, 4)) == "Tuesday, March 4 2008"
  assert [D.FORMATS["mmmm dth, yyyy"](datetime.date(2001, 1, d))[:-6]
          for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
              "january 1st", "january 2nd", "january 3rd", "january 4th", "january 11th",
              "january 12th", "january 13th", "january 21st", "january 22nd",
              "january 23rd", "january 31st"]
  tokens = D.encode("May 3 '79", D.MAX_INPUT_LEN)
  assert tokens.dtype == np.int32 and tokens.shape == (32,)
  # space 3, ' 4, 0-9 9..18, A-Z 19..44, a-z 45..70; then EOS 1 and PAD 0
  assert tokens[:10].tolist() == [31, 45, 69, 3, 12, 3, 4, 16, 18, D.EOS]
  assert not tokens[10:].any() and D.decode(tokens) == "May 3 '79"
  assert len(D.VOCAB) == 71 and D.VOCAB[:3] == ("<pad>", "<eos>", "<bos>")
  with pytest.raises(ValueError, match="needs 33 tokens with EOS; the limit is 32"):
    D.encode("x" * 32, D.MAX_INPUT_LEN)
  with pytest.raises(ValueError, match=r"outside the vocabulary: \['#'\]"):
    D.encode_pairs(["#1"], [may3])


def test_every_format_occurs_and_weekdays_are_true(drawn):
  texts, dates, formats = drawn
  counts = np.bincount(formats, minlength=len(D.FORMATS))
  assert len(counts) == 16 and counts.min() >= 90  # ~125 each
  names = [day.lower() for day in ("Monday", "Tuesday", "Wednesday", "Thursday",
                                   "Friday", "Saturday", "Sunday")]
  checked = 0
  for text, date, f in zip(texts, dates, formats):
    if "EEE" in D.FORMAT_NAMES[f]:
      assert names[date.weekday()].startswith(text.split()[0].rstrip(",").lower())
      checked += 1
  assert checked == sum(counts[i] for i, n in enumerate(D.FORMAT_NAMES) if "EEE" in n)
  assert len(set(dates)) == N  # no date twice
  assert min(dates) >= D.FIRST_DAY and max(dates) <= D.LAST_DAY
  assert max(map(len, texts)) <= 29


def test_targets_decode_to_the_iso_date_of_the_parsed_input(drawn):
  texts, dates, _ = drawn
  inputs, targets = D.encode_pairs(texts, dates)
  assert inputs.shape == (N, 32) and targets.shape == (N, 11)
  assert inputs.dtype == targets.dtype == np.int32
  assert (targets[:, -1] == D.EOS).all() and (inputs.max() < len(D.VOCAB))
  for row in range(N):
    text = D.decode(inputs[row])
    assert text == texts[row]
    np.testing.assert_array_equal(inputs[row], D.encode(text, D.MAX_INPUT_LEN))
    assert D.decode(targets[row]) == _parse(text).isoformat()
  # the first EOS of each input sits at its length, PAD after it
  lengths = np.array([len(t) for t in texts])
  assert (inputs[np.arange(N), lengths] == D.EOS).all()
  assert ((inputs == D.PAD) == (np.arange(32) > lengths[:, None])).all()


def test_pairs_are_deterministic_and_seeded():
  a, b, c = D.date_pairs(50, 1), D.date_pairs(50, 1), D.date_pairs(50, 2)
  assert a[0] == b[0] and a[1] == b[1] and (a[2] == b[2]).all()
  assert a[0] != c[0]
  with pytest.raises(ValueError, match="must be in 0..36525"):
    D.date_pairs(36526, 0)


def test_builder_splits_hold_distinct_dates_in_draw_order():
  cfg = ml_collections.ConfigDict({"source": "embedded", "name": "dates",
                                   "train_split": "train[:5]", "test_split": "test[:4]"})
  splits = data.load(cfg)
  texts, dates, _ = D.date_pairs(13000, D.Dates.SEED)
  x, y = D.encode_pairs(texts, dates)
  np.testing.assert_array_equal(splits["train"]["inputs"], x[:5])
  np.testing.assert_array_equal(splits["train"]["targets"], y[:5])
  np.testing.assert_array_equal(splits["test"]["targets"], y[11000:11004])
  assert splits["train"]["targets"].dtype == np.int32
  assert D.decode(splits["test"]["targets"][0]) == dates[11000].isoformat()
