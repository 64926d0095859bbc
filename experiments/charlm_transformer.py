"""Character-level causal transformer language model on Jane Austen, each 64-character window alone (notes 004).

Measured on this 2-core CPU, 1,800 steps of 32 windows of 64 characters: dev 2.320 /
test 2.304 bits per character (train 2.219), 32.4 steps/s, 80 s wall (`train.py
--experiment=charlm_transformer`, with compile, evals, sample). It trails the recurrent
models, which carry their state across windows: its context is the window (a window's
first characters are predicted from almost nothing). Sampled through the KV-cache
decoder (temperature 0.8, top-k 20, seed 0, after '"Well, you will soon be better n'):
'Mr. Wichated in the each prover, which herself to much to no hilipration.'
"""
from . import _charlm

REPORT = {"task": "character language model (next character of English text)",
          "output": "softmax over the 82 characters",
          "loss": "softmax cross-entropy (bits per character = nats / ln 2)",
          "model": "transformer_lm: d_model 64, 2 pre-norm causal blocks, 4 heads, "
                   "d_ff 192 (~94k parameters)",
          "data": "austen_text: 3.6 M train characters in 32 streams, windows of 64",
          "metric": "dev/bpc", "bar": "context = its 64-character window (no carried state)"}


def get_config():
  return _charlm.lm_config(dict(name="transformer_lm", d_model=64, num_heads=4, num_layers=2,
                                d_ff=192, dropout=0.0, pre_norm=True))


VARIANTS = {"smoke": _charlm.smoke}
