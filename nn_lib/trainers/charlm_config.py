"""The charlm trainer's configuration: every key it reads checked before training,
with an error naming the key (nn_lib/trainers/charlm.py has the trainer)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nn_lib.data import text_corpus
from nn_lib.registry import ConfigError
from nn_lib.trainers import charlm_data, chunks

RECURRENT = ("rnn", "gru", "lstm")
MODELS = (*RECURRENT, "transformer_lm")
V = charlm_data.VOCAB_SIZE


def validate(cfg: Any) -> None:
  """Every key the charlm trainer reads, with an error naming the key."""
  chunks.check_loop_keys(
    cfg, "charlm", ("seed", "data", "eval_splits", "model", "optimizer", "schedule", "lm")
  )
  chunks.need(
    bool(cfg.eval_splits) and set(cfg.eval_splits) <= {"train", "dev", "test"},
    "eval_splits",
    cfg.eval_splits,
    "must name one or more of train, dev, test (the "
    "corpus's own contiguous splits: data.dev_split is not carved from train)",
  )
  name = cfg.model.get("name")
  chunks.need(name in MODELS, "model.name", name, f"the charlm trainer trains one of {MODELS}")
  for key, want in (("vocab_size", V), ("num_outputs", V)):
    chunks.need(
      cfg.model.get(key, V) == want,
      f"model.{key}",
      cfg.model.get(key),
      f"the corpus has {V} characters (text_corpus.BYTES_USED); leave it unset",
    )
  chunks.need(
    not cfg.model.get("bidirectional", False),
    "model.bidirectional",
    True,
    "a language model must not see the characters it predicts; set it False",
  )
  chunks.check_optimizer(cfg)
  clip = cfg.optimizer.get("clip_norm", 0.0)
  chunks.need(
    isinstance(clip, (int, float)) and not isinstance(clip, bool) and clip >= 0,
    "optimizer.clip_norm",
    clip,
    "must be a number >= 0 (0: no gradient clipping)",
  )
  bptt = cfg.lm.get("bptt")
  chunks.need(
    chunks.positive_int(bptt),
    "lm.bptt",
    bptt,
    "must be a positive integer (characters backpropagated through per window)",
  )
  s = cfg.lm.get("sample", {})
  for key in ("num_chars", "prompt_chars"):
    chunks.need(
      chunks.positive_int(s.get(key)), f"lm.sample.{key}", s.get(key), "must be a positive integer"
    )
  chunks.need(
    isinstance(s.get("prompt_start"), int) and s.prompt_start >= 0,
    "lm.sample.prompt_start",
    s.get("prompt_start"),
    "must be an integer >= 0",
  )
  chunks.need(isinstance(s.get("seed"), int), "lm.sample.seed", s.get("seed"), "must be an integer")
  t = s.get("temperature")
  chunks.need(
    isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0,
    "lm.sample.temperature",
    t,
    "must be a number >= 0 (0: greedy)",
  )
  k = s.get("top_k")
  chunks.need(
    k is None or (chunks.positive_int(k) and k <= V),
    "lm.sample.top_k",
    k,
    f"must be None or an integer in 1..{V}",
  )
  if name == "transformer_lm":
    chunks.need(
      s.prompt_chars < bptt,
      "lm.sample.prompt_chars",
      s.prompt_chars,
      f"the transformer's context is a window of lm.bptt={bptt} characters; "
      "its prompt must be shorter",
    )


def check_lengths(cfg: Any, ids: dict[str, np.ndarray]) -> None:
  """A training window (bptt + 1 characters) must fit in a stream; the prompt in dev."""
  bptt, n = cfg.lm.bptt, len(ids["train"])
  stream_len = n // cfg.batch_size
  if bptt + 1 > stream_len:
    raise ConfigError(
      f"config.lm.bptt={bptt} is longer than a stream: data.train_split="
      f"{cfg.data.train_split!r} has {n} characters ({n // text_corpus.BLOCK} rows of "
      f"{text_corpus.BLOCK}), cut into batch_size={cfg.batch_size} streams of "
      f"{stream_len}; a window needs bptt + 1. Lower lm.bptt or batch_size."
    )
  s = cfg.lm.sample
  if s.prompt_start + s.prompt_chars > len(ids["dev"]):
    raise ConfigError(
      f"config.lm.sample: prompt_start + prompt_chars = "
      f"{s.prompt_start + s.prompt_chars} is past the end of the dev text "
      f"({len(ids['dev'])} characters)"
    )
