"""Bad inputs: calls of the losses library (rows of docs/bad-inputs.md)."""
from __future__ import annotations


import jax
import jax.numpy as jnp

import losses
from tests.bad_inputs._case import Case

# --- the losses library --------------------------------------------------------------

_Z = jnp.zeros((3, 4))            # logits: 3 examples, 4 classes
_Y = jnp.array([0, 1, 2])         # their integer labels
_SEG = jnp.zeros((1, 2, 2, 3))    # a 2x2 image with 3 classes
_EMB = jnp.zeros((2, 3))          # 2 embeddings of size 3
SCE, SCEI = losses.softmax_cross_entropy, losses.softmax_cross_entropy_with_integer_labels

LOSS = "losses"
CASES: list[Case] = [
    Case(LOSS, "integer logits", lambda: SCE(_Z.astype(jnp.int32), _Z), ValueError,
         "softmax_cross_entropy: logits must be floating point, got dtype int32 with "
         "shape (3, 4)."),
    Case(LOSS, "float labels for an integer-label loss",
         lambda: SCEI(_Z, _Y.astype(jnp.float32)), ValueError,
         "softmax_cross_entropy_with_integer_labels: labels must be integer class "
         "indices, got dtype float32 with shape (3,)."),
    Case(LOSS, "label 4 with 4 classes (concrete labels)",
         lambda: SCEI(_Z, jnp.array([0, 4, 1])), ValueError,
         "softmax_cross_entropy_with_integer_labels: labels contain 4 but there are only "
         "4 classes (valid labels are 0..3; negative labels mean 'ignore')."),
    Case(LOSS, "labels of shape (3, 1) for logits (3, 4)",
         lambda: SCEI(_Z, _Y[:, None]), ValueError,
         "softmax_cross_entropy_with_integer_labels: logits shape (3, 4) and labels shape "
         "(3, 1) are incompatible: labels must have shape (3,) (logits without axis -1)."),
    Case(LOSS, "rank-0 probabilities (`nll`)", lambda: losses.nll(jnp.array(0.5),
                                                                  jnp.array(0)),
         ValueError, "nll: probs must have rank >= 1, got shape ()."),
    Case(LOSS, "`axis=5` for rank-2 logits", lambda: SCE(_Z, _Z, axis=5), ValueError,
         "softmax_cross_entropy: axis 5 out of range for rank 2."),
    Case(LOSS, "`axis=(1, 1)`", lambda: SCE(_Z, _Z, axis=(1, 1)), ValueError,
         "softmax_cross_entropy: axis (1, 1) names an axis twice."),
    Case(LOSS, "`axis=1.5`", lambda: SCE(_Z, _Z, axis=1.5), ValueError,
         "softmax_cross_entropy: axis must be an int or a non-empty tuple of ints, got "
         "1.5."),
    Case(LOSS, "predictions (4,) and targets (4, 1)",
         lambda: losses.squared_error(jnp.zeros(4), jnp.zeros((4, 1))), ValueError,
         "squared_error: predictions shape (4,) and targets shape (4, 1) must be equal "
         "(no implicit broadcasting)."),
    Case(LOSS, "logits (3, 4) and target probabilities (3, 5)",
         lambda: losses.kl_divergence(_Z, jnp.zeros((3, 5))), ValueError,
         "kl_divergence: logits shape (3, 4) and target_probs shape (3, 5) must be equal "
         "(no implicit broadcasting)."),
    Case(LOSS, "complex targets",
         lambda: losses.squared_error(jnp.zeros(4), jnp.zeros(4, jnp.complex64)),
         ValueError, "squared_error: targets must be real, got dtype complex64."),
    Case(LOSS, "a `where` mask that would enlarge the output",
         lambda: losses.squared_error(jnp.zeros(4), jnp.zeros(4),
                                      where=jnp.ones((4, 2), bool)), ValueError,
         "squared_error: where shape (4, 2) does not broadcast to the per-example loss "
         "shape (4,)."),
    Case(LOSS, "`weights` that would enlarge the output",
         lambda: losses.squared_error(jnp.zeros(4), jnp.zeros(4),
                                      weights=jnp.ones((2, 4))), ValueError,
         "squared_error: weights shape (2, 4) does not broadcast to the per-example loss "
         "shape (4,)."),
    Case(LOSS, "`dice(from_logits=False)` with values outside [0, 1]",
         lambda: losses.dice(jnp.full((1, 2, 2, 3), 1.5), _SEG, from_logits=False,
                             mode="multilabel"), ValueError,
         "dice: from_logits=False expects probabilities in [0, 1], got values in [1.5, "
         "1.5]; pass logits with from_logits=True (the default) instead."),
    Case(LOSS, "`dice(from_logits=False, mode='multiclass')`, rows not summing to 1",
         lambda: losses.dice(jnp.full((1, 2, 2, 3), 0.5), _SEG, from_logits=False,
                             mode="multiclass"), ValueError,
         "dice: mode='multiclass' with from_logits=False expects probabilities that sum "
         "to 1 over the class axis (within 1.0e-05), got sums in [1.5, 1.5]"),
    Case(LOSS, "`dice(mode='x')`", lambda: losses.dice(_SEG, _SEG, mode="x"), ValueError,
         "dice: mode must be one of ('binary', 'multiclass', 'multilabel'), got 'x'."),
    Case(LOSS, "`dice(mode='binary', ignore_background=True)`",
         lambda: losses.dice(jnp.zeros((1, 2, 2)), jnp.zeros((1, 2, 2)), mode="binary",
                             ignore_background=True), ValueError,
         "dice: ignore_background=True drops class 0 of the class axis and needs mode "
         "'multiclass' or 'multilabel' with >= 2 classes (got mode 'binary' with 1 "
         "class(es))."),
    Case(LOSS, "`smooth_labels(alpha=1.5)`",
         lambda: losses.smooth_labels(jnp.eye(3), 1.5), ValueError,
         "smooth_labels: alpha must be in [0, 1], got 1.5."),
    Case(LOSS, "`smooth_labels(alpha=-0.1)`",
         lambda: losses.smooth_labels(jnp.eye(3), -0.1), ValueError,
         "smooth_labels: alpha must be in [0, 1], got -0.1."),
    Case(LOSS, "`poly_loss_cross_entropy(epsilon=<a vector>)`",
         lambda: losses.poly_loss_cross_entropy(_Z, jax.nn.softmax(_Z),
                                                epsilon=jnp.ones(2)), ValueError,
         "poly_loss_cross_entropy: epsilon must be a scalar, got shape (2,)."),
    Case(LOSS, "`ntxent(temperature=0)`",
         lambda: losses.ntxent(jnp.ones((4, 3)), jnp.array([0, 0, 1, 1]),
                               temperature=0.0), ValueError,
         "ntxent: temperature must be > 0, got 0.0."),
    Case(LOSS, "`cosine_distance(epsilon=-1)`",
         lambda: losses.cosine_distance(jnp.ones((4, 3)), jnp.ones((4, 3)), epsilon=-1.0),
         ValueError, "cosine_distance: epsilon must be >= 0, got -1.0."),
    Case(LOSS, "`triplet_margin(p=0)`",
         lambda: losses.triplet_margin(_EMB, _EMB, _EMB, p=0), ValueError,
         "triplet_margin: p must be >= 1, got 0."),
    Case(LOSS, "`triplet_margin(p=1, squared=True)`",
         lambda: losses.triplet_margin(_EMB, _EMB, _EMB, p=1, squared=True), ValueError,
         "triplet_margin: squared=True needs p=2, got p=1."),
    Case(LOSS, "`batch_hard_triplet` with 3 labels for 4 embeddings",
         lambda: losses.batch_hard_triplet(jnp.zeros((4, 3)), jnp.zeros(3, jnp.int32)),
         ValueError, "batch_hard_triplet: embeddings shape (4, 3) and labels shape (3,) "
         "are incompatible (labels must be (4,))."),
    Case(LOSS, "`listwise_pairs(pair_loss='hinge')`",
         lambda: losses.listwise_pairs(jnp.zeros(3), jnp.zeros(3), pair_loss="hinge"),
         ValueError, "listwise_pairs: pair_loss must be 'margin' or 'logistic', got "
         "'hinge'."),
    Case(LOSS, "detection boxes of size 4 (p, x, y, w, h needs 5)",
         lambda: losses.single_object_detection(jnp.zeros((2, 4)), jnp.zeros((2, 4))),
         ValueError, "single_object_detection: pred shape (2, 4) and target shape (2, 4) "
         "need size 5 (p, x, y, w, h) along axis -1."),
    Case(LOSS, "`ctc` label 5 with 5 classes",
         lambda: losses.ctc(jnp.zeros((2, 6, 5)), jnp.array([[1, 5], [1, -1]])),
         ValueError, "ctc: labels contain 5 but there are only 5 classes (valid labels "
         "are 0..4; negative labels mean 'ignore')."),
    Case(LOSS, "`reduce(how='median')`",
         lambda: losses.reduce(jnp.zeros(4), how="median"), ValueError,
         "reduce: how must be one of ('mean', 'sum', 'weighted_mean'), got 'median'."),
    Case(LOSS, "`l2_penalty` of integer parameters",
         lambda: losses.l2_penalty({"w": jnp.ones(3, jnp.int32)}), ValueError,
         "l2_penalty: parameters must be floating point, got a leaf of dtype int32 and "
         "shape (3,)."),
    Case(LOSS, "`huber(delta=-1)`",
         lambda: losses.huber(jnp.zeros(4), jnp.ones(4), delta=-1.0), ValueError,
         "huber: delta must be > 0 (the |error| where the loss turns linear), got "
         "-1.0."),
    Case(LOSS, "`smooth_l1(beta=-0.5)`",
         lambda: losses.smooth_l1(jnp.zeros(4), jnp.ones(4), beta=-0.5), ValueError,
         "smooth_l1: beta must be >= 0 (beta = 0 is plain L1), got -0.5."),
    Case(LOSS, "`binary_hinge(margin=-1)`",
         lambda: losses.binary_hinge(jnp.zeros(4), jnp.ones(4), margin=-1.0),
         ValueError, "binary_hinge: margin must be >= 0 (0 for no margin), got -1.0."),
    Case(LOSS, "`triplet_margin(margin=-1)`",
         lambda: losses.triplet_margin(_EMB, _EMB, _EMB, margin=-1.0), ValueError,
         "triplet_margin: margin must be >= 0 (0 for no margin), got -1.0."),
    Case(LOSS, "`sigmoid_focal(gamma=-1)`",
         lambda: losses.sigmoid_focal(jnp.zeros(4), jnp.ones(4), gamma=-1.0),
         ValueError, "sigmoid_focal: gamma must be >= 0 (0 gives plain cross-entropy), "
         "got -1.0."),
    Case(LOSS, "`sigmoid_focal(alpha=2)`",
         lambda: losses.sigmoid_focal(jnp.zeros(4), jnp.ones(4), alpha=2.0),
         ValueError, "sigmoid_focal: alpha must be in [0, 1] (it weights positives and "
         "1 - alpha negatives; alpha=None turns the weighting off), got 2.0."),
    Case(LOSS, "`binary_cross_entropy` with probabilities of 1.5",
         lambda: losses.binary_cross_entropy(jnp.full(4, 1.5), jnp.ones(4)), ValueError,
         "binary_cross_entropy: probs must be probabilities in [0, 1], got values in "
         "[1.5, 1.5]; pass logits to sigmoid_binary_cross_entropy instead."),
    Case(LOSS, "`nll` of logits instead of probabilities",
         lambda: losses.nll(jnp.array([[2.0, -1.0], [0.5, 0.5]]), jnp.array([0, 1])),
         ValueError, "nll: probs must be probabilities in [0, 1], got values in [-1, 2]; "
         "pass logits to softmax_cross_entropy_with_integer_labels instead."),
    Case(LOSS, "`kl_divergence` with a negative target probability",
         lambda: losses.kl_divergence(_Z, jnp.full((3, 4), 0.25).at[0, 0].set(-0.5)),
         ValueError, "kl_divergence: target_probs must be probabilities in [0, 1], got "
         "values in [-0.5, 0.25]."),
    Case(LOSS, "`label_smoothing=0.1` (a keyword the loss lacks)",
         lambda: SCE(_Z, jax.nn.softmax(_Z), label_smoothing=0.1), TypeError,
         "softmax_cross_entropy() got an unexpected keyword argument 'label_smoothing'"),
]
