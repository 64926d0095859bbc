"""Learning to rank: score MNIST digits by hidden "likes", pairwise margin loss only (notes 000).

Notes 000 "Learning to Rank": the network gives every image a score z and is told
only which of two images has more likes, through the margin ranking loss

    L(z_better, z_worse) = max(0, M - (z_better - z_worse))

(the notes print max(0, M - z2 - z1), a typo). The likes are hidden from the model:
CLASS_LIKES[digit] + 40 * ink (see `nn_lib.data.canvases.likes`), so they are
learnable from the image alone.

One image per example, its likes as the (1,)-shaped target, and a scorer (LeNet-5
with one output). `losses.listwise_pairs` over axis 0 treats the batch as one list:
every ordered pair (i, j) with likes_i > likes_j costs the margin loss, averaged
over the pairs (pairs with equal likes carry no order and are left out), so a batch
of B images trains on up to B(B-1)/2 pairs and the model stays a one-image scorer.
Evaluation takes the whole test split as one list (digits never seen in training):
pairwise ordering accuracy and Kendall's tau over all its pairs.
"""
from . import _base

REPORT = dict(task="learning to rank (pairs)", output="score (identity)",
              loss="listwise_pairs (margin loss over all pairs of the batch)",
              model="lenet5 (1 output)", data="mnist_likes (mnist10k + hidden likes)",
              metric="test/pairwise_accuracy", bar="≥ 0.9 (Kendall tau reported)")


def get_config():
  c = _base.base_config()
  c.data.name = "mnist_likes"
  c.model = dict(name="lenet5", num_outputs=1, activation="relu", pooling="max")
  c.loss = dict(name="listwise_pairs", axis=0, margin=1.0, pair_loss="margin")
  c.optimizer = dict(name="adam", learning_rate=1e-3)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.num_steps = 2000
  c.batch_size = 64
  c.eval_batch_size = 2000
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.metrics = ("pairwise_accuracy", "kendall_tau")
  c.plots = ("score_scatter",)
  return c
