"""BLEU, bilingual evaluation understudy (notes 004 "Bleu Score", "Bleu details";
Papineni et al. 2002), on token sequences.

Modified (clipped) n-gram precision of a candidate against its references:

  p_n = sum_{ngram} Count_clip(ngram) / sum_{ngram} Count(ngram),
  Count_clip(ngram) = min(Count in the candidate, max over references of its count)

(notes: "the the the the the the the" against "the cat is on the mat" / "there is a cat
on the mat" has p_1 = 2/7; "the cat the cat on the mat" has bigram p_2 = 4/6). With
c the candidate length and r the reference length closest to c (ties: the shorter),
the brevity penalty is BP = 1 if c > r else exp(1 - r / c), and

  BLEU = BP * exp( (1/N) sum_{n=1}^{N} log p_n ),   N = 4.

The notes print the combination as BP * exp(1/4 sum p_n), a typo for this standard
logarithmic form (a geometric mean of the p_n), which is what is implemented. BLEU is
0 if some p_n = 0, unless smoothed. Scores are in [0, 1] (sacrebleu reports 100x).

- `corpus_bleu`: Papineni's definition. Clipped counts, totals and the lengths c and
  r are summed over the whole corpus before combining; no smoothing by default.
  Equals sacrebleu's corpus BLEU with tokenize='none', smooth_method='none'.
- `sentence_bleu`: the same on one sentence. Short sentences often have no 4-gram
  match, so by default it smooths as sacrebleu.sentence_bleu does: smooth='exp'
  (Chen & Cherry 2014 method 3, mteval-v13a: the k-th order with no match gets
  p_n = 1 / (2^k Count)) and the "effective order" (orders of which the candidate has
  no n-gram at all, being shorter than n, are left out of the mean). Equals sacrebleu's
  sentence BLEU with tokenize='none' and the same smooth_method.

Tokens are any hashable items (words, integer ids: strip decoder padding first);
`characters` turns text into character tokens (sacrebleu's tokenize='char').
Host-side Python: counting n-grams is dictionary work on variable-length sequences.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Hashable, Sequence
from typing import NamedTuple

Tokens = Sequence[Hashable]
SMOOTHING = ("none", "exp", "floor", "add-k")


class BleuScore(NamedTuple):
  """score in [0, 1]; precisions p_1..p_N as used (after smoothing, 0 for an order
  left out); the brevity penalty; c and r; and the clipped / total n-gram counts."""

  score: float
  precisions: tuple[float, ...]
  brevity_penalty: float
  candidate_length: int
  reference_length: int
  matches: tuple[int, ...]
  totals: tuple[int, ...]


def characters(text: str) -> list[str]:
  """Character tokens of a text, whitespace dropped (as sacrebleu's tokenize='char',
  which splits on whitespace after spacing the characters out)."""
  return [ch for ch in text if not ch.isspace()]


def ngram_counts(tokens: Tokens, n: int) -> collections.Counter:
  """How often each n-gram (a tuple of n tokens) occurs in tokens."""
  tokens = tuple(tokens)
  return collections.Counter(tokens[i : i + n] for i in range(len(tokens) - n + 1))


def clipped_counts(
  candidate: Tokens, references: Sequence[Tokens], n: int
) -> dict[tuple, tuple[int, int]]:
  """ngram -> (Count, Count_clip) for each n-gram of the candidate: the notes' table."""
  max_ref: collections.Counter = collections.Counter()
  for reference in references:
    max_ref |= ngram_counts(reference, n)  # | keeps the larger count of each n-gram
  return {g: (count, min(count, max_ref[g])) for g, count in ngram_counts(candidate, n).items()}


def modified_precision(candidate: Tokens, references: Sequence[Tokens], n: int) -> tuple[int, int]:
  """(sum Count_clip, sum Count) over the candidate's n-grams; p_n is their ratio
  (kept as two integers so that 4/6 stays 4/6)."""
  table = clipped_counts(candidate, references, n)
  return (sum(clip for _, clip in table.values()), sum(count for count, _ in table.values()))


def closest_reference_length(candidate_length: int, reference_lengths: Sequence[int]) -> int:
  """The reference length r closest to c (ties: the shorter), Papineni's "best match"."""
  if not reference_lengths:
    raise ValueError("BLEU needs at least one reference per candidate")
  return min(reference_lengths, key=lambda r: (abs(r - candidate_length), r))


def brevity_penalty(candidate_length: int, reference_length: int) -> float:
  """BP = 1 if c > r, else exp(1 - r / c) (0 for an empty candidate)."""
  if candidate_length >= reference_length:
    return 1.0
  return math.exp(1.0 - reference_length / candidate_length) if candidate_length else 0.0


def _statistics(candidate: Tokens, references: Sequence[Tokens], max_n: int):
  stats = [modified_precision(candidate, references, n) for n in range(1, max_n + 1)]
  c = len(candidate)
  return (
    [m for m, _ in stats],
    [t for _, t in stats],
    c,
    closest_reference_length(c, [len(r) for r in references]),
  )


def _combine(
  matches: list[int],
  totals: list[int],
  c: int,
  r: int,
  *,
  smooth: str,
  smooth_value: float | None,
  effective_order: bool,
) -> BleuScore:
  """BLEU from the summed statistics, the smoothing following sacrebleu's
  `BLEU.compute_bleu` step by step (the test checks equality with it)."""
  if smooth not in SMOOTHING:
    raise ValueError(f"BLEU smooth must be one of {SMOOTHING}; got {smooth!r}")
  if smooth_value is None:
    smooth_value = {"floor": 0.1, "add-k": 1}.get(smooth, 0.0)
  bp = brevity_penalty(c, r)
  max_n = len(matches)
  precisions = [0.0] * max_n

  def result(score: float) -> BleuScore:
    return BleuScore(score, tuple(precisions), bp, c, r, tuple(matches), tuple(totals))

  if not any(matches):
    return result(0.0)
  order, halvings, log_sum = max_n, 0, 0.0
  match: float  # counts, plus smooth_value with add-k
  total: float
  for n in range(max_n):
    match, total = matches[n], totals[n]
    if smooth == "add-k" and n > 0:  # Lin and Och's add-one, for n >= 2 only
      match, total = match + smooth_value, total + smooth_value
    if total == 0:  # the candidate is shorter than n: no n-gram to count
      if not effective_order:
        return result(0.0)
      order = n
      break
    if match > 0:
      precisions[n] = match / total
    elif smooth == "exp":
      halvings += 1
      precisions[n] = 1.0 / (2**halvings * total)
    elif smooth == "floor":
      precisions[n] = smooth_value / total
    else:
      return result(0.0)
    log_sum += math.log(precisions[n])
  return result(bp * math.exp(log_sum / order))


def sentence_bleu(
  candidate: Tokens,
  references: Sequence[Tokens],
  *,
  max_n: int = 4,
  smooth: str = "exp",
  smooth_value: float | None = None,
) -> BleuScore:
  """BLEU of one candidate against its references, with the effective order and
  smoothing ("exp" default; "none", "floor" (value 0.1), "add-k" (value 1) as in
  sacrebleu) described in the module docstring."""
  matches, totals, c, r = _statistics(candidate, references, max_n)
  return _combine(
    matches, totals, c, r, smooth=smooth, smooth_value=smooth_value, effective_order=True
  )


def corpus_bleu(
  candidates: Sequence[Tokens],
  references: Sequence[Sequence[Tokens]],
  *,
  max_n: int = 4,
  smooth: str = "none",
  smooth_value: float | None = None,
) -> BleuScore:
  """Corpus BLEU: references[i] are the (one or more) references of candidates[i];
  matches, totals, c and r are summed over the corpus, then combined once (no
  effective order; smoothing as `sentence_bleu`, none by default)."""
  if len(candidates) != len(references):
    raise ValueError(
      f"corpus_bleu: {len(candidates)} candidates but "
      f"{len(references)} reference lists (one list per candidate)"
    )
  matches, totals, c, r = [0] * max_n, [0] * max_n, 0, 0
  for candidate, refs in zip(candidates, references):
    m, t, ci, ri = _statistics(candidate, refs, max_n)
    matches = [a + b for a, b in zip(matches, m)]
    totals = [a + b for a, b in zip(totals, t)]
    c, r = c + ci, r + ri
  return _combine(
    matches, totals, c, r, smooth=smooth, smooth_value=smooth_value, effective_order=False
  )
