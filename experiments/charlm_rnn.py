"""Character-level plain (tanh) RNN language model on Jane Austen, truncated BPTT, clipped gradients (notes 004).

Measured on this 2-core CPU, 1,800 steps of 32 streams x 64 characters (about 1 pass
over the 3.6 M training characters): dev 2.172 / test 2.152 bits per character (train
2.046), 24.9 steps/s, 85 s wall (`train.py --experiment=charlm_rnn`, with compile,
evals, sample). At the LSTM's rate 1e-2 it ends at dev 2.807 instead. Sample
(temperature 0.8, top-k 20, seed 0, after the dev prompt '"Well, you will soon be better
n'): "half an each feether an idmath at after her owfard betwerits; with one
delightenciss of thought it all that the war those than is to best mettanion"
"""
from . import _charlm

REPORT = {"task": "character language model (next character of English text)",
          "output": "softmax over the 82 characters",
          "loss": "softmax cross-entropy (bits per character = nats / ln 2)",
          "model": "embed 32 -> tanh RNN 256 -> dense 82 (~98k parameters)",
          "data": "austen_text: 3.6 M train characters in 32 streams, windows of 64",
          "metric": "dev/bpc", "bar": "the baseline the gated cells must beat"}


def get_config():
  # 256 units: about the LSTM's parameter count (one W_aa of 256^2 vs four gates)
  return _charlm.lm_config(dict(name="rnn", hidden=256, embed_dim=32, activation="tanh"))


VARIANTS = {"smoke": _charlm.smoke}
