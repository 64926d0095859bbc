"""Training throughput at accelerator scale, against this machine's own matmul rate.

1. ResNet-20 on CIFAR-shaped data through the whole loop (`train_and_evaluate`,
   random uint8 images in an .npz file), float32 and bfloat16 (`model.dtype`),
   with several steps per call and the data on the device: images/s.
2. A GPT-2-small-sized `transformer_lm` (12 layers, d = 768, 12 heads, context
   1024) training step in bfloat16: tokens/s and model FLOP utilisation, as a
   fraction of the bfloat16 matrix-multiply rate measured in the same process
   (FLOPs per token: 6 x parameters + 12 x layers x context x d, the usual
   estimate with attention).

  python bench/throughput.py            # accelerator sizes on a GPU, CPU sizes on a CPU
  python bench/throughput.py --small    # CPU sizes anywhere
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import experiments  # noqa: E402
from nn_lib import models  # noqa: E402
from nn_lib.training import objective, train_and_evaluate  # noqa: E402
from nn_lib.training import step as step_lib  # noqa: E402


def _best_time(f, *args, repeats: int = 5) -> float:
  jax.block_until_ready(f(*args))
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(f(*args))
    best = min(best, time.perf_counter() - start)
  return best


def matmul_rate(n: int, dtype) -> float:
  """FLOP/s of an n x n x n matrix product in `dtype` on random data (zeros or
  ones can run faster than real data), best of 5."""
  a, b = jax.random.normal(jax.random.PRNGKey(0), (2, n, n), dtype)
  return 2 * n**3 / _best_time(jax.jit(lambda a, b: a @ b), a, b)


def copy_bandwidth(n_bytes: int) -> float:
  """Bytes/s of an elementwise pass (read once, write once) over n_bytes."""
  x = jax.random.normal(jax.random.PRNGKey(0), (n_bytes // 4,), jnp.float32)
  return 2 * n_bytes / _best_time(jax.jit(lambda x: x * 2.0), x)


def resnet_images_per_sec(
  workdir: Path, steps: int, batch: int, dtype: str, steps_per_call: int, rows: int
) -> float:
  rng = np.random.default_rng(0)
  path = workdir / "cifar_shaped.npz"
  if not path.exists():
    np.savez(
      path,
      x_train=rng.integers(0, 256, (rows, 32, 32, 3), np.uint8),
      y_train=rng.integers(0, 10, rows),
      x_test=rng.integers(0, 256, (256, 32, 32, 3), np.uint8),
      y_test=rng.integers(0, 10, 256),
    )
  cfg = experiments.get_config("cifar10_resnet20")
  cfg.data.source, cfg.data.path = "npz", str(path)
  cfg.num_steps, cfg.batch_size = steps, batch
  # Five timed windows: the loop reports their median, so the first (which
  # includes compiling) does not count.
  cfg.log_every = steps // 5
  cfg.eval_every = cfg.checkpoint_every = steps
  cfg.metrics = ("accuracy",)
  cfg.steps_per_call, cfg.data_placement = steps_per_call, "device"
  cfg.model.dtype = dtype
  run = workdir / f"resnet_{dtype}_{batch}_{steps_per_call}"
  rate = train_and_evaluate(cfg, run).steps_per_sec
  assert rate is not None  # the supervised loop measures it
  return rate * batch


def transformer_mfu(
  layers: int,
  d: int,
  heads: int,
  context: int,
  vocab: int,
  batch: int,
  steps: int,
  peak: float,
  attention: str = "fused",
) -> tuple[float, float]:
  model = models.get(
    "transformer_lm",
    vocab_size=vocab,
    d_model=d,
    num_heads=heads,
    num_layers=layers,
    d_ff=4 * d,
    dropout=0.0,
    pre_norm=True,
    dtype="bfloat16",
    attention=attention,
  )
  tx = optax.adamw(3e-4)
  loss_fn = objective.loss_from_config(
    ml_collections.ConfigDict(dict(name="softmax_cross_entropy_with_integer_labels"))
  )
  tokens = jnp.asarray(np.random.default_rng(0).integers(0, vocab, (batch, context + 1)))
  batch_xy = {"inputs": tokens[:, :-1], "targets": tokens[:, 1:]}
  state = jax.jit(lambda x: step_lib.init_state(model, tx, 0, x))(batch_xy["inputs"][:1])
  step = jax.jit(
    step_lib.make_train_step(model, tx, loss_fn, optax.constant_schedule(3e-4)), donate_argnums=0
  )
  state, metrics = step(state, batch_xy)
  jax.block_until_ready(metrics["loss"])
  start = time.perf_counter()
  for _ in range(steps):
    state, metrics = step(state, batch_xy)
  jax.block_until_ready(metrics["loss"])
  tokens_per_sec = steps * batch * context / (time.perf_counter() - start)
  params = sum(x.size for x in jax.tree.leaves(state["params"]))
  flops_per_token = 6 * params + 12 * layers * context * d
  return tokens_per_sec, tokens_per_sec * flops_per_token / peak


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--small", action="store_true", help="CPU-sized runs (the default on a CPU)")
  parser.add_argument(
    "--resnet_steps",
    type=int,
    default=None,
    help="steps of each ResNet-20 run (default 600; 50 with --small)",
  )
  parser.add_argument(
    "--resnet_runs",
    default=None,
    help="ResNet-20 runs as DTYPE:BATCH:STEPS_PER_CALL,... (default: float32:1024:1,"
    "bfloat16:1024:1,bfloat16:2048:1; with --small float32:16:1,bfloat16:16:5)",
  )
  parser.add_argument(
    "--attention",
    default="fused,explicit",
    help="transformer_lm attention implementations to measure, comma-separated",
  )
  args = parser.parse_args()
  small = args.small or jax.default_backend() == "cpu"
  peak = matmul_rate(1024 if small else 8192, jnp.bfloat16)
  bandwidth = copy_bandwidth(2**24 if small else 2**31)
  print(
    f"{jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}; "
    f"measured here: bfloat16 matmul {peak / 1e12:.2f} TFLOP/s, memory "
    f"{bandwidth / 1e9:.0f} GB/s (read + write)",
    flush=True,
  )
  print(f"{'what':<50}{'value':>14}", flush=True)
  # (dtype, batch, steps per call); the loop's own float32 batch-128 ratio to its
  # bare step is bench/train_loop.py's
  runs: tuple[tuple[str, int, int], ...] = (
    (("float32", 16, 1), ("bfloat16", 16, 5))
    if small
    else (("float32", 1024, 1), ("bfloat16", 1024, 1), ("bfloat16", 2048, 1))
  )
  steps, rows = (50, 512) if small else (600, 10000)
  with tempfile.TemporaryDirectory() as tmp:
    if args.resnet_runs:
      runs = tuple(
        (dtype, int(batch), int(k))
        for dtype, batch, k in (run.split(":") for run in args.resnet_runs.split(","))
      )
    steps = args.resnet_steps or steps
    for dtype, batch, k in runs:
      rate = resnet_images_per_sec(Path(tmp), steps, batch, dtype, k, rows)
      print(f"{f'ResNet-20 loop, batch {batch}, {dtype}, K={k}':<50}{rate:>10.0f} im/s", flush=True)
  sizes = (
    dict(layers=2, d=256, heads=4, context=128, vocab=1024, batch=8, steps=5)
    if small
    else dict(layers=12, d=768, heads=12, context=1024, vocab=50304, batch=16, steps=20)
  )
  for attention in args.attention.split(","):
    tokens, mfu = transformer_mfu(**sizes, peak=peak, attention=attention)
    label = (
      f"transformer_lm {sizes['layers']}x{sizes['d']}, T={sizes['context']}, "
      f"B={sizes['batch']}, bf16, {attention} attention"
    )
    print(label, flush=True)
    print(f"{'  tokens/s':<50}{tokens:>14.0f}")
    print(f"{'  model FLOP utilisation (of the matmul rate)':<50}{mfu:>14.2%}", flush=True)


if __name__ == "__main__":
  main()
