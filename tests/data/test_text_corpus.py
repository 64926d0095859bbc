"""The shipped Austen corpus (assets/austen.txt.xz) and the austen_text builder
(notes 004 "Language model and sequence generation"): the asset is the text the
README describes, the splits are contiguous 90/5/5 blocks, and the vocabulary maps."""
from __future__ import annotations

import hashlib

import ml_collections
import numpy as np
import pytest

from nn_lib import data
from nn_lib.data import builders
from nn_lib.data import text_corpus as tc


@pytest.fixture(scope="module")
def raw() -> bytes:
  return tc.corpus_bytes()


def test_the_asset_is_the_documented_text(raw):
  asset = builders.ASSETS / tc.ASSET
  assert asset.stat().st_size == 1_119_480 and asset.stat().st_size <= 2 * 1024 ** 2
  assert len(raw) == 4_024_616
  # README: content SHA-256 of the UTF-8 text
  assert hashlib.sha256(raw).hexdigest() == (
      "2425c52d78dff146a91dc6dd2633d59a7a22a6c8867dd9f7347207483296503d")
  text = raw.decode("utf-8")
  assert len(text) == 4_024_615 and len(set(text)) == 81
  assert bytes(sorted(set(raw))) == tc.BYTES_USED and len(tc.BYTES_USED) == 82
  assert text.count("£") == 1 and "\r" not in text and "\t" not in text
  # the six novels, in order of publication, at the README's offsets
  for title, offset in [("SENSE AND SENSIBILITY", 0), ("PRIDE AND PREJUDICE", 673_692),
                        ("MANSFIELD PARK", 1_358_464), ("EMMA", 2_241_748),
                        ("NORTHANGER ABBEY", 3_124_780), ("Persuasion", 3_557_762)]:
    assert raw[offset:offset + len(title) + 1] == title.encode() + b"\n"
    assert offset == 0 or raw[offset - 5:offset] == b"\n" * 5
  assert ("It is a truth universally acknowledged, that a single man in possession\n"
          "of a good fortune, must be in want of a wife.") in text
  # no licence boilerplate, no editorial note
  for absent in ("Gutenberg", "GUTENBERG", "eBook", "A NOTE ON THE TEXT", "http"):
    assert absent not in text
  assert text.endswith("national importance.\n\n\n\nFinis\n")


def test_splits_are_contiguous_blocks_90_5_5(raw):
  splits = tc.split_blocks(raw)
  sizes = {k: v.shape for k, v in splits.items()}
  assert sizes == {"train": (14149, 256), "dev": (786, 256), "test": (786, 256)}
  assert {k: v[0] for k, v in sizes.items()} == tc.AustenText.SIZES
  assert all(v.dtype == np.uint8 for v in splits.values())
  joined = np.concatenate([splits[s] for s in ("train", "dev", "test")]).tobytes()
  assert joined == raw[:15721 * 256] and len(raw) - len(joined) == 40
  # dev and test lie in Persuasion (starts at byte 3,557,762), dev 64,382 bytes in
  assert 14149 * 256 - 3_557_762 == 64_382
  # a small text by hand: 20 blocks of 4 -> 18 / 1 / 1, the 3 remaining bytes dropped
  small = tc.split_blocks(bytes(range(83)), block=4)
  assert [len(small[s]) for s in ("train", "dev", "test")] == [18, 1, 1]
  np.testing.assert_array_equal(small["dev"][0], [72, 73, 74, 75])
  np.testing.assert_array_equal(small["test"][0], [76, 77, 78, 79])


def test_vocabulary_maps_round_trip(raw):
  row = np.frombuffer(raw[2_233_700:2_233_956], np.uint8)  # holds "£20,000"
  ids = tc.to_ids(row)
  assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() <= 81
  np.testing.assert_array_equal(tc.from_ids(ids), row)
  assert "£20,000" in tc.decode(row)
  np.testing.assert_array_equal(tc.to_ids(np.frombuffer(b"\n Aa", np.uint8)), [0, 1, 25, 54])
  with pytest.raises(ValueError, match=r"bytes \[9, 126\] do not occur in the corpus"):
    tc.to_ids(np.frombuffer(b"a\t~", np.uint8))
  # a row cut inside "£" decodes with a replacement character, not an error
  assert tc.decode(np.frombuffer("£".encode()[:1], np.uint8)) == "\ufffd"
  x, y = tc.next_byte_pairs(np.frombuffer(b"Emma", np.uint8)[None])
  assert x.tobytes() == b"Emm" and y.tobytes() == b"mma"


def test_builder_rows_are_the_text_in_order(raw):
  cfg = ml_collections.ConfigDict({"source": "embedded", "name": "austen_text",
                                   "train_split": "train[:3]", "test_split": "dev[:2]"})
  splits = data.load(cfg)
  train, dev = splits["train"], splits["test"]
  assert train["targets"].shape == (3, 256) and train["targets"].dtype == np.uint8
  assert train["targets"].tobytes() == raw[:3 * 256]
  assert dev["targets"].tobytes() == raw[14149 * 256:14151 * 256]
  # inputs are the same bytes as float32 values (INPUT_MAX = 1)
  assert train["inputs"].dtype == np.float32
  np.testing.assert_array_equal(train["inputs"], train["targets"])
