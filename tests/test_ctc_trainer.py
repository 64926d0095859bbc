"""The CTC trainer (notes 004 "CTC cost for speech recognition"): edit distance and CER
by hand, decoded-sequence metrics of hand-made logits, bit-identical resume, clear
config errors."""
from __future__ import annotations

import shutil

import jax
import numpy as np
import pytest

import experiments
from nn_lib.metrics import sequence
from nn_lib.registry import ConfigError
from nn_lib.trainers import ctc


@pytest.mark.parametrize("ref, hyp, want", [
    ([], [], 0), ([1, 2], [], 2), ([], [3], 1), ([1, 2, 3], [1, 2, 3], 0),
    ([1, 2, 3], [1, 3], 1),           # one deletion
    ([1, 2, 3], [1, 2, 4, 3], 1),     # one insertion
    ([1, 2, 3], [1, 5, 3], 1),        # one substitution
    ([3, 3, 5], [3, 5, 5], 1),        # repeats: one substitution, not two edits
    # "kitten" -> "sitting": k->s, e->i, +g (the textbook 3)
    ([10, 8, 19, 19, 4, 13], [18, 8, 19, 19, 8, 13, 6], 3),
    ([1, 2, 3, 4], [4, 3, 2, 1], 4),  # reversal: 4 substitutions beat 3 + 3 moves
])
def test_edit_distance_by_hand(ref, hyp, want):
  assert sequence.edit_distance(ref, hyp) == want
  assert sequence.edit_distance(hyp, ref) == want  # symmetric


def test_cer_sums_edits_over_reference_symbols():
  refs = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 0]]
  hyps = [[1, 2, 3], [4], [6, 7, 7, 8, 9, 0, 1]]  # 0 + 1 + 2 edits
  s = sequence.sequence_scores(refs, hyps)
  assert s["seq_accuracy"] == pytest.approx(1 / 3)
  assert s["cer"] == pytest.approx(3 / 10)   # not the mean of 0, 1/2, 2/5
  assert sequence.sequence_scores([[1]], [[2, 3, 4]])["cer"] == 3.0  # can exceed 1
  with pytest.raises(ValueError, match="2 references but 1"):
    sequence.sequence_scores([[1], [2]], [[1]])


def _peaked(path_T: list[int], margin: float = 5.0) -> np.ndarray:
  """T x 11 logits whose per-frame argmax is `path_T` by `margin`."""
  z = np.zeros((len(path_T), ctc.V), np.float32)
  z[np.arange(len(path_T)), path_T] = margin
  return z


def test_evaluate_split_decodes_and_scores_both_ways():
  b = ctc.BLANK
  logits = np.stack([_peaked([3, 3, b, 5, 5, b, 5, b]),   # "355" (blank splits the 5s)
                     _peaked([1, b, 2, 2, 2, b, b, 7]),   # "127", reference "1227"
                     _peaked([b] * 8)])                   # "", reference "9"
  split = {"targets": np.array([[3, 5, 5, b], [1, 2, 2, 7], [9, b, b, b]], np.int32)}
  split["lengths"] = np.sum(split["targets"] != b, axis=1)
  eval_batch = ctc.make_eval_batch(lambda_model(logits))
  out = ctc.run_split(eval_batch, None, {"inputs": np.arange(3), **split}, batch=2)
  assert out["lengths"].tolist() == [3, 3, 0]
  cfg = experiments.get_config("ctc_digits:smoke")
  m = ctc.evaluate_split(cfg, out, split, "test")
  assert m["seq_accuracy"] == pytest.approx(1 / 3)
  assert m["cer"] == pytest.approx((0 + 1 + 1) / (3 + 4 + 1))
  # peaked frames: the beam's best labelling is the best path's here
  assert m["seq_accuracy_beam"] == m["seq_accuracy"] and m["cer_beam"] == m["cer"]
  assert m["loss"] > 0


class lambda_model:  # pylint: disable=invalid-name
  """A stand-in for a flax model: apply(variables, rows) -> the fixed logits of rows."""

  def __init__(self, logits_NxTxV):
    self.logits = np.asarray(logits_NxTxV)

  def apply(self, _variables, rows_B):
    return jax.numpy.asarray(self.logits)[rows_B]


def test_labels_are_checked():
  b = ctc.BLANK
  np.testing.assert_array_equal(
      ctc.check_labels(np.array([[1.0, 2.0, b]], np.float32), "train", "d"), [[1, 2, b]])
  with pytest.raises(ConfigError, match=r"train label row 1 \[4, 10, 5\].*trailing"):
    ctc.check_labels(np.array([[1, 2, b], [4, b, 5]]), "train", "d")
  with pytest.raises(ConfigError, match="digits 0..9 padded with 10"):
    ctc.check_labels(np.array([[1, 11, b]]), "test", "d")


def _tiny():
  cfg = experiments.get_config("ctc_digits:smoke")
  cfg.data.train_split, cfg.data.test_split = "train[:32]", "test[:4]"
  cfg.num_steps, cfg.log_every, cfg.eval_every, cfg.checkpoint_every = 4, 2, 4, 2
  cfg.keep_checkpoints = 2
  cfg.eval_batch_size = 4
  cfg.ctc.plot_strips = 0  # (the smoke test checks the plot)
  # a run stopped early must be the same run: no schedule over num_steps
  cfg.schedule = {"name": "constant"}
  return cfg


def test_resume_is_bit_identical(tmp_path):
  # The straight run saves steps 2 and 4; its workdir without step 4 is the run
  # killed after saving step 2, which must resume into the same state.
  cfg = _tiny()
  straight = ctc.train_and_evaluate(cfg, tmp_path / "straight")
  assert int(straight.state["step"]) == 4
  _, loss = straight.history.curve("train", "loss")
  assert loss[-1] < loss[0]  # learning happened
  shutil.copytree(tmp_path / "straight", tmp_path / "killed")
  shutil.rmtree(tmp_path / "killed" / "checkpoints" / "4")
  resumed = ctc.train_and_evaluate(cfg, tmp_path / "killed")
  assert resumed.start_step == 2 and int(resumed.state["step"]) == 4
  a, b = jax.tree.leaves_with_path(straight.state), jax.tree.leaves_with_path(resumed.state)
  assert [p for p, _ in a] == [p for p, _ in b]
  for (path, x), (_, y) in zip(a, b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=str(path))
  for key in ("test/loss", "test/cer", "test/cer_beam"):
    assert resumed.final[key] == straight.final[key]


@pytest.mark.parametrize("edit, match", [
    (lambda c: c.model.update(num_outputs=10), r"model.num_outputs=10.*11 outputs"),
    (lambda c: c.ctc.update(beam_width=0), r"ctc.beam_width=0"),
    (lambda c: c.ctc.update(beam_splits=("train",)), r"ctc.beam_splits=.*evaluated splits"),
    (lambda c: c.update(batch_size=100), r"batch_size=100 is larger than the training"),
    # 168 columns / (2 x 8 x 8) = 1 frame: too few for 3-6 digits
    (lambda c: c.model.update(width_strides=(8, 8)), r"1 frames cannot emit \d labels"),
    # a flip reverses the reading order: not an augmentation of a label sequence
    (lambda c: c.update(augment=({"name": "horizontal_flip"},)),
     r"'horizontal_flip' changes what a strip reads; use translate"),
    (lambda c: c.update(augment=({"name": "translate", "max_shift": -1},)),
     r"max_shift.*non-negative integer"),
])
def test_bad_config_is_a_clear_error(edit, match, tmp_path):
  cfg = _tiny()
  edit(cfg)
  with pytest.raises(ConfigError, match=match):
    ctc.train_and_evaluate(cfg, tmp_path / "run")
