"""Learning to rank: score MNIST digits by hidden "likes", pairwise margin loss only (notes 000).

Notes 000 "Learning to Rank": the network gives every image a score z and is told
only which of two images has more likes, through the margin ranking loss

    L(z_better, z_worse) = max(0, M - (z_better - z_worse))

(`losses.pairwise_margin_ranking`; the notes print max(0, M - z2 - z1), a typo).
The likes are hidden from the model: CLASS_LIKES[digit] + 40 * ink (see
`nn_lib.data.canvases.likes`), so they are learnable from the image alone.

Data layout: one image per example, its likes as the (1,)-shaped target, and a
scorer (LeNet-5 with one output). The loss forms every ordered pair (i, j) of the
batch with likes_i > likes_j, so a batch of B images trains on up to B(B-1)/2 pairs
and the model stays a plain one-image scorer; held-out pairs are all pairs of test
images (digits never seen in training). Evaluation: pairwise ordering accuracy and
Kendall's tau over every pair of the test split.
"""
from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import losses
from experiments import _base, _sweep
from nn_lib import metrics
from nn_lib.config import ConfigError
from nn_lib.plots import images

REPORT = dict(task="learning to rank (pairs)", output="score (identity)",
              loss="pairwise_margin_ranking (all pairs in the batch)",
              model="lenet5 (1 output)", data="mnist_likes (mnist10k + hidden likes)",
              metric="test/pairwise_accuracy", bar="≥ 0.9 (Kendall tau reported)")


def get_config(variant=None):
  c = _base.base_config()
  c.data.name = "mnist_likes"
  c.model = dict(name="lenet5", num_classes=1, activation="relu", pooling="max")
  # Applied to every ordered pair of the batch with likes_i > likes_j (see loss_fn).
  c.loss = dict(name="pairwise_margin_ranking", margin=1.0)
  c.optimizer = dict(name="adam", learning_rate=1e-3)
  c.schedule = dict(name="cosine", warmup_steps=100)
  c.num_steps = 2000
  c.batch_size = 64
  c.eval_batch_size = 2000  # the whole test split in one batch: its loss uses every pair
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.metrics = ("pairwise_accuracy", "kendall_tau")
  return _base.apply_variant(c, variant)


def all_pairs_loss(scores_Bx1: jax.Array, likes_Bx1: jax.Array, *, margin: float) -> jax.Array:
  """Margin ranking loss over every ordered pair (i, j) of the batch with
  likes_i > likes_j (z_better = z_i, z_worse = z_j), returned per row so that the
  loop's mean over rows is the mean over pairs:

      row_i = B / n_pairs * sum_j [likes_i > likes_j] max(0, M - (z_i - z_j)).

  Pairs with equal likes carry no order and are left out (masked, zero gradient).
  """
  if scores_Bx1.shape != likes_Bx1.shape or scores_Bx1.ndim != 2 or scores_Bx1.shape[1] != 1:
    raise ValueError(f"all_pairs_loss: needs scores and likes of shape B x 1; got "
                     f"{scores_Bx1.shape} and {likes_Bx1.shape}")
  z_B, t_B = scores_Bx1[:, 0], likes_Bx1[:, 0]
  b = z_B.shape[0]
  better_BxB = t_B[:, None] > t_B[None, :]
  per_pair_BxB = losses.pairwise_margin_ranking(
      jnp.broadcast_to(z_B[:, None], (b, b)), jnp.broadcast_to(z_B[None, :], (b, b)),
      where=better_BxB, margin=margin)
  n_pairs = jnp.maximum(jnp.sum(better_BxB), 1)
  return jnp.sum(per_pair_BxB, axis=1) * (b / n_pairs)


def run(cfg, workdir):
  if cfg.loss.name != "pairwise_margin_ranking":
    raise ConfigError(f"rank_likes trains with pairwise_margin_ranking only; "
                      f"config.loss.name is {cfg.loss.name!r}")
  loss_fn = functools.partial(all_pairs_loss, margin=cfg.loss.margin)
  return _sweep.run_with_hooks(cfg, workdir, loss_fn=loss_fn,
                                 after_training=functools.partial(after_training, cfg))


def after_training(cfg, state, model, splits, workdir: Path) -> None:
  test = splits["test"]
  scores = _sweep.predict(model, state, test["inputs"], cfg.eval_batch_size)
  tau = float(metrics.kendall_tau(scores, test["targets"]))
  acc = float(metrics.pairwise_accuracy(scores, test["targets"]))
  images.score_scatter(np.ravel(scores), np.ravel(test["targets"]),
                       Path(workdir) / "plots" / "scores_vs_likes.png",
                       xlabel="hidden likes", ylabel="predicted score",
                       title=f"test images: pairwise accuracy {acc:.3f}, Kendall tau {tau:.3f}")
