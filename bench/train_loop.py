"""Overhead of nn_lib's training loop against a bare jit+optax loop, same process.

Both train the `digits_mlp` model on the same host batches; the bare loop has no
checkpoints, logging, metrics or sharding. Prints steps/s and the ratio, for the
default loop and with several steps per call (and the data on the device).

  python bench/train_loop.py [--steps 1500] [--k 10]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import optax  # noqa: E402

import experiments  # noqa: E402
import losses  # noqa: E402
from nn_lib import data, models  # noqa: E402
from nn_lib.training import train_and_evaluate  # noqa: E402
from nn_lib.training.optim import make_optimizer  # noqa: E402


def bare_loop(cfg, steps: int) -> float:
  splits = data.load(cfg.data)
  batches = data.TrainBatches(splits["train"], cfg.batch_size, cfg.seed)
  model = models.get(**cfg.model)
  tx, _ = make_optimizer(cfg)
  params = model.init(jax.random.PRNGKey(0), batches(0)["inputs"])["params"]
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, x, y, key):
    def objective(p):
      logits = model.apply({"params": p}, x, train=True, rngs={"dropout": key})
      return losses.reduce(losses.softmax_cross_entropy_with_integer_labels(logits, y))
    grads = jax.grad(objective)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  key = jax.random.PRNGKey(1)
  b = batches(0)
  jax.block_until_ready(step(params, opt_state, b["inputs"], b["targets"], key))
  start = time.perf_counter()
  for s in range(steps):
    b = batches(s)
    params, opt_state = step(params, opt_state, b["inputs"], b["targets"],
                             jax.random.fold_in(key, s))
  jax.block_until_ready(params)
  return steps / (time.perf_counter() - start)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=1500)
  parser.add_argument("--k", type=int, default=10, help="steps_per_call of the last rows")
  parser.add_argument("--rounds", type=int, default=3)
  args = parser.parse_args()
  cfg = experiments.get_config("digits_mlp")
  cfg.num_steps = args.steps
  cfg.eval_every = cfg.checkpoint_every = args.steps
  variants = {"train_and_evaluate": {},
              f"  steps_per_call={args.k}": {"steps_per_call": args.k},
              "  + data_on_device": {"steps_per_call": args.k, "data_on_device": True}}

  def loop(options) -> float:
    run_cfg = cfg.copy_and_resolve_references()
    for key, value in options.items():
      run_cfg[key] = value
    with tempfile.TemporaryDirectory() as workdir:
      return train_and_evaluate(run_cfg, workdir).steps_per_sec

  # Interleaved rounds, best of each: this machine's speed drifts by 30% within a
  # minute, so one measurement after the other would compare different machines.
  best = {"bare": 0.0, **{name: 0.0 for name in variants}}
  for _ in range(args.rounds):
    best["bare"] = max(best["bare"], bare_loop(cfg, args.steps))
    for name, options in variants.items():
      best[name] = max(best[name], loop(options))
  print(f"{'loop':<28}{'steps/s':>10}{'ratio to bare':>15}")
  print(f"{'bare jit + optax':<28}{best['bare']:>10.0f}")
  for name in variants:
    print(f"{name:<28}{best[name]:>10.0f}{best[name] / best['bare']:>15.2f}")
  print(f"(digits_mlp, batch {cfg.batch_size}, log_every {cfg.log_every}, best of "
        f"{args.rounds} interleaved rounds, {jax.device_count()} {jax.default_backend()} "
        "device(s))")


if __name__ == "__main__":
  main()
