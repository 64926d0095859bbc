"""One training step of the same MLP against PyTorch, in the same process.

MLP 784-256-256-10 (ReLU), Adam, softmax cross-entropy, random data. The project's
step is nn_lib's `make_train_step` under `jax.jit`, dispatched once per step
(K = 1) and K steps per call (`config.steps_per_call`, a `lax.scan`); PyTorch runs
eager and, where it compiles here, `torch.compile`. Prints ms per step and each
ratio torch / ours (> 1: ours is faster).

  python bench/step_vs_torch.py [--batches 32 128 512] [--steps 300] [--k 8]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from nn_lib import models  # noqa: E402
from nn_lib.training import feed, objective  # noqa: E402
from nn_lib.training import step as step_lib  # noqa: E402

D_IN, HIDDEN, CLASSES = 784, (256, 256), 10


def _best_of(fn, steps: int, repeats: int = 3) -> float:
  """Seconds per step: the fastest of `repeats` timed runs of `steps` steps (the
  machine is shared; the minimum is the least disturbed)."""
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    fn(steps)
    best = min(best, (time.perf_counter() - start) / steps)
  return best


def ours(batch: int, steps: int, k: int) -> float:
  model = models.get("mlp", num_outputs=CLASSES, hidden=HIDDEN)
  tx = optax.adam(1e-3)
  loss_fn = objective.loss_from_config(ml_collections.ConfigDict(
      dict(name="softmax_cross_entropy_with_integer_labels")))
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(k, batch, D_IN)), jnp.float32)
  y = jnp.asarray(rng.integers(0, CLASSES, size=(k, batch)), jnp.int32)
  step_fn = step_lib.make_train_step(model, tx, loss_fn, optax.constant_schedule(1e-3))
  state = step_lib.init_state(model, tx, 0, x[0, :1])
  if k == 1:
    call = jax.jit(step_fn, donate_argnums=0)
    batches = {"inputs": x[0], "targets": y[0]}
  else:
    call = jax.jit(feed.multi_step(step_fn), donate_argnums=0)
    batches = {"inputs": x, "targets": y}
  state, _ = call(state, batches)   # compile
  jax.block_until_ready(state)
  holder = [state]

  def run(n: int) -> None:
    s = holder[0]
    for _ in range(max(1, n // k)):
      s, metrics = call(s, batches)
    jax.block_until_ready(metrics["loss"])
    holder[0] = s
  return _best_of(run, steps)


def torch_step(batch: int, steps: int, compiled: bool) -> float | None:
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  torch.manual_seed(0)
  net = torch.nn.Sequential(torch.nn.Linear(D_IN, HIDDEN[0]), torch.nn.ReLU(),
                            torch.nn.Linear(HIDDEN[0], HIDDEN[1]), torch.nn.ReLU(),
                            torch.nn.Linear(HIDDEN[1], CLASSES))
  opt = torch.optim.Adam(net.parameters(), lr=1e-3)
  x, y = torch.randn(batch, D_IN), torch.randint(0, CLASSES, (batch,))

  def one(x, y):
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss

  step = one
  if compiled:
    try:
      step = torch.compile(one)
      step(x, y)
    except Exception:  # pylint: disable=broad-except  (no compiler toolchain here)
      return None
  step(x, y)

  def run(n: int) -> None:
    for _ in range(n):
      step(x, y)
  return _best_of(run, steps)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--k", type=int, default=8)
  parser.add_argument("--compile", action="store_true", help="also torch.compile")
  args = parser.parse_args()
  print(f"MLP {D_IN}-{'-'.join(map(str, HIDDEN))}-{CLASSES}, Adam; ms per step "
        f"({jax.default_backend()}, jax {jax.__version__})")
  header = f"{'batch':>6}{'ours K=1':>10}{f'ours K={args.k}':>10}{'torch':>10}"
  header += f"{'torch.compile':>15}" if args.compile else ""
  print(header + f"{'torch/ours K=1':>16}{f'torch/ours K={args.k}':>16}")
  for batch in args.batches:
    k1, kk = ours(batch, args.steps, 1), ours(batch, args.steps, args.k)
    eager = torch_step(batch, args.steps, compiled=False)
    row = f"{batch:>6}{k1 * 1e3:>10.3f}{kk * 1e3:>10.3f}"
    row += f"{eager * 1e3:>10.3f}" if eager else f"{'-':>10}"
    if args.compile:
      compiled = torch_step(batch, args.steps, compiled=True)
      row += f"{compiled * 1e3:>15.3f}" if compiled else f"{'-':>15}"
    if eager:
      row += f"{eager / k1:>15.2f}x{eager / kk:>15.2f}x"
    print(row)


if __name__ == "__main__":
  main()
