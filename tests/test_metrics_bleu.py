"""BLEU (notes 004 "Bleu Score", "Bleu details"): the notes' modified-precision
examples, a hand-computed combination, and equality with sacrebleu's sentence and
corpus BLEU on generated sentence pairs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sacrebleu

from nn_lib import metrics


def _words(text: str) -> list[str]:
  return text.split()


REFS = [_words("the cat is on the mat"), _words("there is a cat on the mat")]


def test_notes_modified_precision_of_the_the_the():
  # Count_clip("the") = 2, the most "the" in one reference; the notes' 2/7 is the
  # usual seven-word output (the notes print five words: that output has 2/5).
  assert metrics.modified_precision(["the"] * 7, REFS, 1) == (2, 7)
  assert metrics.modified_precision(["the"] * 5, REFS, 1) == (2, 5)
  assert metrics.clipped_counts(["the"] * 7, REFS, 1) == {("the",): (7, 2)}


def test_notes_bigram_table_of_the_cat_the_cat_on_the_mat():
  candidate = _words("the cat the cat on the mat")
  # The notes' table: bigram, Count, Count_clip.
  assert metrics.clipped_counts(candidate, REFS, 2) == {
      ("the", "cat"): (2, 1), ("cat", "the"): (1, 0), ("cat", "on"): (1, 1),
      ("on", "the"): (1, 1), ("the", "mat"): (1, 1)}
  assert metrics.modified_precision(candidate, REFS, 2) == (4, 6)
  # Unigrams: the 3 (clip 2), cat 2 (clip 1), on 1, mat 1: 5/7. Trigrams: only
  # "cat on the" and "on the mat" are in a reference: 2/5. 4-grams: "cat on the mat": 1/4.
  assert metrics.modified_precision(candidate, REFS, 1) == (5, 7)
  assert metrics.modified_precision(candidate, REFS, 3) == (2, 5)
  assert metrics.modified_precision(candidate, REFS, 4) == (1, 4)
  # c = 7 equals the second reference's length: BP = 1, and
  # BLEU = (5/7 * 4/6 * 2/5 * 1/4)^(1/4) = (1/21)^(1/4).
  for score in (metrics.sentence_bleu(candidate, REFS, smooth="none"),
                metrics.corpus_bleu([candidate], [REFS])):
    assert score.brevity_penalty == 1.0 and score.reference_length == 7
    assert score.score == pytest.approx((1 / 21) ** 0.25, rel=1e-12)
    assert score.matches == (5, 4, 2, 1) and score.totals == (7, 6, 5, 4)


def test_brevity_penalty_and_closest_reference():
  assert metrics.closest_reference_length(5, [3, 7]) == 3  # equally close: the shorter
  assert metrics.closest_reference_length(6, [3, 7]) == 7
  assert metrics.brevity_penalty(4, 6) == pytest.approx(math.exp(1 - 6 / 4))
  assert metrics.brevity_penalty(6, 6) == metrics.brevity_penalty(9, 6) == 1.0
  assert metrics.brevity_penalty(0, 6) == 0.0
  # A perfect but short candidate is only penalised for its length.
  short = metrics.sentence_bleu(_words("the cat is on"), [REFS[0]], smooth="none")
  assert short.precisions == (1.0, 1.0, 1.0, 1.0)
  assert short.score == pytest.approx(math.exp(1 - 6 / 4))


def _generated_pairs(count: int = 50, seed: int = 0):
  """Candidates made by editing a reference (substitute, drop, insert words) or drawn
  at random, from a small vocabulary so that n-grams match; some are empty or shorter
  than 4 words (the effective order), and each has 1 to 3 references."""
  rng = np.random.default_rng(seed)
  vocab = _words("the a cat dog sat on mat rug is")

  def sentence(lo, hi):
    return [vocab[i] for i in rng.integers(0, len(vocab), rng.integers(lo, hi))]

  pairs = []
  for i in range(count):
    refs = [sentence(3, 13) for _ in range(rng.integers(1, 4))]
    if i % 5 == 0:
      candidate = sentence(0, 4)
    else:
      candidate = []
      for word in refs[0]:
        r = rng.random()
        if r < 0.15:
          continue
        candidate.append(vocab[rng.integers(len(vocab))] if r < 0.35 else word)
        if rng.random() < 0.1:
          candidate.append(vocab[rng.integers(len(vocab))])
    pairs.append((candidate, refs))
  return pairs


PAIRS = _generated_pairs()


@pytest.mark.parametrize("smooth", ["exp", "none", "floor", "add-k"])
def test_sentence_bleu_equals_sacrebleu(smooth):
  scores = []
  for candidate, refs in PAIRS:
    ours = metrics.sentence_bleu(candidate, refs, smooth=smooth).score
    theirs = sacrebleu.sentence_bleu(" ".join(candidate), [" ".join(r) for r in refs],
                                     smooth_method=smooth, tokenize="none").score / 100
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), (candidate, refs)
    scores.append(ours)
  # The cases are varied: zero, partial and (near) perfect scores all occur.
  assert min(scores) == 0.0 and 0.5 < max(scores) and len(set(scores)) > 15


def test_corpus_bleu_equals_sacrebleu():
  candidates = [c for c, _ in PAIRS]
  refs = [r[:1] + r[:1] if len(r) == 1 else r[:2] for _, r in PAIRS]  # 2 per candidate
  streams = [[" ".join(r[k]) for r in refs] for k in range(2)]
  theirs = sacrebleu.corpus_bleu([" ".join(c) for c in candidates], streams,
                                 smooth_method="none", tokenize="none")
  ours = metrics.corpus_bleu(candidates, refs)
  assert 0.1 < ours.score < 0.9
  assert ours.score == pytest.approx(theirs.score / 100, rel=1e-9)
  assert ours.brevity_penalty == pytest.approx(theirs.bp, rel=1e-12)
  assert (ours.candidate_length, ours.reference_length) == (theirs.sys_len, theirs.ref_len)
  assert list(ours.matches) == list(theirs.counts)
  assert list(ours.totals) == list(theirs.totals)
  # Without smoothing a corpus with no 4-gram match scores 0, as in sacrebleu.
  unigrams = [["cat"], ["mat", "the"]]
  assert metrics.corpus_bleu(unigrams, [REFS, REFS]).score == 0.0
  assert sacrebleu.corpus_bleu(["cat", "mat the"], [[" ".join(REFS[0])] * 2],
                               smooth_method="none", tokenize="none").score == 0.0


def test_character_bleu_equals_sacrebleu_char_tokenization():
  texts = [("the cat sat", ["the cat sat on it", "a cat sat"]),
           ("a dog  on the mat", ["the dog is on the mat"]), ("", ["abc"])]
  for candidate, refs in texts:
    ours = metrics.sentence_bleu(metrics.characters(candidate),
                                 [metrics.characters(r) for r in refs]).score
    theirs = sacrebleu.sentence_bleu(candidate, refs, tokenize="char").score / 100
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
  assert metrics.characters("a b\tc") == ["a", "b", "c"]


def test_integer_tokens_and_bad_arguments():
  # Decoder outputs are token ids: any hashable token works.
  assert metrics.sentence_bleu([3, 4, 5, 6], [[3, 4, 5, 6]]).score == 1.0
  with pytest.raises(ValueError, match="smooth must be one of"):
    metrics.sentence_bleu([1], [[1]], smooth="laplace")
  with pytest.raises(ValueError, match="one list per candidate"):
    metrics.corpus_bleu([[1], [2]], [[[1]]])
  with pytest.raises(ValueError, match="at least one reference"):
    metrics.sentence_bleu([1], [])
