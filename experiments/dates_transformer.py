"""Date normalisation ('3 May 1979' -> '1979-05-03') by a transformer encoder-decoder (notes 004).

Measured on this 2-core CPU (idle; `launch/run_all.py`), 1,000 steps of 64 pairs:
test exact match 0.998 greedy / 0.998 beam (width 3, alpha 0.7), character BLEU
0.9995 / 0.9995, token accuracy 0.9998 (dev: 1.000 for all), 19.6 steps/s, 113 s wall
with compile, evaluations, examples and plots; a large part of it evaluates dev and
test, as the model's step decoding re-runs the decoder on its prefix, B x 3 rows at
every beam step. plots/attention.png shows the last decoder layer's cross-attention
averaged over its 4 heads: more diffuse than the RNN's alpha, but peaked on the
copied digits.
"""
from . import _dates

REPORT = {"task": "sequence to sequence: human-readable date (16 formats) -> ISO YYYY-MM-DD",
          "output": "softmax over the 71 tokens at each output step; greedy and beam search",
          "loss": "token softmax cross-entropy under teacher forcing (padding masked)",
          "model": "seq2seq_transformer: d_model 64, 2 + 2 pre-norm blocks, 4 heads, "
                   "d_ff 128 (~181k parameters)",
          "data": "dates: 10,000 train / 1,000 dev / 2,000 test pairs, no date twice",
          "metric": "test/exact_match",
          "bar": ">= 0.97 exact match (whole string), greedy and beam"}


def get_config():
  c = _dates.dates_config(dict(name="seq2seq_transformer", d_model=64, num_heads=4,
                               num_layers=2, d_ff=128, dropout=0.0, pre_norm=True))
  c.schedule = dict(name="cosine", warmup_steps=100, end_fraction=0.05)
  return c


VARIANTS = {"smoke": _dates.smoke}
