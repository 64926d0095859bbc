"""The k-nearest-neighbour trainer (notes 002): no parameters and no gradient step;
k is chosen by cross-validation on the training split, then every evaluation split
is classified by a vote of its k nearest training examples.

Config: `knn.k_grid` (candidate k), `knn.num_folds`, `knn.distance` ("l1" or "l2").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from nn_lib import config as config_lib
from nn_lib import data as data_lib
from nn_lib import metrics, plots, writers
from nn_lib.registry import ConfigError
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.result import Result

DISTANCES = ("l1", "l2")
_CHUNK = 256  # query rows per distance block (the L1 block is chunk x N x D floats)


def distances(queries_QxD: jax.Array, refs_NxD: jax.Array, kind: str) -> jax.Array:
  """Q x N distances: L1 sum_d |q_d - r_d| or L2 sqrt(sum_d (q_d - r_d)^2) (notes 002).

  L2 uses ||q||^2 + ||r||^2 - 2 q.r (one matmul), clipped at 0 against rounding.
  """
  if kind not in DISTANCES:
    raise ValueError(f"unknown distance {kind!r}; valid: {', '.join(DISTANCES)}")
  if queries_QxD.ndim != 2 or refs_NxD.ndim != 2 or queries_QxD.shape[1] != refs_NxD.shape[1]:
    raise ValueError(
      f"distances needs Q x D and N x D arrays, got {queries_QxD.shape} and {refs_NxD.shape}"
    )
  if kind == "l2":
    sq_QxN = (
      jnp.sum(queries_QxD**2, 1)[:, None]
      + jnp.sum(refs_NxD**2, 1)[None, :]
      - 2.0 * queries_QxD @ refs_NxD.T
    )
    return jnp.sqrt(jnp.maximum(sq_QxN, 0.0))
  blocks = [
    jnp.abs(queries_QxD[i : i + _CHUNK, None, :] - refs_NxD[None]).sum(-1)
    for i in range(0, len(queries_QxD), _CHUNK)
  ]
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


def cross_validate(
  x_NxD, y_N, k_grid, num_folds: int, kind: str, seed: int, num_classes: int
) -> dict[int, float]:
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
      accs[k].append(float(metrics.accuracy(jnp.asarray(scores), jnp.asarray(y_N[fold]))))
  return {k: float(np.mean(v)) for k, v in accs.items()}


def _validate(cfg: Any) -> tuple[int, ...]:
  config_lib.validate_common(cfg)
  if "knn" not in cfg:
    raise ConfigError("the knn trainer needs config.knn with k_grid, num_folds, distance")
  k_grid = tuple(sorted(set(int(k) for k in cfg.knn.k_grid)))
  if not k_grid or k_grid[0] < 1:
    raise ConfigError(f"config.knn.k_grid must hold positive integers, got {cfg.knn.k_grid}")
  if cfg.knn.distance not in DISTANCES:
    raise ConfigError(f"config.knn.distance must be one of {DISTANCES}, got {cfg.knn.distance!r}")
  return k_grid


@workdir_lib.exclusive_workdir
def train_and_evaluate(cfg: Any, workdir: str | Path) -> Result:
  """Cross-validates k on the training split, then classifies the eval splits."""
  t0 = time.time()
  k_grid = _validate(cfg)
  plot_fns = {name: plots.PLOTS.get(name) for name in cfg.get("plots", ())}
  workdir = workdir_lib.prepare(cfg, workdir)
  splits = data_lib.load(cfg.data)
  flat = lambda x: x.reshape(len(x), -1)
  x_train, y_train = flat(splits["train"]["inputs"]), splits["train"]["targets"]
  num_classes = int(y_train.max()) + 1

  try:
    cv = cross_validate(
      x_train, y_train, k_grid, cfg.knn.num_folds, cfg.knn.distance, cfg.seed, num_classes
    )
  except ValueError as e:
    raise ConfigError(f"config.knn: {e}") from e
  best_k = max(k_grid, key=lambda k: (cv[k], -k))  # ties: the smaller k

  def predict(inputs: np.ndarray, method: str | None = None) -> np.ndarray:
    if method is not None:
      raise ValueError(f"a kNN classifier has no method {method!r}")
    labels = neighbour_labels(flat(inputs), x_train, y_train, best_k, cfg.knn.distance)
    return vote_scores(labels, best_k, num_classes)

  writer = writers.MetricWriter(
    workdir, num_steps=0, start_step=0, enabled=jax.process_index() == 0
  )
  writer.write(0, "cv", {"best_k": best_k, **{f"accuracy_k{k}": a for k, a in cv.items()}})
  for split in cfg.eval_splits:
    scores = predict(splits[split]["inputs"])
    values = {
      name: float(metrics.get(name)(jnp.asarray(scores), jnp.asarray(splits[split]["targets"])))
      for name in cfg.get("metrics", ("accuracy",))
    }
    accuracy = float(metrics.accuracy(jnp.asarray(scores), jnp.asarray(splits[split]["targets"])))
    writer.write(0, split, {"loss": 1.0 - accuracy, **values})  # the 0-1 error
  writer.close()
  logging.info(
    "kNN: cross-validated k = %d (%s)", best_k, ", ".join(f"k={k}: {a:.4f}" for k, a in cv.items())
  )

  result = Result(
    cfg=cfg,
    workdir=workdir,
    final=writer.history.final(),
    splits=splits,
    history=writer.history,
    predict=predict,
  )
  cv_curve = {f"{cfg.knn.num_folds}-fold mean": (list(cv), list(cv.values()))}
  plots.classification.curve_comparison(
    {"cross-validation accuracy": cv_curve},
    workdir / "plots" / "cv_accuracy.png",
    xlabel="k",
    suptitle=f"chosen k = {best_k}, test accuracy "
    f"{result.final.get('test/accuracy', float('nan')):.3f}",
  )
  return workdir_lib.finish(result, t0, plot_fns)
