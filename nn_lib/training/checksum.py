"""The checksum every checkpoint carries, and the finiteness check of a save or a
restore, computed on the host from the shards each process holds.

Host-side rather than a jitted pass: the jitted pass over every leaf cost 0.5-1 s
of XLA compile per state structure (once per run, in every run that saves), while
numpy hashes the 4 M entries of a small CNN's state and optimizer in ~15 ms. The
shards are copied to the host anyway, since orbax writes them from there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import numpy as np

_WORD = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint32}


def _shards(x: Any) -> Iterator[tuple[np.ndarray, tuple[slice, ...], tuple[int, ...]]]:
  """(data, index into the global array, global shape) of each shard this process
  holds and no other process also counts (replica 0); one shard for a host array."""
  if isinstance(x, jax.Array):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      x = jax.random.key_data(x)
    for shard in x.addressable_shards:
      if shard.replica_id == 0:
        yield np.asarray(shard.data), shard.index, x.shape
  else:
    x = np.asarray(x)
    yield x, (slice(None),) * x.ndim, x.shape


def _words(data: np.ndarray) -> np.ndarray:
  """The entries' bits as uint32 words, one trailing axis of 1 or 2 words each
  (8-byte entries: low word first, as XLA's bitcast on a little-endian host)."""
  if data.dtype == np.bool_:
    return data.astype(np.uint32)[..., None]
  words = np.ascontiguousarray(data).view(_WORD[data.dtype.itemsize]).astype(np.uint32)
  return words.reshape(data.shape + (-1,))


def _flat_index(index: tuple[slice, ...], shape: tuple[int, ...]) -> np.ndarray:
  """Row-major position in the global array of each entry of the shard `index`
  (uint32: wraps like the weights below, which are taken mod 2^32)."""
  flat = np.zeros((), np.uint32)
  for sl, size in zip(index, shape):
    rows = np.arange(*sl.indices(size), dtype=np.uint32)
    flat = flat[..., None] * np.uint32(size) + rows
  return flat


def _partial_sum(x: Any) -> int:
  """This process's share of sum_i w_i (2 i + 1) mod 2^32 over the leaf's words."""
  total = 0
  for data, index, shape in _shards(x):
    words = _words(data)
    per_entry = np.uint32(words.shape[-1])
    word_index = _flat_index(index, shape)[..., None] * per_entry + np.arange(
      per_entry, dtype=np.uint32
    )
    # uint32 array arithmetic wraps, i.e. computes mod 2^32
    total += int(np.sum(words * (2 * word_index + 1), dtype=np.uint32))
  return total % 2**32


def _finite(x: Any) -> bool:
  dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
  if not jax.dtypes.issubdtype(dtype, np.inexact):
    return True
  return all(bool(np.isfinite(data).all()) for data, _, _ in _shards(x))


def verify(state: Any) -> tuple[bool, list[int]]:
  """(whether every floating-point entry of `state` is finite, one checksum per
  leaf): sum_i w_i (2 i + 1) mod 2^32 over the leaf's 32-bit words w_i in
  row-major order. Integer sums are exact and associative, so the value is the
  same for any sharding, device count and process count; an odd weight per
  position makes every change of one word, and every swap of two different words,
  change the sum. (Written by hand: orbax and tensorstore verify no contents.)
  Detects damage, not tampering. With several processes, every process must call
  it (the partial sums are gathered)."""
  leaves = jax.tree.leaves(state)
  sums = np.array([_partial_sum(x) for x in leaves], np.uint32)
  finite = np.array([all(_finite(x) for x in leaves)], np.uint32)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

    gathered = multihost_utils.process_allgather(np.concatenate([sums, finite]))
    sums = np.sum(gathered[:, :-1], axis=0, dtype=np.uint32)
    finite = np.all(gathered[:, -1:], axis=0)
  return bool(finite[0]), [int(s) for s in sums]
