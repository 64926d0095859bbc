"""The sequence-to-sequence trainer (nn_lib/trainers/seq2seq.py): teacher forcing's
inputs, epoch batches, the scores of decoded strings by hand, bit-identical resume,
clear config errors."""
from __future__ import annotations

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import experiments
from nn_lib.data import dates
from nn_lib.registry import ConfigError
from nn_lib.trainers import chunks, seq2seq, seq2seq_data


def test_decoder_inputs_and_epoch_batches():
  tgt_BxT = jnp.asarray(np.stack([dates.encode("1979-05-03", 11),
                                  dates.encode("2001-12-31", 11)]))
  x_BxT = np.asarray(seq2seq_data.decoder_inputs(tgt_BxT))
  assert (x_BxT[:, 0] == dates.BOS).all()
  np.testing.assert_array_equal(x_BxT[:, 1:], np.asarray(tgt_BxT)[:, :-1])
  # 10 pairs in batches of 3: each epoch's 3 batches are 9 different rows
  rows_SxB = np.asarray(jax.jit(jax.vmap(lambda s: chunks.epoch_rows(
      jax.random.PRNGKey(0), s, 10, 3)))(jnp.arange(6)))
  for epoch in range(2):
    rows = rows_SxB[3 * epoch:3 * epoch + 3].ravel()
    assert len(set(rows.tolist())) == 9 and rows.min() >= 0 and rows.max() < 10
  assert not np.array_equal(rows_SxB[:3], rows_SxB[3:])  # a new order each epoch


def test_exact_match_and_character_bleu_equal_a_hand_computation():
  refs = ["2010-06-12", "2023-04-05", "1950-01-01"]
  outs = ["2010-06-12", "2023-04-06", "1950-01-01"]
  tokens = lambda texts: np.stack([dates.encode(t, 11) for t in texts])
  # the third greedy output runs to max_len without <eos>: its text is still whole
  greedy = tokens(outs)
  greedy[2, 10] = dates.encode("7", 2)[0]
  greedy_text = ["2010-06-12", "2023-04-06", "1950-01-017"]
  decoded = {"ce": np.array([1.0, 2.0, 3.5]), "right": np.array([11, 10, 11]),
             "count": np.array([11, 11, 11]), "greedy": greedy, "beam": tokens(outs)}
  pairs = seq2seq_data.Pairs(np.zeros((3, 32), np.int32), tokens(refs))
  got = seq2seq.scores(decoded, pairs)
  assert seq2seq_data.texts(greedy) == greedy_text
  assert got["loss"] == pytest.approx(6.5 / 33)
  assert got["token_accuracy"] == pytest.approx(32 / 33)
  assert got["exact_match"] == pytest.approx(1 / 3)
  assert got["beam_exact_match"] == pytest.approx(2 / 3)
  # beam: 30 reference characters; "2023-04-06" misses 1 of 10 unigrams, 1 of 9
  # bigrams ("06"), 1 of 8 trigrams, 1 of 7 4-grams; c = r = 30, so BP = 1
  want = (29 / 30 * 26 / 27 * 23 / 24 * 20 / 21) ** 0.25
  assert got["beam_bleu"] == pytest.approx(want, rel=1e-12)
  # greedy: "1950-01-017" adds one unmatched n-gram of each order, c = 31 > r = 30
  want = (29 / 31 * 26 / 28 * 23 / 25 * 20 / 22) ** 0.25
  assert got["bleu"] == pytest.approx(want, rel=1e-12)


def _tiny():
  """dates_attention's smoke run (compiled programs shared with its smoke test),
  saving at steps 3 and 6."""
  cfg = experiments.get_config("dates_attention:smoke")
  cfg.checkpoint_every, cfg.keep_checkpoints = 3, 2
  return cfg


def test_resume_is_bit_identical(tmp_path):
  # The straight run saves steps 3 and 6; a copy of its workdir without step 6 is
  # the run killed after saving step 3, which must resume into the same state.
  cfg = _tiny()
  cfg.seq2seq.plot_examples = 0  # (drawn in the smoke test)
  straight = seq2seq.train_and_evaluate(cfg, tmp_path / "straight")
  assert int(straight.state["step"]) == 6
  lines = (tmp_path / "straight" / "examples.txt").read_text().splitlines()
  assert len(lines) == 2 and "reference '2010-06-12'" in lines[0]
  shutil.copytree(tmp_path / "straight", tmp_path / "killed")
  shutil.rmtree(tmp_path / "killed" / "checkpoints" / "6")
  resumed = seq2seq.train_and_evaluate(cfg, tmp_path / "killed")
  assert resumed.start_step == 3 and int(resumed.state["step"]) == 6
  leaves_a = jax.tree.leaves_with_path(straight.state)
  leaves_b = jax.tree.leaves_with_path(resumed.state)
  assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
  for (path, a), (_, b) in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=str(path))
  rate = "train/steps_per_sec"
  assert {k: v for k, v in resumed.final.items() if k != rate} == {
      k: v for k, v in straight.final.items() if k != rate}
  # predict decodes like the evaluation did
  src = straight.splits["test"]["inputs"][:2]
  assert seq2seq_data.texts(straight.predict(src)) == seq2seq_data.texts(
      resumed.predict(src))


@pytest.mark.parametrize("edit, match", [
    (lambda c: c.model.update(name="mlp"), r"model.name='mlp'.*seq2seq_rnn"),
    (lambda c: c.model.update(vocab_size=100), r"model.vocab_size=100.*71 tokens"),
    (lambda c: c.seq2seq.update(beam_width=0), r"seq2seq.beam_width=0"),
    (lambda c: c.seq2seq.update(plot_examples=64), r"seq2seq.plot_examples=64.*0..eval"),
    (lambda c: c.update(batch_size=300), r"batch_size=300.*256 training pairs"),
    (lambda c: c.data.update(name="digits"), r"token ids"),
])
def test_bad_config_is_a_clear_error(edit, match, tmp_path):
  cfg = _tiny()
  edit(cfg)
  with pytest.raises(ConfigError, match=match):
    seq2seq.train_and_evaluate(cfg, tmp_path)
