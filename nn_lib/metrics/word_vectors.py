"""Judging word vectors (notes 004 "Word representation": man -> woman as king -> ?,
"Usually cosine similarity is used"): nearest neighbours by cosine similarity and
analogies a : b :: c : ? by 3CosAdd (Mikolov et al. 2013),

  d* = argmax over w not in {a, b, c} of cos(e_w, e_b - e_a + e_c),

computed with every vector first scaled to unit length (as word2vec's
compute-accuracy does), so the score of w is e_w . (e_b - e_a + e_c) / |...|.
A question counts as correct when d* is the expected word. Only questions whose
four words are all in the vocabulary are answerable; accuracy is over those.
Chance: one of the V - 3 candidates, 1 / (V - 3).
"""

from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np


def unit_rows(vectors_VxD: np.ndarray) -> np.ndarray:
  """Each row divided by its Euclidean norm (zero rows stay zero)."""
  v = np.asarray(vectors_VxD, np.float64)
  norms = np.linalg.norm(v, axis=1, keepdims=True)
  return v / np.where(norms > 0, norms, 1.0)


def nearest_neighbours(
  vectors_VxD: np.ndarray, query_ids: Sequence[int], k: int
) -> tuple[np.ndarray, np.ndarray]:
  """(ids_QxK, cosines_QxK): the k words most cosine-similar to each query word,
  the word itself excluded, most similar first (ties: lower id first)."""
  u = unit_rows(vectors_VxD)
  q = np.asarray(query_ids, np.int64)
  sims_QxV = u[q] @ u.T
  sims_QxV[np.arange(len(q)), q] = -np.inf
  order = np.argsort(-sims_QxV, axis=1, kind="stable")[:, :k]
  return order, np.take_along_axis(sims_QxV, order, axis=1)


def analogy_predictions(vectors_VxD: np.ndarray, abc_Qx3: np.ndarray) -> np.ndarray:
  """d*_Q: 3CosAdd's answer to each question (a, b, c) given as ids."""
  u = unit_rows(vectors_VxD)
  abc = np.asarray(abc_Qx3, np.int64).reshape(-1, 3)
  target_QxD = u[abc[:, 1]] - u[abc[:, 0]] + u[abc[:, 2]]
  scores_QxV = target_QxD @ u.T
  rows = np.arange(len(abc))[:, None]
  scores_QxV[rows, abc] = -np.inf  # the question's own words are not answers
  return np.argmax(scores_QxV, axis=1)


class Analogy(NamedTuple):
  category: str
  words: tuple[str, str, str, str]  # a, b, c, d: a is to b as c is to d


def read_analogies(lines: Iterable[str]) -> list[Analogy]:
  """Parses the word2vec questions format: ": category" lines, then "a b c d" lines
  (lower-cased; blank lines and lines starting with # skipped)."""
  out, category = [], ""
  for n, line in enumerate(lines, 1):
    line = line.strip()
    if not line or line.startswith("#"):
      continue
    if line.startswith(":"):
      category = line[1:].strip()
      continue
    words = line.lower().split()
    if len(words) != 4:
      raise ValueError(f"analogy line {n}: want 4 words 'a b c d', got {line!r}")
    a, b, c, d = words
    out.append(Analogy(category, (a, b, c, d)))
  return out


def analogy_accuracy(
  vectors_VxD: np.ndarray, index: Mapping[str, int], questions: Sequence[Analogy]
) -> dict[str, float]:
  """{"accuracy", "answerable", "questions", "accuracy_<category>",
  "answerable_<category>"}: 3CosAdd accuracy over the answerable questions (all four
  words in `index`); an accuracy with nothing answerable is 0 (see its count)."""
  cats = list(dict.fromkeys(q.category for q in questions))
  ok = [q for q in questions if all(w in index for w in q.words)]
  ids_Qx4 = np.asarray([[index[w] for w in q.words] for q in ok], np.int64).reshape(-1, 4)
  correct_Q = (
    analogy_predictions(vectors_VxD, ids_Qx4[:, :3]) == ids_Qx4[:, 3]
    if len(ok)
    else np.zeros(0, bool)
  )
  out = {
    "accuracy": float(correct_Q.mean()) if len(ok) else 0.0,
    "answerable": float(len(ok)),
    "questions": float(len(questions)),
  }
  for cat in cats:
    mask = np.asarray([q.category == cat for q in ok], bool)
    out[f"accuracy_{cat}"] = float(correct_Q[mask].mean()) if mask.any() else 0.0
    out[f"answerable_{cat}"] = float(mask.sum())
  return out
