"""What the word-embedding experiments of issue 14 share: the corpus, the vocabulary,
the analogy questions, the words to inspect, and the smoke variant
(nn_lib/trainers/word_vectors.py)."""
from __future__ import annotations

import ml_collections

from . import _base

# Pairs drawn in workdir/plots/pca.png: gender pairs, whose a -> b arrows should be
# parallel if the vectors hold a "gender" direction (notes 004).
PCA_PAIRS = (("he", "she"), ("him", "her"), ("himself", "herself"), ("mr", "mrs"),
             ("brother", "sister"), ("father", "mother"), ("son", "daughter"),
             ("husband", "wife"), ("man", "woman"), ("gentleman", "lady"),
             ("uncle", "aunt"), ("boy", "girl"))


def words_config(method: str) -> ml_collections.ConfigDict:
  """A word_vectors config for `method` ("sgns" or "glove")."""
  c = _base.common_config("word_vectors")  # nn_lib/trainers/word_vectors.py
  c.data.name = "austen_text"   # nn_lib/data/text_corpus.py: the six novels
  # Every row: embeddings want all the text (nothing is held out; the analogy
  # questions are the evaluation).
  c.data.train_split = "train+dev+test"
  c.metrics = ()
  c.eval_splits = ("analogy",)
  c.embeddings = ml_collections.ConfigDict(dict(
      method=method,
      vocab_size=6000,          # the most frequent words ...
      min_count=5,              # ... that occur at least 5 times (5,896 of 14,059)
      dim=64,
      window=5,                 # each experiment sets its own
      analogies="analogies.txt",  # nn_lib/data/assets/: 2,362 questions, 5 categories
      neighbours=("sister", "father", "he", "was", "good", "letter", "house", "elinor",
                  "happy", "walked"),
      num_neighbours=8,
      pca_pairs=PCA_PAIRS,
  ))
  c.schedule = dict(name="constant")
  c.eval_batch_size = 1     # unused: the loop's key
  c.keep_checkpoints = 1
  return c


def smoke(c: ml_collections.ConfigDict) -> None:
  """A few seconds: the first 16 kB of text, a 300-word vocabulary, 16-d vectors."""
  c.data.train_split = "train[:64]"
  c.embeddings.vocab_size = 300
  c.embeddings.min_count = 2
  c.embeddings.dim = 16
  c.num_steps = 6
  c.batch_size = 1024
  c.optimizer.learning_rate *= 2.5  # 6 steps must show a fall
  c.log_every = 2
  c.eval_every = 6
  c.checkpoint_every = 3
