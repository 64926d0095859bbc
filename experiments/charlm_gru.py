"""Character-level GRU (the notes' full GRU) language model on Jane Austen, truncated BPTT (notes 004).

Measured on this 2-core CPU, 1,800 steps of 32 streams x 64 characters: dev 2.083 / test
2.060 bits per character (train 1.959), 0.089 below the plain RNN's dev 2.172, 26.5
steps/s, 82 s wall (`train.py --experiment=charlm_gru`, with compile, evals, sample).
Sample (temperature 0.8, top-k 20, seed 0, after the dev prompt '"Well, you will soon be
better n'): "She could have heard for seen of her, and behall on a great having sure in
feararity with menty soon and invite all her readure"
"""
from . import _charlm

REPORT = {"task": "character language model (next character of English text)",
          "output": "softmax over the 82 characters",
          "loss": "softmax cross-entropy (bits per character = nats / ln 2)",
          "model": "embed 32 -> GRU 150 (notes' variant) -> dense 82 (~97k parameters)",
          "data": "austen_text: 3.6 M train characters in 32 streams, windows of 64",
          "metric": "dev/bpc", "bar": "< charlm_rnn's dev/bpc after the same 1,800 steps"}


def get_config():
  # 150 units: about the LSTM's parameter count (3 gates of 150 vs 4 of 128)
  return _charlm.lm_config(dict(name="gru", hidden=150, embed_dim=32))


VARIANTS = {"smoke": _charlm.smoke}
