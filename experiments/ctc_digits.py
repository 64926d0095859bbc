"""Reading digit strips with CTC: conv trunk + bidirectional LSTM over columns (notes 004).

Measured on this 2-core CPU (idle), 4,000 steps of 32 strips (~21 epochs), each
strip shifted by up to 2 pixels each way: test seq_accuracy 0.909 (best path) / 0.910
(prefix beam search, width 8), CER 2.12% / 2.10%, test CTC loss 0.336; 8.3 steps/s,
523 s wall. How it got there (same model, dropout 0.3): 2,000 steps without the
shifts read 0.851 / 0.855 (CER 3.56%), the train loss (0.41; 0.18 without dropout)
far below the test loss (0.53): the 6,000 strips reuse 8,000 training digits and the
model overfit them. With the shifts, 2,000 steps gave 0.856 at train loss 0.79 (no
longer overfitting, not yet fitted); 4,000 steps reach the bar. A wider trunk without
shifts (widths (24, 48), hidden 64, 120k parameters) read 0.866 at 2,000 steps, at
twice the cost per step. Prefix beam search adds little: the trained per-frame
distributions are peaked, so the most probable labelling is nearly always the best
path's. Beam search on the 1,000 test strips costs ~17 ms a strip (host numpy),
~20 s, once at the end (eval_every = num_steps).
"""
from __future__ import annotations

import ml_collections

from . import _base

REPORT = {"task": "sequence labelling: the 3-6 digits of a 28 x 168 strip, unsegmented",
          "output": "per-frame softmax over 11 symbols (digits 0..9, blank 10), 42 frames",
          "loss": "CTC, -log P(digits | strip) summed over alignments",
          "model": "crnn: 2x2 blocks -> conv 16 + pool 2x2 -> conv 32 + pool 2x1 -> "
                   "BiLSTM 48 (dropout 0.3) -> dense 11 (62k parameters); strips shifted "
                   "by up to 2 px",
          "data": "digit_strips: 6,000 train / 1,000 test strips of mnist10k digits",
          "metric": "test/seq_accuracy", "bar": ">= 0.9 (whole strip read exactly)",
          "result": "0.909 best path / 0.910 beam, CER 2.1% / 2.1%"}


def get_config() -> ml_collections.ConfigDict:
  c = _base.common_config("ctc")    # nn_lib/trainers/ctc.py
  c.data.name = "digit_strips"      # nn_lib/data/digit_strips.py
  c.metrics = ("seq_accuracy", "cer")  # the trainer's; not nn_lib.metrics.METRICS
  c.eval_splits = ("test",)
  # 168 columns / (2 x 2 x 1) = 42 frames for at most 6 digits (CTC needs >= 11
  # with repeats): 2x2 pixel blocks as 4 channels, conv 16 + pool 2x2, conv 32 +
  # pool 2x1, the 3 remaining rows x 32 channels per frame
  c.model = dict(name="crnn", widths=(16, 32), width_strides=(2, 1), space_to_depth=2,
                 hidden=48, dropout=0.3)
  # Each training strip shifted by up to 2 pixels each way, zero-filled (notes 004's
  # small distortions): the 6,000 strips reuse 8,000 digits, and without it the
  # model overfits them (train loss 0.18 vs test 0.56 without dropout).
  c.augment = ({"name": "translate", "max_shift": 2},)
  c.optimizer = dict(name="adam", learning_rate=1e-2, clip_norm=5.0)
  c.schedule = dict(name="cosine", end_fraction=0.05)
  c.ctc = dict(
      beam_width=8,          # prefixes kept by the prefix beam search
      beam_splits=("test",),  # splits also decoded by beam search (host numpy)
      beam_strips=0,         # of their strips (0: all)
      plot_strips=6,         # test strips drawn in plots/ctc_strips.png
  )
  c.num_steps = 4000        # ~21 epochs: the shifted strips keep it from overfitting
  c.batch_size = 32
  c.eval_batch_size = 250
  c.log_every = 100
  c.eval_every = 4000       # once: the beam search costs ~17 ms a strip on the host
  c.checkpoint_every = 2000
  c.keep_checkpoints = 1
  return c


def smoke(c: ml_collections.ConfigDict) -> None:
  """A few seconds: 64 training strips, 16 test strips, a tiny model, 6 steps."""
  c.data.train_split, c.data.test_split = "train[:64]", "test[:16]"
  # no LSTM layer: its scans' compilation would take most of the smoke run
  c.model = dict(name="crnn", widths=(4, 8), width_strides=(2, 2), num_layers=0)
  c.optimizer.learning_rate = 1e-2
  c.num_steps = 6
  c.batch_size = 16
  c.eval_batch_size = 16
  c.log_every = 2
  c.eval_every = 6
  c.checkpoint_every = 6
  c.ctc.beam_width = 4
  c.ctc.plot_strips = 2


VARIANTS = {"smoke": smoke}
