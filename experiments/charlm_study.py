"""Character language models compared: plain RNN vs GRU vs LSTM vs transformer, same budget (notes 004).

Measured on this 2-core CPU (`train.py --experiment=charlm_study`, 447 s in all):
1,800 steps of 32 streams x 64 characters each, clip_norm 1.0, Adam at 3e-3 (the
LSTM at 1e-2, see charlm_lstm):

  run          params   dev bpc   test bpc   steps/s   wall
  rnn          97,682    2.172     2.152      23.8      90 s
  gru          97,356    2.083     2.060      23.8      98 s
  lstm         95,634    2.112     2.084      20.9     109 s
  transformer  94,162    2.320     2.304      16.6     146 s

The gated cells beat the plain RNN on dev by 0.089 (GRU) and 0.060 (LSTM) bits per
character; the transformer, whose context is its 64-character window, trails all three.
Steps/s and wall depend on the machine's load: run alone (charlm_<model>), the same
configs gave the same bpc to the last digit at 24.5-32.4 steps/s in 80-90 s each.
"""
from . import _base, _charlm, charlm_gru, charlm_lstm, charlm_rnn, charlm_transformer

REPORT = dict(task="study: sequence models as character language models",
              output="softmax over the 82 characters", loss="softmax cross-entropy",
              model="rnn 256 / gru 150 / lstm 128 / transformer_lm d64x2 (~96k each)",
              data="austen_text, 32 streams, windows of 64, 1,800 steps",
              metric="lstm/dev/bpc", bar="< rnn/dev/bpc (the gated cells beat the plain RNN)",
              table=("dev/bpc", "test/bpc", "train/steps_per_sec"))

_RUNS = (("rnn", charlm_rnn), ("gru", charlm_gru), ("lstm", charlm_lstm),
         ("transformer", charlm_transformer))


def get_config():
  c = charlm_lstm.get_config()
  c.study = "compare"
  # The study's own check (config.validate_common) takes "dev" for a fraction carved
  # from train (data.dev_fraction); the corpus's dev split is its own, which the
  # charlm trainer reads: the study declares test alone, and each run adds dev.
  c.eval_splits = ("test",)
  c.compare = dict(runs=tuple((name, (("model", module.get_config().model),
                                      ("optimizer", module.get_config().optimizer),
                                      ("eval_splits", ("dev", "test"))))
                              for name, module in _RUNS),
                   panels=("train/bpc", "dev/bpc", "train/grad_norm"),
                   log_y=("train/grad_norm",),
                   title="same budget: 1,800 steps of 32 x 64 characters, clip 1.0",
                   smooth=0.6)
  return c


def _smoke(c):
  _charlm.smoke(c)
  _base.only_runs("lstm")(c)
  c.compare.runs = tuple((name, (("model", dict(model, hidden=16, embed_dim=16)), opt, splits))
                         for name, ((_, model), opt, splits) in c.compare.runs)


VARIANTS = {"smoke": _smoke}
