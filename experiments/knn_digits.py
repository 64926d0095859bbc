"""k-nearest neighbours on 8x8 digits, k chosen by cross-validation on the training split (notes 002)."""
from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from experiments import _base, _sweep
from nn_lib import data as data_lib
from nn_lib import metrics
from nn_lib.plots import classification as plots

REPORT = dict(task="multiclass classification (10 digits)", output="majority vote",
              loss="none (no training; test/loss is the 0-1 error)",
              model="kNN, k by 5-fold cross-validation", data="digits 8x8 (1437 / 360)",
              metric="test/accuracy", bar=">= 0.97")

DISTANCES = ("l1", "l2")
_CHUNK = 256  # query rows per distance block (the L1 block is chunk x N x D floats)


def get_config(variant=None):
  c = _base.base_config()
  c.data.name = "digits"
  # The kNN "model": no parameters, only hyperparameters chosen by cross-validation.
  c.model = dict(name="knn", k_grid=(1, 3, 5, 7, 9, 11, 15), num_folds=5,
                 distance="l2")
  c.loss = dict(name="zero_one")  # no training loss; reported: the test error rate
  c = _base.apply_variant(c, variant)
  if variant == "smoke":
    c.model.k_grid = (1, 3)
    c.model.num_folds = 2
  return c


def distances(queries_QxD: jax.Array, refs_NxD: jax.Array, kind: str) -> jax.Array:
  """Q x N distances: L1 sum_d |q_d - r_d| or L2 sqrt(sum_d (q_d - r_d)^2) (notes 002).

  L2 uses ||q||^2 + ||r||^2 - 2 q.r (one matmul), clipped at 0 against rounding.
  """
  if kind not in DISTANCES:
    raise ValueError(f"unknown distance {kind!r}; valid: {', '.join(DISTANCES)}")
  if queries_QxD.ndim != 2 or refs_NxD.ndim != 2 or queries_QxD.shape[1] != refs_NxD.shape[1]:
    raise ValueError(f"distances needs Q x D and N x D arrays, got {queries_QxD.shape} "
                     f"and {refs_NxD.shape}")
  if kind == "l2":
    sq_QxN = (jnp.sum(queries_QxD ** 2, 1)[:, None] + jnp.sum(refs_NxD ** 2, 1)[None, :]
              - 2.0 * queries_QxD @ refs_NxD.T)
    return jnp.sqrt(jnp.maximum(sq_QxN, 0.0))
  blocks = [jnp.abs(queries_QxD[i:i + _CHUNK, None, :] - refs_NxD[None]).sum(-1)
            for i in range(0, len(queries_QxD), _CHUNK)]
  return jnp.concatenate(blocks)


def neighbour_labels(queries_QxD, refs_NxD, ref_labels_N, max_k: int, kind: str) -> np.ndarray:
  """Q x max_k labels of each query's nearest references, nearest first."""
  if max_k > len(refs_NxD):
    raise ValueError(f"k = {max_k} exceeds the {len(refs_NxD)} reference examples")
  dist_QxN = distances(jnp.asarray(queries_QxD), jnp.asarray(refs_NxD), kind)
  _, idx_QxK = jax.lax.top_k(-dist_QxN, max_k)
  return np.asarray(ref_labels_N)[np.asarray(idx_QxK)]


def vote_scores(labels_QxK: np.ndarray, k: int, num_classes: int) -> np.ndarray:
  """Q x C scores whose argmax is the kNN prediction: each class's vote count
  among the k nearest, plus a tie breaker below one vote, (k - r) / (k + 1) where
  r is the rank of the class's nearest member (0 = nearest): among classes with
  equal votes the one holding the nearer neighbour wins."""
  one_hot_QxKxC = labels_QxK[:, :k, None] == np.arange(num_classes)
  counts_QxC = one_hot_QxKxC.sum(axis=1)
  nearest_rank_QxC = np.where(one_hot_QxKxC, np.arange(k)[None, :, None], k).min(axis=1)
  return counts_QxC + (k - nearest_rank_QxC) / (k + 1.0)


def cross_validate(x_NxD, y_N, k_grid, num_folds: int, kind: str, seed: int,
                   num_classes: int) -> dict[int, float]:
  """Mean validation accuracy of each k over `num_folds` folds of the training split."""
  if not 2 <= num_folds <= len(y_N):
    raise ValueError(f"num_folds must be in [2, {len(y_N)}], got {num_folds}")
  folds = np.array_split(np.random.default_rng(seed).permutation(len(y_N)), num_folds)
  accs: dict[int, list[float]] = {k: [] for k in k_grid}
  for fold in folds:
    rest = np.setdiff1d(np.arange(len(y_N)), fold)
    labels = neighbour_labels(x_NxD[fold], x_NxD[rest], y_N[rest], max(k_grid), kind)
    for k in k_grid:
      scores = vote_scores(labels, k, num_classes)
      accs[k].append(float(metrics.accuracy(scores, y_N[fold])))
  return {k: float(np.mean(v)) for k, v in accs.items()}


def run(cfg: ml_collections.ConfigDict, workdir: Path) -> dict:
  """Cross-validates k on train, then classifies the test split; no gradient step."""
  start = time.time()
  workdir = Path(workdir)
  m = cfg.model
  k_grid = tuple(sorted(set(int(k) for k in m.k_grid)))
  if not k_grid or k_grid[0] < 1:
    raise ValueError(f"model.k_grid must hold positive integers, got {m.k_grid}")
  splits = data_lib.load(cfg.data)
  flat = lambda split: split["inputs"].reshape(len(split["inputs"]), -1)
  x_train, y_train = flat(splits["train"]), splits["train"]["targets"]
  x_test, y_test = flat(splits["test"]), splits["test"]["targets"]
  num_classes = int(y_train.max()) + 1

  cv = cross_validate(x_train, y_train, k_grid, m.num_folds, m.distance, cfg.seed,
                      num_classes)
  best_k = max(k_grid, key=lambda k: (cv[k], -k))  # ties: the smaller k
  labels = neighbour_labels(x_test, x_train, y_train, best_k, m.distance)
  scores = vote_scores(labels, best_k, num_classes)
  accuracy = float(metrics.accuracy(scores, y_test))
  logging.info("kNN: cross-validated k = %d (%s); test accuracy %.4f", best_k,
               ", ".join(f"k={k}: {a:.4f}" for k, a in cv.items()), accuracy)

  plots.curve_comparison({"cross-validation accuracy": {
      f"{m.num_folds}-fold mean": (list(cv), list(cv.values()))}},
      workdir / "plots" / "cv_accuracy.png", xlabel="k",
      suptitle=f"chosen k = {best_k}, test accuracy {accuracy:.3f}")
  counts = np.asarray(metrics.confusion_matrix(scores, y_test))
  plots.confusion_matrix(counts, workdir / "plots" / "confusion_matrix.png",
                         title=f"{best_k}-NN, test accuracy {accuracy:.3f}")
  final = {"test/accuracy": accuracy, "test/loss": 1.0 - accuracy, "cv/best_k": best_k,
           **{f"cv/accuracy_k{k}": a for k, a in cv.items()}}
  _sweep.write_summary(workdir, final, time.time() - start)
  return {"best_k": best_k}
