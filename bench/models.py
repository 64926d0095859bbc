"""Forward and forward+backward throughput of every model in the zoo on CPU.

Run: python bench/models.py [--models lenet5,resnet] [--batch N] [--min-time S]

Each model is built from its catalog entry (nn_lib/models/catalog.py) at its
typical input size and batch. Both passes are jitted and warmed up; a timing is
the median over repeats of one call ended by block_until_ready. "fwd" is eval
mode (`train=False`); "fwd+bwd" is the gradient of mean(output^2) with respect
to the parameters in train mode (dropout on, batch-norm statistics updated), the
work of a training step without the optimizer. The last column is the ratio of
the two timings measured in the same process (backward pass overhead).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from nn_lib.models import catalog  # noqa: E402


def _time(fn, *args, min_time: float, min_repeats: int = 5, max_repeats: int = 50) -> float:
  for _ in range(2):  # compile + one warm call
    jax.block_until_ready(fn(*args))
  times: list[float] = []
  start = time.perf_counter()
  while len(times) < min_repeats or (
    time.perf_counter() - start < min_time and len(times) < max_repeats
  ):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def bench_model(name: str, batch: int | None, min_time: float) -> dict:
  entry = catalog.CATALOG[name]
  batch = batch or entry.batch
  model = entry.build()
  x = entry.example_input(batch, jax.random.key(0))
  variables = catalog.random_variables(model, x)
  params = variables["params"]
  state = {k: v for k, v in variables.items() if k != "params"}

  @jax.jit
  def forward(variables, x):
    return model.apply(variables, x, train=False)

  @jax.jit
  def forward_backward(params, state, x, key):
    def loss_fn(params):
      y, new_state = model.apply(
        {"params": params, **state}, x, train=True, rngs={"dropout": key}, mutable=list(state)
      )
      return jnp.mean(jnp.square(y)), new_state

    return jax.grad(loss_fn, has_aux=True)(params)

  fwd = _time(forward, variables, x, min_time=min_time)
  fwd_bwd = _time(forward_backward, params, state, x, jax.random.key(1), min_time=min_time)
  return dict(
    name=name,
    input=f"{batch}x" + "x".join(map(str, entry.input_shape)),
    params=catalog.param_count(name),
    fwd=batch / fwd,
    fwd_bwd=batch / fwd_bwd,
    ratio=fwd_bwd / fwd,
  )


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--models", default="", help="comma-separated names (default: all)")
  parser.add_argument("--batch", type=int, default=None, help="override every model's batch")
  parser.add_argument(
    "--min-time",
    type=float,
    default=1.0,
    help="seconds of timed repeats per measurement (at least 5 repeats)",
  )
  args = parser.parse_args(argv)
  names = [n for n in args.models.split(",") if n] or sorted(catalog.CATALOG)
  print(
    f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs; "
    "examples/s, median of repeats"
  )
  header = (
    f"| {'model':<22} | {'input (BxExample)':<18} | {'params':>10} | {'fwd ex/s':>10} "
    f"| {'fwd+bwd ex/s':>12} | {'fwd+bwd / fwd time':>18} |"
  )
  print(header)
  print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
  for name in names:
    r = bench_model(name, args.batch, args.min_time)
    print(
      f"| {r['name']:<22} | {r['input']:<18} | {r['params']:>10,} | {r['fwd']:>10,.0f} "
      f"| {r['fwd_bwd']:>12,.0f} | {r['ratio']:>18.2f} |",
      flush=True,
    )


if __name__ == "__main__":
  main()
