"""Verification metrics over every pair of a split's embeddings (notes 004, "Face
verification": "is this the claimed person?" answered by d(img1, img2) <= tau).

Outputs are embeddings B x D, targets B integer identities. Each unordered pair
i < j is "genuine" when y_i = y_j and "impostor" otherwise; a threshold tau
accepts a pair when its distance d_ij <= tau:

  FAR(tau) = #{impostor pairs with d <= tau} / #impostor pairs   (false accepts)
  FRR(tau) = #{genuine pairs with d > tau} / #genuine pairs      (false rejects)
  TAR(tau) = 1 - FRR(tau)

The distance is the squared Euclidean d_ij = ||f(x_i) - f(x_j)||^2, the one the
triplet loss of the same note trains ("||f(A) - f(P)||^2 + alpha <= ||f(A) - f(N)||^2").
For the L2-normalised embeddings of `embedding_net` it is 2 - 2 cos(f_i, f_j), a
decreasing function of the cosine similarity, so the ROC, the EER and recall@1 are
the same as with cosine; unlike cosine it also means what the loss meant for
embeddings that are not normalised.

The metrics see a whole evaluation split at once (the loop gathers the outputs
first), so they are exact over all B (B - 1) / 2 pairs; on a training batch they
are that batch's values. A split without a genuine or without an impostor pair
has no EER (NaN).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nn_lib.metrics.registry import register


def pairwise_squared_distances(embeddings_BxD: jax.Array) -> jax.Array:
  """B x B matrix of ||e_i - e_j||^2 = ||e_i||^2 + ||e_j||^2 - 2 e_i . e_j, in
  float32, clipped at 0 (rounding can make the expansion slightly negative). The
  expansion keeps memory at B x B rather than the B x B x D of the differences,
  so a split of thousands of examples fits."""
  e_BxD = embeddings_BxD.astype(jnp.float32)
  sq_B = jnp.sum(e_BxD * e_BxD, axis=-1)
  gram_BxB = jnp.matmul(e_BxD, e_BxD.T, precision=jax.lax.Precision.HIGHEST)
  return jnp.maximum(sq_B[:, None] + sq_B[None, :] - 2.0 * gram_BxB, 0.0)


def _check(embeddings_BxD: jax.Array, labels_B: jax.Array, name: str) -> None:
  if embeddings_BxD.ndim != 2 or labels_B.ndim != 1 or labels_B.shape[0] != embeddings_BxD.shape[0]:
    raise ValueError(
      f"{name} needs embeddings B x D and integer labels B, got "
      f"{embeddings_BxD.shape} and {labels_B.shape}"
    )
  if not jnp.issubdtype(labels_B.dtype, jnp.integer):
    raise ValueError(f"{name} needs integer identity labels, got {labels_B.dtype}")


def far_frr(embeddings_BxD: jax.Array, labels_B: jax.Array):
  """(thresholds_P, FAR_P, FRR_P): one operating point per unordered pair's
  distance, thresholds ascending (P = B^2, the B (B + 1) / 2 entries that are not
  pairs i < j sit at threshold +inf, where everything is accepted: FAR 1, FRR 0).

  Counts come from binary searches in the sorted genuine and impostor distances
  (`side="right"`: d <= tau accepts), so tied distances give one operating point,
  not a staircase through the tie in whatever order the sort left it.
  """
  b = labels_B.shape[0]
  d_BxB = pairwise_squared_distances(embeddings_BxD)
  upper_BxB = jnp.triu(jnp.ones((b, b), dtype=bool), k=1)
  same_BxB = labels_B[:, None] == labels_B[None, :]
  genuine_P = (upper_BxB & same_BxB).ravel()
  impostor_P = (upper_BxB & ~same_BxB).ravel()
  d_P = d_BxB.ravel()
  gen_sorted_P = jnp.sort(jnp.where(genuine_P, d_P, jnp.inf))
  imp_sorted_P = jnp.sort(jnp.where(impostor_P, d_P, jnp.inf))
  thresholds_P = jnp.sort(jnp.where(upper_BxB.ravel(), d_P, jnp.inf))
  n_gen, n_imp = jnp.sum(genuine_P), jnp.sum(impostor_P)
  gen_accepted_P = jnp.minimum(jnp.searchsorted(gen_sorted_P, thresholds_P, side="right"), n_gen)
  imp_accepted_P = jnp.minimum(jnp.searchsorted(imp_sorted_P, thresholds_P, side="right"), n_imp)
  # +inf thresholds would count the +inf padding as accepted: the minimum caps it
  far_P = imp_accepted_P / n_imp  # 0 / 0 = NaN where a kind of pair is missing
  frr_P = (n_gen - gen_accepted_P) / n_gen
  return thresholds_P, far_P, frr_P


@register("verification_eer")
def verification_eer(embeddings_BxD: jax.Array, labels_B: jax.Array) -> jax.Array:
  """Equal error rate: the error where FAR = FRR.

  The operating points (FAR(tau), FRR(tau)) for tau at every pair distance, after
  the point (0, 1) of a threshold below every distance, are joined by straight
  segments (what a threshold chosen at random between two neighbouring ones
  achieves); FAR - FRR rises from -1 to 1 along them, and the EER is where the
  segment from the last point with FAR < FRR to the first with FAR >= FRR crosses
  FAR = FRR: with D = FAR - FRR, t = -D_a / (D_b - D_a), EER = FAR_a + t (FAR_b - FAR_a).
  """
  _check(embeddings_BxD, labels_B, "verification_eer")
  _, far_P, frr_P = far_frr(embeddings_BxD, labels_B)
  far_K = jnp.concatenate([jnp.zeros(1, far_P.dtype), far_P])
  frr_K = jnp.concatenate([jnp.ones(1, frr_P.dtype), frr_P])
  diff_K = far_K - frr_K
  b = jnp.argmax(diff_K >= 0)  # >= 1: the first point is (0, 1), diff -1
  a = jnp.maximum(b - 1, 0)
  gap = diff_K[b] - diff_K[a]
  t = jnp.where(gap > 0, -diff_K[a] / jnp.where(gap > 0, gap, 1.0), 1.0)
  defined = jnp.all(jnp.isfinite(far_P)) & jnp.all(jnp.isfinite(frr_P))
  return jnp.where(defined, far_K[a] + t * (far_K[b] - far_K[a]), jnp.nan)


@register("recall_at_1")
def recall_at_1(embeddings_BxD: jax.Array, labels_B: jax.Array) -> jax.Array:
  """Fraction of examples whose nearest other example (squared Euclidean, itself
  excluded; ties go to the lower index) has the same label: one-shot
  identification (notes 004, "One-shot learning") with every other example of the
  split as the gallery."""
  _check(embeddings_BxD, labels_B, "recall_at_1")
  b = labels_B.shape[0]
  d_BxB = jnp.where(jnp.eye(b, dtype=bool), jnp.inf, pairwise_squared_distances(embeddings_BxD))
  nearest_B = jnp.argmin(d_BxB, axis=-1)
  return jnp.mean((labels_B[nearest_B] == labels_B).astype(jnp.float32))


def verification_roc(embeddings_BxD, labels_B) -> dict[str, np.ndarray]:
  """The ROC for a plot, on the host: {"far", "tar", "thresholds"} (numpy), one
  point per distinct operating point in order of rising threshold, starting at
  FAR = TAR = 0 (threshold -inf) and ending at FAR = TAR = 1. TAR = 1 - FRR."""
  labels_B = jnp.asarray(labels_B)
  embeddings_BxD = jnp.asarray(embeddings_BxD)
  _check(embeddings_BxD, labels_B, "verification_roc")
  thresholds_P, far_P, frr_P = (
    np.asarray(x, np.float64) for x in jax.jit(far_frr)(embeddings_BxD, labels_B)
  )
  thresholds = np.concatenate([[-np.inf], thresholds_P])
  far = np.concatenate([[0.0], far_P])
  tar = np.concatenate([[0.0], 1.0 - frr_P])
  # One point per distinct threshold (tied thresholds have equal counts); the +inf
  # ones are the entries that are not pairs, and the largest distance already
  # accepts every pair.
  keep = np.append(thresholds[1:] != thresholds[:-1], True) & (thresholds < np.inf)
  return {"far": far[keep], "tar": tar[keep], "thresholds": thresholds[keep]}
