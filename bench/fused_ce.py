"""Benchmark: the fused chunked linear + softmax cross-entropy against the
dense computation, value-and-gradient time and memory, in the same process.

Run: ``python bench/fused_ce.py [--sizes NxDxV,...] [--chunks C,...]
[--variants plain,smooth+z] [--repeats R]``. Defaults: issue 11's size
(8,192 tokens, hidden 1,024, vocabulary 65,536) in float32 and a 1/16 size
(2,048 x 1,024 x 16,384); on a 2-core CPU the full size takes about a minute
per call (~8 minutes in all with the defaults).

Both sides are ``jit(value_and_grad(mean(per-token loss)))`` with respect to
hidden, weight and bias:
  * dense: ``losses.softmax_cross_entropy_with_integer_labels(h @ W + b, y)``
    (+ ``z_loss * logsumexp(h @ W + b)^2`` for the smooth+z variant), N x V
    logits built;
  * fused: ``losses.linear_softmax_cross_entropy_with_integer_labels`` with
    each ``--chunks`` size (per-token losses, then their mean: four matmuls);
  * fused mean: the same with ``reduction="mean"`` and each ``--row_blocks``
    size (the gradients computed in the forward pass: three matmuls).
Time: median over ``--repeats`` interleaved rounds (dense, fused, ...) of one
call ended by ``block_until_ready``, after a warm-up call that also checks
that both give the same value and gradients. Memory: from the compiled
executable's ``memory_analysis()``: ``temp`` is the working memory XLA
allocates besides the arguments (h, W, b, y) and the outputs (loss, dh, dW,
db), which are the same for both; ``peak`` = arguments + outputs + temp -
aliased. Ratios are fused / dense. Goals (issue 11): temp <= 1/8 of dense,
time <= 1.3x dense. ``--profile`` adds each computation's time per GPU (or CPU)
kernel from a ``jax.profiler`` trace, matrix products apart.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import losses  # noqa: E402
from bench import _profile  # noqa: E402

VARIANTS = {"plain": (0.0, 0.0), "smooth+z": (0.1, 1e-4)}
MIB = 2.0**20


def _inputs(n: int, d: int, v: int):
  r = np.random.default_rng(0)
  h = jnp.asarray(r.standard_normal((n, d), np.float32))
  # logits of order 1, as a trained output layer gives
  w = jnp.asarray(r.standard_normal((d, v), np.float32) / np.sqrt(d))
  b = jnp.asarray(r.standard_normal(v, np.float32) * 0.1)
  y = jnp.asarray(r.integers(0, v, n).astype(np.int32))
  y = y.at[::16].set(-1)  # some ignored (padding) tokens
  return h, w, b, y


def dense_loss(h, w, b, y, smoothing, z_loss):
  z = h @ w + b
  v = losses.softmax_cross_entropy_with_integer_labels(z, y, label_smoothing=smoothing)
  if z_loss:
    v = v + jnp.where(y >= 0, z_loss * jax.nn.logsumexp(z, axis=-1) ** 2, 0.0)
  return v


def fused_loss(chunk):
  def loss(h, w, b, y, smoothing, z_loss):
    return losses.linear_softmax_cross_entropy_with_integer_labels(
      h, w, y, bias=b, label_smoothing=smoothing, z_loss=z_loss, chunk_size=chunk
    )

  return loss


def fused_mean_loss(rows):
  def loss(h, w, b, y, smoothing, z_loss):
    return losses.linear_softmax_cross_entropy_with_integer_labels(
      h, w, y, bias=b, label_smoothing=smoothing, z_loss=z_loss, reduction="mean", row_block=rows
    )

  return loss


def _compile(loss, args, smoothing, z_loss, reduced=False):
  mean = (lambda v: v) if reduced else jnp.mean
  f = jax.value_and_grad(lambda h, w, b, y: mean(loss(h, w, b, y, smoothing, z_loss)), (0, 1, 2))
  compiled = jax.jit(f).lower(*args).compile()
  mem = compiled.memory_analysis()
  peak = (
    mem.argument_size_in_bytes
    + mem.output_size_in_bytes
    + mem.temp_size_in_bytes
    - mem.alias_size_in_bytes
  )
  return compiled, mem.temp_size_in_bytes, peak


def _time(f, args) -> float:
  t = time.perf_counter()
  jax.block_until_ready(f(*args))
  return time.perf_counter() - t


def _check(got, want, name):
  """Warm-up outputs agree: value and each gradient within 1e-4 of the
  largest entry (sums over 65,536 classes in float32, in another order); on a
  GPU, whose float32 matrix products run in TF32 by default (about 3
  significant digits), within 1e-2."""
  tolerance = 1e-4 if jax.default_backend() == "cpu" else 1e-2
  (v, g), (v_ref, g_ref) = got, want
  for a, c, what in [(v, v_ref, "value")] + [
    (a, c, f"grad {k}") for k, a, c in zip("hWb", g, g_ref)
  ]:
    err = float(jnp.max(jnp.abs(a - c)) / jnp.maximum(jnp.max(jnp.abs(c)), 1e-30))
    if err > tolerance:
      raise AssertionError(f"{name}: {what} differs from dense by {err:.2e}")


def run_size(n, d, v, chunks, row_blocks, variant, repeats, profile=False):
  smoothing, z_loss = VARIANTS[variant]
  args = _inputs(n, d, v)
  fns = {"dense": _compile(dense_loss, args, smoothing, z_loss)}
  for c in chunks:
    fns[f"fused chunk {c}"] = _compile(fused_loss(c), args, smoothing, z_loss)
  for r in row_blocks:
    fns[f"fused mean rows {r}"] = _compile(
      fused_mean_loss(r), args, smoothing, z_loss, reduced=True
    )
  ref_out = fns["dense"][0](*args)
  for name, (f, _, _) in fns.items():
    if name != "dense":
      _check(f(*args), ref_out, name)
  del ref_out
  times = {name: [] for name in fns}
  for _ in range(repeats):
    for name, (f, _, _) in fns.items():
      times[name].append(_time(f, args))
  t_ref, temp_ref, peak_ref = (statistics.median(times["dense"]), fns["dense"][1], fns["dense"][2])
  size = f"{n}x{d}x{v} {variant}"
  for name, (_, temp, peak) in fns.items():
    t = statistics.median(times[name])
    flags = []
    if name != "dense" and t / t_ref > 1.3:
      flags.append("time > 1.3x")
    if name != "dense" and temp / temp_ref > 1 / 8:
      flags.append("temp > 1/8")
    print(
      f"{size:24s} {name:22s} {1e3 * t:10.1f} {t / t_ref:6.3f} "
      f"{temp / MIB:9.1f} {temp / temp_ref:6.3f} {peak / MIB:9.1f} "
      f"{peak / peak_ref:6.3f}  {', '.join(flags)}",
      flush=True,
    )
  if profile:
    for name, (f, _, _) in fns.items():
      print(_profile.summary(f"{size} {name}", _profile.op_times(f, *args)), flush=True)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument(
    "--sizes",
    default="2048x1024x16384,8192x1024x65536",
    help="NxDxV,... (tokens x hidden x vocabulary)",
  )
  ap.add_argument("--chunks", default="2048", help="chunk sizes, comma-separated ('' for none)")
  ap.add_argument(
    "--row_blocks",
    default="512",
    help="row block sizes of reduction='mean', comma-separated ('' for none)",
  )
  ap.add_argument("--variants", default="plain", help=f"comma-separated, of {sorted(VARIANTS)}")
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument(
    "--profile",
    action="store_true",
    help="also trace one call of each computation (jax.profiler) and print its time per kernel",
  )
  args = ap.parse_args(argv)
  chunks = [int(c) for c in args.chunks.split(",") if c]
  row_blocks = [int(r) for r in args.row_blocks.split(",") if r]
  dev = jax.devices()[0]
  print(
    f"jax {jax.__version__}, backend {jax.default_backend()} "
    f"({dev.device_kind}), float32; median of {args.repeats} interleaved "
    "rounds of jit(value_and_grad(mean loss)) w.r.t. h, W, b"
  )
  print(
    f"{'N x D x V':24s} {'computation':22s} {'ms':>10s} {'ratio':>6s} "
    f"{'temp MiB':>9s} {'ratio':>6s} {'peak MiB':>9s} {'ratio':>6s}"
  )
  for spec in args.sizes.split(","):
    n, d, v = (int(x) for x in spec.split("x"))
    for variant in args.variants.split(","):
      run_size(n, d, v, chunks, row_blocks, variant, args.repeats, args.profile)


if __name__ == "__main__":
  main()
