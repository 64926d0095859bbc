"""CTC decoding (notes 004 "CTC cost for speech recognition"): best path and prefix
beam search on hand-made probability tables with hand-computed labelling
probabilities, and prefix beam search against summing over every path."""
from __future__ import annotations

import itertools
import math

import jax
import numpy as np
import pytest

from nn_lib.decoding import ctc_best_path, ctc_prefix_beam_search

ALPHABET = "_thelga"  # "_" is the blank, index 0


def _one_hot_frames(text: str, frames: int) -> np.ndarray:
  """Log-probabilities T x V putting 0.9 on each character of `text` in turn."""
  probs = np.full((frames, len(ALPHABET)), 0.1 / (len(ALPHABET) - 1))
  probs[np.arange(frames), [ALPHABET.index(ch) for ch in text.ljust(frames, "_")]] = 0.9
  return np.log(probs)


_best_path = jax.jit(ctc_best_path)


def _best_path_1x3x3(log_probs_TxV) -> tuple[int, ...]:
  """Best path of a table of up to 3 frames and 3 symbols, padded to 3 x 3 (padded
  symbols impossible, padded frames masked) so that the tables share a compilation."""
  t, v = log_probs_TxV.shape
  padded = np.full((1, 3, 3), -np.inf)
  padded[0, :t, :v] = log_probs_TxV
  padded[0, t:] = 0.0
  labels, lengths = map(np.asarray, _best_path(padded, frame_lengths_B=np.array([t])))
  return tuple(labels[0, :lengths[0]].tolist())


def _text(labels) -> str:
  return "".join(ALPHABET[i] for i in labels)


def test_best_path_collapses_repeats_and_drops_blanks():
  # The notes' "ttt_h_eee_l_g_" -> "thelg"; a blank separates a repeat ("a_a" -> "aa")
  # but a plain repeat collapses ("aa" -> "a"); a row's padded frames are ignored.
  rows = ["ttt_h_eee_l_g_", "a_a", "aa", "_", "ga_ag__aa_al"]
  frames_B = np.array([len(r) for r in rows])
  frames_B[-1] = 8  # only "ga_ag__a" counts: g, a, (blank) a, g, (blanks) a
  logits = np.stack([_one_hot_frames(r, 14) for r in rows])
  labels, lengths = map(np.asarray, _best_path(logits, frame_lengths_B=frames_B))
  texts = [_text(labels[b, :lengths[b]]) for b in range(len(rows))]
  assert texts == ["thelg", "aa", "a", "", "gaaga"]
  # Padding is the blank, never part of a labelling.
  assert (np.asarray(labels[0, 5:]) == 0).all() and lengths.tolist() == [5, 2, 1, 0, 5]


def test_prefix_beam_search_beats_best_path_on_two_frames():
  # Frames: blank 0.6, a 0.4, twice. The best path "__" (0.36) gives "", but "a" has
  # three paths: "a_" 0.24 (ends in a blank), "_a" 0.24 + "aa" 0.16 (end in "a").
  log_probs = np.log([[0.6, 0.4], [0.6, 0.4]])
  assert _best_path_1x3x3(log_probs) == ()
  best, empty = ctc_prefix_beam_search(log_probs, beam_width=4)
  assert best.labels == (1,) and empty.labels == ()
  assert math.exp(best.log_prob) == pytest.approx(0.64)
  assert math.exp(best.log_prob_blank) == pytest.approx(0.24)
  assert math.exp(best.log_prob_non_blank) == pytest.approx(0.40)
  assert math.exp(empty.log_prob) == pytest.approx(0.36)
  assert empty.log_prob_non_blank == -math.inf


def test_prefix_beam_search_on_three_frames():
  # Frames: blank 0.5, a 0.4, b 0.1, three times. Best path: "___" -> "", P = 0.125.
  # "a": one run of a's among blanks: a__, _a_, __a (0.4 * 0.25 each), aa_, _aa
  # (0.16 * 0.5 each), aaa (0.064): 0.3 + 0.16 + 0.064 = 0.524.
  # "aa" needs a blank between the a's: only a_a, 0.4 * 0.5 * 0.4 = 0.08.
  # "b": b__, _b_, __b (0.025 each), bb_, _bb (0.005 each), bbb (0.001) = 0.086.
  log_probs = np.log(np.tile([0.5, 0.4, 0.1], (3, 1)))
  assert _best_path_1x3x3(log_probs) == ()
  beams = {b.labels: math.exp(b.log_prob) for b in ctc_prefix_beam_search(log_probs)}
  assert max(beams, key=beams.get) == (1,)
  assert beams[(1,)] == pytest.approx(0.524)
  assert beams[()] == pytest.approx(0.125)
  assert beams[(1, 1)] == pytest.approx(0.08)
  assert beams[(2,)] == pytest.approx(0.086)
  assert sum(beams.values()) == pytest.approx(1.0)  # a wide beam keeps every labelling


def _labelling(path, blank=0):
  collapsed = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
  return tuple(s for s in collapsed if s != blank)


@pytest.mark.parametrize("blank", [0, 2])
def test_prefix_beam_search_equals_summing_every_path(blank):
  rng = np.random.default_rng(blank)
  probs = rng.dirichlet(np.ones(3) * 0.7, size=4)  # T = 4, V = 3
  exact: dict[tuple, float] = {}
  for path in itertools.product(range(3), repeat=4):
    p = math.prod(probs[t, s] for t, s in enumerate(path))
    exact[_labelling(path, blank)] = exact.get(_labelling(path, blank), 0.0) + p
  # 31 labellings of length <= 4 over two symbols: a beam of 64 prunes nothing.
  beams = ctc_prefix_beam_search(np.log(probs), blank=blank, beam_width=64)
  assert {b.labels for b in beams} == set(exact)
  for b in beams:
    assert math.exp(b.log_prob) == pytest.approx(exact[b.labels], rel=1e-9)
  assert beams[0].labels == max(exact, key=exact.get)
  # A narrow beam keeps the most probable prefixes, best first.
  narrow = ctc_prefix_beam_search(np.log(probs), blank=blank, beam_width=3)
  assert len(narrow) == 3
  assert [b.log_prob for b in narrow] == sorted((b.log_prob for b in narrow), reverse=True)


def test_repeats_separated_by_a_blank_are_kept_by_prefix_beam_search():
  best = ctc_prefix_beam_search(_one_hot_frames("a_a", 3))[0]
  assert _text(best.labels) == "aa"
  best = ctc_prefix_beam_search(_one_hot_frames("aa_", 3))[0]
  assert _text(best.labels) == "a"


def test_bad_inputs_say_what_is_wrong():
  with pytest.raises(ValueError, match="T x V"):
    ctc_prefix_beam_search(np.zeros((2, 3, 4)))
  with pytest.raises(ValueError, match="blank"):
    ctc_prefix_beam_search(np.zeros((2, 3)), blank=3)
