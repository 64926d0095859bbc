"""What the date-normalisation experiments of issue 14 share: the data, the budget,
the decoding (trainers/seq2seq.py) and the smoke variant."""
from __future__ import annotations

import ml_collections

from . import _base


def dates_config(model: dict) -> ml_collections.ConfigDict:
  """A seq2seq config for `model` (seq2seq_rnn or seq2seq_transformer with its
  kwargs: the trainer adds vocab_size = the 71 tokens of nn_lib.data.dates)."""
  c = _base.common_config("seq2seq")  # nn_lib/trainers/seq2seq.py
  c.data.name = "dates"               # nn_lib/data/dates.py: 10k / 1k / 2k pairs
  c.data.dev_split = "dev"
  c.metrics = ("exact_match", "bleu")  # of the decoded strings (greedy and beam_)
  c.eval_splits = ("dev", "test")
  c.model = model
  c.optimizer = dict(name="adam", learning_rate=3e-3, clip_norm=1.0)
  c.schedule = dict(name="cosine", end_fraction=0.05)
  c.seq2seq = dict(
      beam_width=3,     # notes 004 "Beam Search": B = 3
      alpha=0.7,        # length normalisation 1 / T_y^alpha ("Refinements to beam search")
      num_examples=8,   # decoded test pairs logged and written to examples.txt
      plot_examples=4,  # of them, attention heat maps in plots/attention.png
  )
  c.num_steps = 1000
  c.batch_size = 64
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 500
  c.keep_checkpoints = 1
  return c


def smoke(c: ml_collections.ConfigDict) -> None:
  """A few seconds: 6 steps on 256 pairs, a 16-unit model, 32 pairs evaluated."""
  c.data.train_split, c.data.dev_split, c.data.test_split = "train[:256]", "dev[:32]", "test[:32]"
  c.eval_splits = ("test",)
  c.eval_batch_size = 32
  c.optimizer.learning_rate = 1e-2  # 6 steps must show a fall
  c.checkpoint_every = 6           # one save
  c.seq2seq.num_examples = 2
  c.seq2seq.plot_examples = 2
  for key in ("hidden", "d_model", "d_ff", "embed_dim", "attention_dim"):
    if key in c.model:
      c.model[key] = 16
  if "num_heads" in c.model:
    c.model.num_heads = 2
  if "num_layers" in c.model:
    c.model.num_layers = 1
