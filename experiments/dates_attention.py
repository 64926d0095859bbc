"""Dates to ISO ('3 May 1979' -> '1979-05-03'): biGRU encoder + attention GRU decoder (notes 004).

Measured on this 2-core CPU (idle; `launch/run_all.py`), 1,000 steps of 64 pairs:
test exact match 1.000 greedy / 1.000 beam (width 3, alpha 0.7) on all 2,000 test
dates, character BLEU 1.000 / 1.000, token accuracy 1.000 (dev: the same), 24.1
steps/s, 78 s wall with compile, evaluations, examples and plots. (Before the beam
search learned to go on while a live hypothesis can still win, it stopped once K = 3
hypotheses had ended, and lost 5 test dates to short, unlikely endings, e.g.
'02 Aug 2034' -> '2034-08-0': the notes' error analysis, P(y*|x) > P(y_hat|x), blamed
the search.)
plots/attention.png: each ISO digit attends to the source character it copies (the
year's digits, the day), the month digits to the month name or number.
"""
from . import _dates

REPORT = {"task": "sequence to sequence: human-readable date (16 formats) -> ISO YYYY-MM-DD",
          "output": "softmax over the 71 tokens at each output step; greedy and beam search",
          "loss": "token softmax cross-entropy under teacher forcing (padding masked)",
          "model": "seq2seq_rnn: embed 32, bidirectional GRU 64 + Bahdanau attention, "
                   "GRU 64 (~109k parameters)",
          "data": "dates: 10,000 train / 1,000 dev / 2,000 test pairs, no date twice",
          "metric": "test/exact_match",
          "bar": ">= 0.97 exact match (whole string), greedy and beam"}


def get_config():
  return _dates.dates_config(dict(name="seq2seq_rnn", embed_dim=32, hidden=64,
                                  attention_dim=32, cell="gru"))


VARIANTS = {"smoke": _dates.smoke}
