"""The checkpoint checksum: its hand-computed values, equality with the formula
computed on the device (checkpoints written before the host-side version hold
those numbers and must still verify), and the finiteness flag. Sharding and
process-count invariance run in test_sharding.py (an FSDP checkpoint restored
onto one device) and test_multiprocess.py (2 processes, restored in 1)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nn_lib.training.checksum import verify


@jax.jit
def _device_checksums(state):
  """The formula as a jitted pass over each leaf (how it was computed before)."""
  def leaf_sum(x):
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
      x = jax.random.key_data(x)
    if x.dtype == jnp.bool_:
      w = x.astype(jnp.uint32).ravel()
    else:
      width = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint32}[x.dtype.itemsize]
      w = jax.lax.bitcast_convert_type(x, width).astype(jnp.uint32).ravel()
    return jnp.sum(w * (2 * jnp.arange(w.size, dtype=jnp.uint32) + 1), dtype=jnp.uint32)
  return jax.tree.map(leaf_sum, state)


def test_hand_computed_values():
  # words 1, 2, 3 at positions 0, 1, 2: 1*1 + 2*3 + 3*5
  assert verify({"a": jnp.array([1, 2, 3], jnp.int32)}) == (True, [22])
  # float32 1.0 is the word 0x3f800000, at position 0
  assert verify(jnp.float32(1.0)) == (True, [0x3F800000])
  # int64 2^32 + 5: words (5, 1), low word first: 5*1 + 1*3
  with jax.enable_x64(True):
    assert verify(jnp.array([2**32 + 5], jnp.int64)) == (True, [8])
  # the weights wrap mod 2^32: word 2^31 at position 0 and 1 -> 2^31 * (1 + 3) = 0
  assert verify(jnp.array([2**31, 2**31], jnp.uint32))[1] == [0]


def test_equals_the_device_formula_for_every_dtype():
  rng = np.random.default_rng(0)
  with jax.enable_x64(True):
    state = {
      "f64": jnp.asarray(rng.normal(size=(3, 5))),
      "i64": jnp.asarray(rng.integers(-9, 9, (4,)), jnp.int64),
      "f32": jnp.asarray(rng.normal(size=(2, 3, 4)), jnp.float32),
      "bf16": jnp.asarray(rng.normal(size=(7,)), jnp.bfloat16),
      "f16": jnp.asarray(rng.normal(size=(2, 3)), jnp.float16),
      "i8": jnp.asarray(rng.integers(-100, 100, (9,)), jnp.int8),
      "u8": jnp.asarray(rng.integers(0, 255, (9,)), jnp.uint8),
      "bool": jnp.asarray(rng.random((5,)) > 0.5),
      "key": jax.random.key(3),
      "keys": jax.random.split(jax.random.key(1), 4),
      "step": jnp.int32(7),
    }
    finite, sums = verify(state)
    assert finite
    assert sums == [int(s) for s in jax.tree.leaves(_device_checksums(state))]


def test_a_changed_or_swapped_word_changes_the_sum_and_non_finite_is_flagged():
  x = jnp.arange(12, dtype=jnp.float32).reshape(3, 4)
  base = verify(x)[1]
  assert verify(x.at[1, 2].set(6.5))[1] != base
  assert verify(x.at[0, 1].set(x[2, 3]).at[2, 3].set(x[0, 1]))[1] != base
  assert verify({"x": x.at[2, 0].set(jnp.nan), "i": jnp.int32(1)})[0] is False
  assert verify({"x": x, "i": jnp.int32(1)})[0] is True
