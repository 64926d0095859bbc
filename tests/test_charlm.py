"""The character language model trainer (nn_lib/trainers/charlm.py): streams for
truncated backprop through time, bits per character by hand, bit-identical resume,
clear config errors."""
from __future__ import annotations

import math
import shutil

import jax
import numpy as np
import pytest

import experiments
from nn_lib.registry import ConfigError
from nn_lib.trainers import charlm, charlm_data


def test_consecutive_windows_of_a_stream_are_contiguous_text():
  ids_N = np.arange(103) % 82            # 103 characters: 3 streams of 34, 1 dropped
  streams_BxL = charlm_data.cut_streams(ids_N, 3)
  assert streams_BxL.shape == (3, 34)
  np.testing.assert_array_equal(streams_BxL[1], ids_N[34:68])
  bptt = 5
  assert charlm_data.windows_per_pass(34, bptt) == 6  # 6 x 5 inputs + 1 target <= 34
  for b in range(3):
    xs, ys = zip(*(charlm_data.window(streams_BxL, s, bptt) for s in range(6)))
    text = ids_N[b * 34:(b + 1) * 34]
    # the windows read the stream's text in order, targets one character ahead
    np.testing.assert_array_equal(np.concatenate([x[b] for x in xs]), text[:30])
    np.testing.assert_array_equal(np.concatenate([y[b] for y in ys]), text[1:31])
  # step 6 starts the next pass: window 0 again
  np.testing.assert_array_equal(charlm_data.window(streams_BxL, 6, bptt)[0], xs[0])


def test_eval_streams_cover_every_prediction_once():
  ids_N = np.arange(1, 24)  # 22 (x, y) pairs -> 4 streams of 6 (2 windows of 3)
  ev = charlm_data.eval_streams(ids_N, 4, 3)
  assert ev.inputs_WxBxT.shape == (2, 4, 3) and ev.num_predictions == 22
  x_BxL = ev.inputs_WxBxT.transpose(1, 0, 2).reshape(4, 6)
  y_BxL = ev.targets_WxBxT.transpose(1, 0, 2).reshape(4, 6)
  real = y_BxL >= 0
  np.testing.assert_array_equal(x_BxL[real], ids_N[:-1])
  np.testing.assert_array_equal(y_BxL[real], ids_N[1:])
  assert (y_BxL[3, 4:] == charlm_data.IGNORE).all() and real.sum() == 22


def test_bits_per_character_equal_a_hand_computation():
  # A transformer with all-zero weights but the head's bias b: every position
  # predicts softmax(b), so bpc = mean over the 9 targets of -log2 softmax(b)_y.
  cfg = experiments.get_config("charlm_transformer:smoke")
  model, recurrent = charlm.build_model(cfg)
  params = jax.tree.map(np.zeros_like, model.init(jax.random.PRNGKey(0),
                                                  np.zeros((1, 4), np.int32))["params"])
  bias_V = np.linspace(-2.0, 3.0, charlm_data.VOCAB_SIZE).astype(np.float32)
  params["head"]["bias"] = bias_V
  ids_N = np.array([3, 0, 81, 7, 7, 40, 2, 9, 60, 5])
  eval_sums = charlm.make_eval_sums(charlm.make_forward(model, recurrent),
                                    lambda p, b: charlm.zero_carry(model, recurrent, p, b))
  got = charlm.bits_per_char(eval_sums, params, charlm_data.eval_streams(ids_N, 2, 4))
  log_p_V = bias_V - np.log(np.sum(np.exp(bias_V.astype(np.float64))))
  want = -np.mean(log_p_V[ids_N[1:]]) / math.log(2.0)
  assert got["bpc"] == pytest.approx(want, rel=1e-6)
  assert got["loss"] == pytest.approx(want * math.log(2.0), rel=1e-6)


def _tiny():
  """charlm_gru at its smallest: 8 units, 4 streams, windows of 8, 6 steps (a
  recurrent model: its carried state must resume too)."""
  cfg = experiments.get_config("charlm_gru:smoke")
  cfg.data.train_split, cfg.data.dev_split, cfg.data.test_split = (
      "train[:4]", "dev[:1]", "test[:1]")
  cfg.model.hidden, cfg.model.embed_dim = 8, 8
  cfg.lm.bptt = 8
  cfg.lm.sample.num_chars, cfg.lm.sample.prompt_start = 4, 0
  cfg.batch_size, cfg.eval_batch_size = 4, 4
  cfg.eval_splits = ("dev",)
  cfg.checkpoint_every = 3
  # the resume test stops a run by shortening num_steps: a schedule that depends
  # on num_steps would make that a different run
  cfg.schedule = {"name": "constant"}
  return cfg


def test_resume_is_bit_identical(tmp_path):
  # The straight run saves steps 3 and 6; a copy of its workdir without step 6 is
  # the run killed after saving step 3, which must resume into the same state.
  cfg = _tiny()
  cfg.keep_checkpoints = 2
  straight = charlm.train_and_evaluate(cfg, tmp_path / "straight")
  assert straight.state is not None and int(straight.state["step"]) == 6
  shutil.copytree(tmp_path / "straight", tmp_path / "killed")
  shutil.rmtree(tmp_path / "killed" / "checkpoints" / "6")
  (tmp_path / "killed" / "sample.txt").unlink()
  resumed = charlm.train_and_evaluate(cfg, tmp_path / "killed")
  assert resumed.start_step == 3 and int(resumed.state["step"]) == 6
  leaves_a = jax.tree.leaves_with_path(straight.state)
  leaves_b = jax.tree.leaves_with_path(resumed.state)
  assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
  assert any("carry" in jax.tree_util.keystr(p) for p, _ in leaves_a)
  for (path, a), (_, b) in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=str(path))
  assert resumed.final["dev/bpc"] == straight.final["dev/bpc"]
  assert (tmp_path / "killed" / "sample.txt").read_text() == (
      tmp_path / "straight" / "sample.txt").read_text()


@pytest.mark.parametrize("edit, match", [
    (lambda c: c.model.update(name="mlp"), r"model.name='mlp'.*rnn', 'gru', 'lstm'"),
    (lambda c: c.lm.update(bptt=300), r"lm.bptt=300 is longer than a stream.*rows of 256"),
    (lambda c: c.lm.sample.update(top_k=0), r"lm.sample.top_k=0"),
    (lambda c: c.model.update(bidirectional=True), r"must not see the characters"),
])
def test_bad_config_is_a_clear_error(edit, match, tmp_path):
  cfg = _tiny()
  edit(cfg)
  with pytest.raises(ConfigError, match=match):
    charlm.train_and_evaluate(cfg, tmp_path)
