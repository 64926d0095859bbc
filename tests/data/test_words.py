"""Tokenisation and vocabulary of nn_lib.data.words, by hand."""
from __future__ import annotations

import numpy as np

from nn_lib.data import words


def test_tokens_are_lower_case_letter_runs_with_inner_apostrophes():
  text = "Mr. Darcy's _very_ GOOD;--don't 1811\nwell-bred 'tis"
  assert words.tokenize(text) == ["mr", "darcy's", "very", "good", "don't", "well",
                                  "bred", "tis"]


def test_vocabulary_is_most_frequent_first_ties_alphabetical():
  tokens = "b a b c a b d".split()
  v = words.build_vocab(tokens, max_size=3)
  assert v.words == ("b", "a", "c") and v.counts_V.tolist() == [3, 2, 1]
  assert v.index == {"b": 0, "a": 1, "c": 2} and len(v) == 3
  assert words.build_vocab(tokens, max_size=10, min_count=2).words == ("b", "a")
  # words outside the vocabulary are dropped from the text
  np.testing.assert_array_equal(words.encode(tokens, v), [0, 1, 0, 2, 1, 0])
