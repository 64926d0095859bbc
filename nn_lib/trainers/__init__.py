"""Trainers: how a config is trained, chosen by `config.trainer`.

A trainer is a function `(cfg, workdir) -> Result` built from the shared pieces
(data, models, losses, checkpoints, writers, plots). Training that differs in kind
(no gradient step, two players, decoding) is a trainer of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from nn_lib.registry import Registry
from nn_lib.trainers import charlm, ctc, gan, knn, nerf, seq2seq, word_vectors
from nn_lib.training import Result, train_and_evaluate

Trainer = Callable[[Any, "str | Path"], Result]

TRAINERS: Registry[Trainer] = Registry(
  "trainer",
  {
    "supervised": train_and_evaluate,  # gradient descent on config.loss
    "knn": knn.train_and_evaluate,  # k nearest neighbours, k cross-validated
    "gan": gan.train_and_evaluate,  # generator and discriminator, alternating
    "nerf": nerf.train_and_evaluate,  # radiance field fit to views through rendering
    "charlm": charlm.train_and_evaluate,  # next character, truncated backprop through time
    "seq2seq": seq2seq.train_and_evaluate,  # teacher forcing; greedy and beam decoding
    "ctc": ctc.train_and_evaluate,  # unsegmented sequences; best path, prefix beam
    "word_vectors": word_vectors.train_and_evaluate,  # SGNS or GloVe; analogies
  },
)
get = TRAINERS.get

__all__ = ["TRAINERS", "Trainer", "get"]
