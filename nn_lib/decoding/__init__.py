"""Turning a model's outputs into predictions. Jittable JAX with fixed shapes (padding
+ validity masks or lengths), so they vmap over a batch, unless noted.

- Detection (notes 004 "Object detection"): YOLO grid targets and decoding, and
  non-maximum suppression.
- Sequences (notes 004 "Sequence models"): sampling with temperature and top-k,
  greedy decoding and beam search with length normalisation over a decoder's step
  function `(state, token_B) -> (logits_BxV, state)`, and CTC best-path and prefix
  beam search decoding (the latter host-side numpy).
"""

from nn_lib.decoding.beam_search import (
  BeamSearchResult,
  beam_search,
  greedy_decode,
  normalised_score,
  sequence_log_probs,
)
from nn_lib.decoding.ctc import CTCBeam, ctc_best_path, ctc_prefix_beam_search
from nn_lib.decoding.nms import nms
from nn_lib.decoding.sampling import Decoded, StepFn, sample_logits, sample_sequences
from nn_lib.decoding.yolo import activate_grid_outputs, assign_targets, decode, responsible_box

__all__ = [
  "BeamSearchResult",
  "CTCBeam",
  "Decoded",
  "StepFn",
  "activate_grid_outputs",
  "assign_targets",
  "beam_search",
  "ctc_best_path",
  "ctc_prefix_beam_search",
  "decode",
  "greedy_decode",
  "nms",
  "normalised_score",
  "responsible_box",
  "sample_logits",
  "sample_sequences",
  "sequence_log_probs",
]
