"""Decoded splits are kept per process: a second read decodes nothing, returns the
same arrays as a fresh read, and no caller sees another's writes."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from nn_lib.data import builders, sources
from nn_lib.data.split_cache import SplitCache, prepared_files


def _read(data_dir, split="train"):
  cls = builders.EMBEDDED.get("digits")
  return sources._read_tfds("digits", split, str(data_dir), cls.INPUT_KEY, cls.TARGET_KEY,
                            cls.INPUT_MAX)


@pytest.fixture
def decodes(monkeypatch):
  """Counts the examples TFDS decodes; the cache starts empty and ends empty."""
  count = [0]
  original = sources._data_source

  def counting(*args):
    source = original(*args)
    getitems = source.__getitems__

    def counted(keys):
      count[0] += len(keys)
      return getitems(keys)

    monkeypatch.setattr(source, "__getitems__", counted, raising=False)
    return source

  monkeypatch.setattr(sources, "_data_source", counting)
  sources.DECODED_SPLITS.clear()
  yield count
  sources.DECODED_SPLITS.clear()


def test_a_second_read_decodes_nothing_and_returns_the_same_arrays(tmp_path, decodes):
  builders.prepare("digits", tmp_path)
  first = _read(tmp_path)
  assert decodes[0] == 1437 and len(sources.DECODED_SPLITS) == 1
  second = _read(tmp_path)
  assert decodes[0] == 1437  # from the cache
  for k in ("inputs", "targets"):
    np.testing.assert_array_equal(first[k], second[k])
  # every caller gets its own copy: writing into one changes no later read
  second["inputs"][:] = -1.0
  np.testing.assert_array_equal(_read(tmp_path)["inputs"], first["inputs"])
  _read(tmp_path, "test")  # another split is another entry
  assert decodes[0] == 1437 + 360 and len(sources.DECODED_SPLITS) == 2


def test_a_dataset_prepared_again_is_read_again(tmp_path, decodes):
  builders.prepare("digits", tmp_path)
  _read(tmp_path)
  shard = next(p for p in (tmp_path / "digits").rglob("*train*") if p.is_file())
  os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))
  _read(tmp_path)
  assert decodes[0] == 2 * 1437


def test_mock_data_is_never_kept(tmp_path, decodes):
  builders.prepare("digits", tmp_path)  # real files beside the mock: still not kept
  with tfds.testing.mock_data(num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE):
    _read(tmp_path)
  assert len(sources.DECODED_SPLITS) == 0


def test_the_cache_keeps_the_most_recent_splits_within_its_budget():
  split = lambda value: {"inputs": np.full((10, 10), value, np.float32)}  # noqa: E731
  cache = SplitCache(max_bytes=1000)  # two 400-byte splits fit, three do not
  cache.put("a", split(1))
  cache.put("b", split(2))
  assert cache.get("a")["inputs"][0, 0] == 1  # "a" is now the most recent
  cache.put("c", split(3))
  assert cache.get("b") is None and len(cache) == 2 and cache.nbytes == 800
  cache.put("huge", {"inputs": np.zeros(1000, np.float32)})  # larger than the budget
  assert cache.get("huge") is None and len(cache) == 2


def test_prepared_files_fingerprint_a_datasets_folder(tmp_path):
  assert prepared_files(tmp_path, "digits") == ()
  builders.prepare("digits", tmp_path)
  files = prepared_files(tmp_path, "digits:1.1.0")
  assert files and all(path.startswith(str(tmp_path / "digits")) for path, _, _ in files)
