"""What the character language models of issue 14 share: the corpus, the budget
(steps, streams, bptt), the optimizer and the sampling (trainers/charlm.py)."""
from __future__ import annotations

import ml_collections

from . import _base


def lm_config(model: dict) -> ml_collections.ConfigDict:
  """A charlm config for `model` (a registered rnn, gru, lstm or transformer_lm
  with its kwargs: the trainer adds vocab_size / num_outputs = the 82 characters)."""
  c = _base.common_config("charlm")  # nn_lib/trainers/charlm.py
  c.data.name = "austen_text"        # nn_lib/data/text_corpus.py: 3.6 M training chars
  c.data.dev_split = "dev"           # the corpus's own contiguous dev split
  c.metrics = ("bpc",)               # bits per character of every eval split
  c.eval_splits = ("dev", "test")
  c.model = model
  # clip_norm: notes 004's gradient clipping, against the exploding gradients of
  # backpropagation through 64 steps (the plain RNN needs it most)
  c.optimizer = dict(name="adam", learning_rate=3e-3, clip_norm=1.0)
  c.schedule = dict(name="cosine", end_fraction=0.1)
  c.lm = dict(
      bptt=64,             # characters backpropagated through per window
      sample=dict(
          num_chars=400,   # sampled after training into workdir/sample.txt
          temperature=0.8,
          top_k=20,
          seed=0,
          prompt_chars=32,   # the dev text from prompt_start primes the model
          prompt_start=397,  # '"Well, you will soon be better n' (Persuasion)
      ))
  c.num_steps = 1800
  c.batch_size = 32        # contiguous streams; 2,048 characters a step
  c.eval_batch_size = 256  # streams of each evaluated split
  c.log_every = 100
  c.eval_every = 900
  c.checkpoint_every = 900
  c.keep_checkpoints = 1
  return c


def smoke(c: ml_collections.ConfigDict) -> None:
  """A few seconds: 16 streams of 256 characters, a 16-unit model, windows of 16."""
  c.data.train_split, c.data.dev_split, c.data.test_split = "train[:16]", "dev[:4]", "test[:4]"
  c.lm.bptt = 16
  c.lm.sample.num_chars = 40
  c.lm.sample.prompt_chars = 8
  c.optimizer.learning_rate = 1e-2  # 6 steps must show a fall
  c.eval_batch_size = 16
  c.checkpoint_every = 6
  for key in ("hidden", "d_model", "d_ff", "embed_dim"):
    if key in c.model:
      c.model[key] = 16
  if "num_heads" in c.model:
    c.model.num_heads = 2
  if "num_layers" in c.model:
    c.model.num_layers = 1
