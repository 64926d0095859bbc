"""GloVe word vectors on Jane Austen (notes 004 "GloVe word vectors").

Measured on this 2-core CPU (`train.py --experiment=glove`), 2,000 AdaGrad steps of
16,384 of the 1,360,772 nonzero co-occurrences X_ij (window 5, weight 1/d; f(x) =
min(1, (x/100)^(3/4))), 64-d vectors w + w~ of the 5,896 words seen >= 5 times:
analogy accuracy (3CosAdd, all 2,362 questions answerable) 20.3% (step 1,000: 19.7%)
against chance 1/(V - 3) = 0.017%: gender 30.0%, past tense 23.2%, plural 10.7%,
comparative 5.1%, superlative 0/20 (word2vec_sgns: 22.6%). 135 steps/s, 28 s wall
with start-up and counting X (idle machine, `launch/run_all.py`). Nearest neighbours
(cosine): sister -> brother .93, father .88, mother .87; father -> mother .93; elinor
-> marianne, emma, elizabeth, fanny (heroines); house -> room .75; GloVe's neighbours
are more alike (cosines near 0.8 for function words: a shared frequency direction).
"""
from . import _words

REPORT = {"task": "word embeddings (log co-occurrence counts)",
          "output": "64-d vectors w + w~ of the 6,000 most frequent words",
          "loss": "GloVe: f(X_ij) (w_i.w~_j + b_i + b~_j - log X_ij)^2",
          "model": "word and context tables with biases",
          "data": "austen_text: all six novels, co-occurrences within 5 words, 1/d",
          "metric": "analogy/accuracy", "bar": "far above chance 1/(V-3)"}


def get_config():
  c = _words.words_config("glove")
  # window 5 (the paper's 10 gave 16.0% at 900 steps, 5 gave 18.0%); the paper's
  # x_max = 100, alpha = 3/4 and AdaGrad (its 0.05 learnt slower: 6.5% at 900 steps)
  c.embeddings.update(dict(window=5, x_max=100.0, alpha=0.75))
  c.optimizer = dict(name="adagrad", learning_rate=0.1)
  # 2,000 steps (15 passes over the 1.36 M nonzero X_ij): accuracy peaks there; a
  # 4,000-step run measured 19.7% / 20.3% / 19.3% / 18.7% at steps 1k / 2k / 3k / 4k
  c.num_steps = 2000
  c.batch_size = 16384      # nonzero X_ij a step
  c.log_every = 250
  c.eval_every = 1000
  c.checkpoint_every = 1000
  return c


VARIANTS = {"smoke": _words.smoke}
