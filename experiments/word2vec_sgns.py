"""Word2Vec skip-gram with negative sampling on Jane Austen, judged by analogies (notes 004).

Measured on this 2-core CPU (`train.py --experiment=word2vec_sgns`), 3,000 AdaGrad steps
of 8,192 pairs (window 2, 5 negatives from count^(3/4), subsampling t = 1e-3), 64-d
vectors of the 5,896 words seen >= 5 times: analogy accuracy (3CosAdd, all 2,362
questions answerable) 22.6% (step 1,000: 20.6%, 2,000: 23.5%), against chance
1/(V - 3) = 0.017%: gender 29.5%, past tense 27.8%, plural 7.9%, comparative 12.2%,
superlative 0/20. 74 steps/s, 60 s wall with start-up (idle machine,
`launch/run_all.py`).
Nearest neighbours (cosine): sister -> brother .77, mother .73, cousin .67;
father -> mother, brother, wife, sister, uncle; he -> she .84; elinor -> marianne .83;
letter -> note .77; walked -> walking, went, pump, came, drove.
"""
from . import _words

REPORT = {"task": "word embeddings (skip-gram: is this word in that word's window?)",
          "output": "64-d vectors of the 6,000 most frequent words",
          "loss": "negative sampling: -log sigma(u_o.v_c) - sum_k log sigma(-u_k.v_c)",
          "model": "two tables: centre vectors v (the embedding) and context vectors u",
          "data": "austen_text: all six novels, 725k words",
          "metric": "analogy/accuracy", "bar": "far above chance 1/(V-3)"}


def get_config():
  c = _words.words_config("sgns")
  # window 2 and t = 1e-3 (measured at 900 steps: window 5 / 3 / 2 gave 8.4% / 17.1% /
  # 20.4% analogy accuracy; t = 1e-4 at window 5, 3.3%): on 725k words the narrow
  # window's syntactic neighbours answer the (mostly syntactic) questions best
  c.embeddings.update(dict(window=2, subsample=1e-3, num_negatives=5, neg_power=0.75))
  # AdaGrad on the summed loss (Adam at 1e-2: 1.7% at 900 steps; AdaGrad 0.5: 1.9%)
  c.optimizer = dict(name="adagrad", learning_rate=0.2)
  c.num_steps = 3000
  c.batch_size = 8192       # skip-gram pairs a step
  c.log_every = 250
  c.eval_every = 1000
  c.checkpoint_every = 1500
  return c


VARIANTS = {"smoke": _words.smoke}
