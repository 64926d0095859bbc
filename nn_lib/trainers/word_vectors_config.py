"""The word_vectors trainer's configuration: every key it reads checked before
training, with an error naming the key (nn_lib/trainers/word_vectors.py has the
trainer)."""

from __future__ import annotations

from typing import Any

from nn_lib.trainers import chunks

METHODS = ("sgns", "glove")


def validate(cfg: Any) -> None:
  """Every key the word_vectors trainer reads, with an error naming the key."""
  chunks.check_loop_keys(
    cfg, "word_vectors", ("seed", "data", "eval_splits", "embeddings", "optimizer", "schedule")
  )
  chunks.need(
    tuple(cfg.eval_splits) == ("analogy",),
    "eval_splits",
    cfg.eval_splits,
    "the word_vectors trainer evaluates the analogy questions: set ('analogy',)",
  )
  e = cfg.embeddings
  chunks.need(
    e.get("method") in METHODS, "embeddings.method", e.get("method"), f"must be one of {METHODS}"
  )
  for key in ("vocab_size", "min_count", "dim", "window", "num_neighbours"):
    chunks.need(
      chunks.positive_int(e.get(key)), f"embeddings.{key}", e.get(key), "must be a positive integer"
    )
  if e.method == "sgns":
    chunks.need(
      chunks.positive_int(e.get("num_negatives")),
      "embeddings.num_negatives",
      e.get("num_negatives"),
      "must be a positive integer (negatives per pair)",
    )
    for key in ("subsample", "neg_power"):
      chunks.need(
        chunks.is_number(e.get(key)) and e.get(key) >= 0,
        f"embeddings.{key}",
        e.get(key),
        "must be a number >= 0 (subsample 0: keep every word)",
      )
  else:
    chunks.need(
      chunks.is_number(e.get("x_max")) and e.get("x_max") > 0,
      "embeddings.x_max",
      e.get("x_max"),
      "must be a number > 0 (GloVe's f(x) = min(1, (x/x_max)^alpha))",
    )
    chunks.need(
      chunks.is_number(e.get("alpha")) and e.get("alpha") >= 0,
      "embeddings.alpha",
      e.get("alpha"),
      "must be a number >= 0",
    )
  chunks.need(
    isinstance(e.get("analogies"), str) and bool(e.get("analogies")),
    "embeddings.analogies",
    e.get("analogies"),
    "must name the question file (an asset such as 'analogies.txt', or a path)",
  )
  for key in ("neighbours", "pca_pairs"):
    chunks.need(key in e, f"embeddings.{key}", None, "is not set (it may be empty)")
  chunks.check_optimizer(cfg)
