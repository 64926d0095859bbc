"""``losses``: the course's loss catalogue as jitted pure JAX functions.

Every loss has a hand-derived derivative from the course notes
(``../shared/seeds``, files 000-004), given as a ``jax.custom_jvp`` rule
(forward and reverse mode, every order), and a plain reference formula in
``losses.reference`` that serves as the autodiff oracle in the tests.
``import losses`` imports only jax and numpy.

``LOSSES`` is the public table of losses by name (what a config's ``loss.name``
can say). Besides the notes' losses it has optax's (``docs/losses-parity.md``):
poly loss, generalized KL, cosine distance, NT-Xent, sparsemax losses and
generalized Dice. Helpers that are not losses (``smooth_labels``,
``cosine_similarity``, ``sparsemax``, ``make_fenchel_young_loss``,
``ctc_with_forward_probs``), penalties (``l2_penalty``, ``max_norm``, ...)
and ``reduce`` are not in it. Nor is
``linear_softmax_cross_entropy_with_integer_labels`` (issue 11): the integer-
label softmax CE fused with the output layer, over vocabulary chunks, so that
the N x V logits are never built. It takes ``(hidden, weight, labels)``
instead of logits, and its derivative is a ``custom_vjp`` that recomputes
each chunk in the backward pass (a JVP rule's transpose would store every
chunk's softmax): ``jax.grad`` and Hessian-vector products work, ``jax.jvp``
of the loss itself raises.

Conventions (one for every loss)
--------------------------------
``name(predictions_or_logits, targets, *, where=None, weights=None, axis=-1,
**hyperparameters)`` returns **per-example** losses, never reduced over the
batch. Per-example shape:

* elementwise losses (squared/absolute error, huber, smooth L1, log-cosh,
  sigmoid BCE, BCE, sigmoid squared error, sigmoid focal, binary hinge,
  binary sparsemax, pairwise ranking, GAN losses) return the **input shape**
  (like optax); their ``axis`` argument, where present, is unused;
* vector-valued losses reduce over ``axis`` only: softmax CE and friends
  (poly loss, KL and generalized KL, multiclass sparsemax), the multiclass
  hinges and ``nll`` over the class axis (an int, or a tuple of axes
  flattened into one), ``euclidean_error``, cosine distance and
  triplet/contrastive over the embedding axis, detection over its 5
  components, ``yolo_loss`` over the S x S grid and its channels (one value
  per image), ``listwise_pairs`` over the list, ``ntxent`` over the batch of
  embeddings (one value per anchor); dense losses (dice, jaccard, tversky,
  generalized dice, dice_cross_entropy) over the class axis and
  ``spatial_dims`` spatial axes; ``ctc`` over time and labels.

``losses.reduce(values, where=, weights=, how="mean"|"sum"|"weighted_mean")``
turns them into a scalar; an all-masked mean is 0 with zero gradient and
genuine NaNs are kept.

* ``where`` (bool, broadcastable to the per-example output, never enlarging
  it): masked entries contribute exactly 0 to the value and 0 to the gradient,
  never NaN (inputs are replaced by safe values before the loss and the output
  is zeroed after it: the double-``where`` pattern). ``listwise_pairs`` is the
  one exception: its ``where`` masks items of the list.
* ``weights`` (broadcastable to the output) multiply the per-example values.
* Shapes must match exactly (``ValueError`` naming both shapes at trace time;
  no silent broadcasting). Predictions/logits must be floating point.
* Integer-label losses require integer labels; a negative label means
  "ignore" (loss 0, gradient 0 — pass ``where=labels >= 0`` to ``reduce`` to
  drop it from the mean); a label >= the number of classes raises
  ``ValueError`` when the labels are concrete and gives NaN (value and
  gradient) under ``jax.jit``.
* Float hyperparameters (margin, delta, gamma, alpha, label_smoothing, ...)
  are traced: changing them does not recompile; they get zero gradient.
  Shape/branch hyperparameters (axis, mode, p, squared, ...) are static.
  Out-of-range values (``margin < 0``, ``delta <= 0``, ``gamma < 0``, a
  sigmoid focal ``alpha`` outside [0, 1], ...) raise ``ValueError`` naming
  the loss when concrete (an eager call, or a Python number inside ``jit``);
  a traced value (a ``jit`` argument) cannot be inspected and is unchecked.
* Losses on probabilities (``binary_cross_entropy``, ``nll``, the targets of
  ``kl_divergence``, dense losses with ``from_logits=False``) raise
  ``ValueError`` for concrete values outside [0, 1] (masked entries are not
  inspected); traced values are unchecked, so the check costs the compiled
  loss nothing.
* float16/bfloat16 inputs are computed in float32 and returned in the input
  dtype.

Typos in the notes that are implemented in their correct form: note 000's
``AE = y - y^`` (means ``|y - y^|``), its ranking loss ``max(0, M - z2 - z1)``
(means ``max(0, M - (z2 - z1))``), and its BCE/MSE gradients printed as
``t - sigma`` (the derivative of the loss is ``sigma - t``; for MSE on a
sigmoid ``2 (sigma - t) sigma (1 - sigma)``, as note 003 has it).
"""

import types

from losses._classification import binary_cross_entropy
from losses._classification import sigmoid_binary_cross_entropy
from losses._classification import sigmoid_squared_error
from losses._common import reduce
from losses._ctc import ctc
from losses._ctc import ctc_with_forward_probs
from losses._dense import dice
from losses._dense import dice_cross_entropy
from losses._dense import jaccard
from losses._dense import tversky
from losses._detection import single_object_detection
from losses._detection import yolo_loss
from losses._divergences import generalized_kl_divergence
from losses._divergences import kl_divergence
from losses._divergences import poly_loss_cross_entropy
from losses._divergences import smooth_labels
from losses._focal import sigmoid_focal
from losses._focal import softmax_focal
from losses._fused_ce import linear_softmax_cross_entropy_with_integer_labels
from losses._gan import gan_discriminator
from losses._gan import gan_generator_minimax
from losses._gan import gan_generator_nonsaturating
from losses._hinge import binary_hinge
from losses._hinge import crammer_singer_hinge
from losses._hinge import multiclass_hinge
from losses._metric_learning import batch_hard_triplet
from losses._metric_learning import contrastive
from losses._metric_learning import triplet_margin
from losses._multiclass import nll
from losses._multiclass import softmax_binary_cross_entropy
from losses._multiclass import softmax_cross_entropy
from losses._multiclass import softmax_cross_entropy_with_integer_labels
from losses._ranking import listwise_pairs
from losses._ranking import pairwise_logistic
from losses._ranking import pairwise_margin_ranking
from losses._regression import absolute_error
from losses._regression import euclidean_error
from losses._regression import huber
from losses._regression import log_cosh
from losses._regression import smooth_l1
from losses._regression import squared_error
from losses._regularizers import elastic_net
from losses._regularizers import l1_penalty
from losses._regularizers import l2_penalty
from losses._regularizers import max_norm
from losses._regularizers import max_norm_project
from losses._regularizers import MaxNormState
from losses._segmentation import generalized_dice
from losses._sequence import glove
from losses._sequence import negative_sampling
from losses._similarity import cosine_distance
from losses._similarity import cosine_similarity
from losses._similarity import ntxent
from losses._sparsemax import make_fenchel_young_loss
from losses._sparsemax import multiclass_sparsemax_loss
from losses._sparsemax import sparsemax
from losses._sparsemax import sparsemax_loss

# The one place the version is written: losses/pyproject.toml reads it, and
# CHANGELOG.md says what changed in each (docs/losses.md, "Stability policy").
__version__ = "0.1.0"

LOSSES = types.MappingProxyType(
  {
    # (a jitted function has its __name__ at run time; jax's stubs do not say so)
    fn.__name__: fn  # type: ignore[union-attr]
    for fn in (
      # regression (notes 000, 001)
      squared_error,
      absolute_error,
      euclidean_error,
      huber,
      smooth_l1,
      log_cosh,
      # binary / multi-label (notes 000, 003)
      sigmoid_binary_cross_entropy,
      binary_cross_entropy,
      sigmoid_squared_error,
      # multiclass (notes 000-003)
      softmax_cross_entropy,
      softmax_cross_entropy_with_integer_labels,
      nll,
      softmax_binary_cross_entropy,
      kl_divergence,
      # hinge (notes 001, 002)
      binary_hinge,
      multiclass_hinge,
      crammer_singer_hinge,
      # detection, ranking, GANs (note 000)
      single_object_detection,
      pairwise_margin_ranking,
      pairwise_logistic,
      listwise_pairs,
      gan_discriminator,
      gan_generator_nonsaturating,
      gan_generator_minimax,
      # metric learning, dense, sequences (note 004)
      triplet_margin,
      batch_hard_triplet,
      contrastive,
      dice,
      jaccard,
      tversky,
      sigmoid_focal,
      softmax_focal,
      dice_cross_entropy,
      generalized_dice,
      ctc,
      negative_sampling,
      glove,
      # grid detection (note 004; Redmon et al. 2016)
      yolo_loss,
      # divergences (optax parity)
      poly_loss_cross_entropy,
      generalized_kl_divergence,
      # similarity (optax parity; cosine_similarity is a similarity, not a loss)
      cosine_distance,
      ntxent,
      # sparsemax (optax parity)
      sparsemax_loss,
      multiclass_sparsemax_loss,
    )
  }
)

__all__ = [
  "LOSSES",
  # regression (notes 000, 001)
  "squared_error",
  "absolute_error",
  "euclidean_error",
  "huber",
  "smooth_l1",
  "log_cosh",
  # binary / multi-label (notes 000, 003)
  "sigmoid_binary_cross_entropy",
  "binary_cross_entropy",
  "sigmoid_squared_error",
  # multiclass (notes 000-003)
  "softmax_cross_entropy",
  "softmax_cross_entropy_with_integer_labels",
  "nll",
  "softmax_binary_cross_entropy",
  "kl_divergence",
  # the same CE fused with the output layer, over vocabulary chunks (issue
  # 11; takes hidden states and weights, not logits: not in LOSSES)
  "linear_softmax_cross_entropy_with_integer_labels",
  # hinge (notes 001, 002)
  "binary_hinge",
  "multiclass_hinge",
  "crammer_singer_hinge",
  # detection, ranking, GANs (note 000)
  "single_object_detection",
  "pairwise_margin_ranking",
  "pairwise_logistic",
  "listwise_pairs",
  "gan_discriminator",
  "gan_generator_nonsaturating",
  "gan_generator_minimax",
  # metric learning, dense, sequences (note 004)
  "triplet_margin",
  "batch_hard_triplet",
  "contrastive",
  "dice",
  "jaccard",
  "tversky",
  "sigmoid_focal",
  "softmax_focal",
  "dice_cross_entropy",
  "generalized_dice",
  "ctc",
  "ctc_with_forward_probs",
  "negative_sampling",
  "glove",
  # grid detection (note 004; Redmon et al. 2016)
  "yolo_loss",
  # divergences and label smoothing (optax parity; smooth_labels is a
  # target transform, not a loss)
  "poly_loss_cross_entropy",
  "generalized_kl_divergence",
  "smooth_labels",
  # similarity (optax parity)
  "cosine_similarity",
  "cosine_distance",
  "ntxent",
  # sparsemax and Fenchel-Young losses (optax parity; sparsemax is a
  # projection and make_fenchel_young_loss a constructor, not losses)
  "sparsemax",
  "sparsemax_loss",
  "multiclass_sparsemax_loss",
  "make_fenchel_young_loss",
  # regularizers (notes 001, 002, 004)
  "l2_penalty",
  "l1_penalty",
  "elastic_net",
  "max_norm",
  "max_norm_project",
  "MaxNormState",
  # reduction
  "reduce",
]
