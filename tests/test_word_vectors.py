"""Word embeddings (issue 14): skip-gram pairs, subsampling and negatives, GloVe
co-occurrences, the cosine and analogy metrics by hand, the trainer's resume and
its config errors."""
from __future__ import annotations

import math
import shutil

import jax
import numpy as np
import pytest

import experiments
from nn_lib.data import words
from nn_lib.metrics import word_vectors as wv
from nn_lib.plots import word_vectors as wv_plots
from nn_lib.registry import ConfigError
from nn_lib.trainers import word_vectors


def test_keep_probability_is_mikolovs_formula():
  # f = 0.9, 0.09, 0.01; t = 0.01: sqrt(t / f) = 0.10541, 1/3, 1 (capped at 1)
  keep = words.keep_probs(np.array([90, 9, 1]), 0.01)
  np.testing.assert_allclose(keep, [math.sqrt(1 / 90), 1 / 3, 1.0], rtol=1e-12)
  np.testing.assert_array_equal(words.keep_probs(np.array([90, 9, 1]), 0.0), [1, 1, 1])


def test_negatives_follow_counts_to_the_three_quarters():
  probs = words.negative_probs(np.array([16, 1]))
  np.testing.assert_allclose(probs, [8 / 9, 1 / 9])  # 16^(3/4) = 8
  text = np.arange(40, dtype=np.int32) % 2
  b = words.sgns_batch(text, np.cumsum(probs), seed=0, step=0, batch=4000, window=1,
                       num_negatives=5)
  assert b.negatives_BxK.shape == (4000, 5)
  assert np.mean(b.negatives_BxK == 0) == pytest.approx(8 / 9, abs=0.01)  # 20,000 draws


def test_window_pairs_are_within_a_dynamic_radius():
  text = np.arange(100, dtype=np.int32)  # word = position: the offset is visible
  cdf = np.cumsum(np.full(100, 0.01))
  kw = dict(seed=3, batch=4000, window=2, num_negatives=1)
  b = words.sgns_batch(text, cdf, step=7, **kw)
  d = b.context_B[b.valid_B].astype(int) - b.center_B[b.valid_B]
  assert set(d) == {-2, -1, 1, 2}
  # radius r ~ U{1, 2}: distance 1 half the time
  assert np.mean(np.abs(d) == 1) == pytest.approx(0.5, abs=0.03)
  edge = (b.center_B < 2) | (b.center_B > 97)  # a radius may reach past the text
  assert b.valid_B[~edge].all() and not b.valid_B[edge].all()
  # a pure function of (seed, step)
  again, other = words.sgns_batch(text, cdf, step=7, **kw), words.sgns_batch(text, cdf,
                                                                              step=8, **kw)
  for x, y in zip(b, again):
    np.testing.assert_array_equal(x, y)
  assert not np.array_equal(b.center_B, other.center_B)


def test_subsampling_drops_words_with_their_keep_probability():
  # 0 1 0 2 0 3 0 4 0 1 ...: word 0 is never kept, word 1 half the time, the others always
  ids_N = np.stack([np.zeros(2000, np.int32), np.arange(2000, dtype=np.int32) % 4 + 1], 1)
  ids_N = ids_N.ravel()
  keep = np.array([0.0, 0.5, 1.0, 1.0, 1.0])
  text = words.subsample(ids_N, keep, seed=0, epoch=0)
  assert 0 not in text and np.sum(text == 2) == np.sum(ids_N == 2)
  assert np.sum(text == 1) / np.sum(ids_N == 1) == pytest.approx(0.5, abs=0.05)
  assert not np.array_equal(text, words.subsample(ids_N, keep, seed=0, epoch=1))
  # a pass: the expected subsampled length (500 * 0.5 + 1500) / batch 100 = 17.5 -> 18
  assert words.steps_per_pass(ids_N, keep, 100) == 18


def test_cooccurrence_weights_one_over_distance():
  # 0 1 2 0, window 2: d=1 pairs (0,1) (1,2) (2,0); d=2 pairs (0,2) (1,0) at 1/2
  x = words.cooccurrence(np.array([0, 1, 2, 0]), 3, window=2)
  got = {(int(i), int(j)): float(v) for i, j, v in zip(*x)}
  assert got == {(0, 1): 1.5, (1, 0): 1.5, (0, 2): 1.5, (2, 0): 1.5, (1, 2): 1.0,
                 (2, 1): 1.0}


def test_nearest_neighbours_by_cosine():
  vecs = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 3.0], [-1.0, 0.0]])
  ids, cos = wv.nearest_neighbours(vecs, [0, 2], k=3)
  np.testing.assert_array_equal(ids, [[1, 2, 3], [1, 0, 3]])
  np.testing.assert_allclose(cos[0], [2 / math.sqrt(4.01), 0.0, -1.0])
  np.testing.assert_allclose(cos[1], [0.1 / math.sqrt(4.01), 0.0, 0.0], atol=1e-12)


def test_analogy_3cosadd_excludes_the_question_words():
  r = 1 / math.sqrt(2)
  vecs = np.array([[1, 0, 0], [0, 1, 0], [r, 0, r], [0, r, r], [0, 0, 1]])
  index = {w: i for i, w in enumerate(["man", "woman", "king", "queen", "apple"])}
  # woman - man + king = (r - 1, 1, r): queen scores r + r^2 = 1.207 (apple r = 0.707);
  # woman itself would score 1 and king r^2 - r + r^2 = 0.29: both excluded anyway
  assert wv.analogy_predictions(vecs, [[0, 1, 2]]).tolist() == [3]
  # here b - a + c = b: without the exclusion "woman" would answer itself
  assert wv.analogy_predictions(vecs, [[2, 1, 2]]).tolist() == [3]
  qs = wv.read_analogies([": g", "man woman king queen", "man woman king apple",
                          ": h", "man woman pear queen"])
  got = wv.analogy_accuracy(vecs, index, qs)
  assert got == {"accuracy": 0.5, "answerable": 2.0, "questions": 3.0, "accuracy_g": 0.5,
                 "answerable_g": 2.0, "accuracy_h": 0.0, "answerable_h": 0.0}
  with pytest.raises(ValueError, match="line 1: want 4 words"):
    wv.read_analogies(["man woman king"])


def test_pca_of_points_on_a_plane_keeps_their_distances():
  basis_2x5 = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 2)))[0].T
  plane_Nx2 = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0], [1.0, 2.0]])
  xy, explained = wv_plots.pca_2d(plane_Nx2 @ basis_2x5 + 7.0)
  assert explained == pytest.approx(1.0)
  dist = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)
  np.testing.assert_allclose(dist(xy), dist(plane_Nx2), atol=1e-12)


def test_shipped_analogies_parse_into_categories():
  qs = word_vectors.load_questions("analogies.txt")
  cats = {q.category for q in qs}
  assert cats == {"gender", "past_tense", "plural", "comparative", "superlative"}
  assert len(qs) == 2362 and ("he", "she", "him", "her") in [q.words for q in qs]


def _tiny():
  cfg = experiments.get_config("word2vec_sgns:smoke")
  cfg.data.train_split = "train[:16]"
  cfg.embeddings.update(vocab_size=100, dim=8, neighbours=("her",), pca_pairs=())
  cfg.keep_checkpoints = 2
  return cfg


def test_resume_is_bit_identical(tmp_path):
  # The straight run saves steps 3 and 6; a copy of its workdir without step 6 is
  # the run killed after saving step 3, which must resume into the same state.
  cfg = _tiny()
  straight = word_vectors.train_and_evaluate(cfg, tmp_path / "straight")
  assert int(straight.state["step"]) == 6
  shutil.copytree(tmp_path / "straight", tmp_path / "killed")
  shutil.rmtree(tmp_path / "killed" / "checkpoints" / "6")
  resumed = word_vectors.train_and_evaluate(cfg, tmp_path / "killed")
  assert resumed.start_step == 3 and int(resumed.state["step"]) == 6
  a, b = jax.tree.leaves(straight.state), jax.tree.leaves(resumed.state)
  for x, y in zip(a, b, strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  # the context table started at 0 and moved: steps were taken
  assert np.abs(np.asarray(straight.state["params"]["context"])).max() > 0
  assert resumed.final["train/loss"] == straight.final["train/loss"]


@pytest.mark.parametrize("edit, match", [
    (lambda c: c.embeddings.update(method="cbow"), r"embeddings.method='cbow'.*sgns"),
    (lambda c: c.embeddings.update(subsample=-1.0), r"embeddings.subsample=-1.0"),
    (lambda c: c.update(eval_splits=("test",)), r"eval_splits.*'analogy'"),
    (lambda c: c.embeddings.update(analogies="nope.txt"), r"analogies='nope.txt': no such"),
])
def test_bad_config_is_a_clear_error(edit, match, tmp_path):
  cfg = _tiny()
  edit(cfg)
  with pytest.raises(ConfigError, match=match):
    word_vectors.train_and_evaluate(cfg, tmp_path)
