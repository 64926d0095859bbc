"""Overhead of nn_lib's training loop against its own bare jitted step, same process.

The bare loop is the loop's own step (`make_train_step` with the config's model,
loss, optimizer, schedule, metrics and augmentation) under `jax.jit` with the state
donated and no logging, checkpoints or checks: fed batches already on the device
(the most the loop could reach), and fed the same host batches as the loop, cut
each step (what a hand-written loop does). The loop runs `train_and_evaluate` with the
same config (checkpoint and evaluation only at the end). Prints steps/s and the
ratio for the loop fed from the host and gathering from a split on the device
(`data_placement`; the default, "auto", is the latter on an accelerator), one and
several steps per call, and XLA's cost analysis of the step (FLOPs and bytes per
step, and the rates the bare step reaches).

  python bench/train_loop.py [--steps 1500] [--k 10]                # digits_mlp
  python bench/train_loop.py --experiment cifar10_resnet20 --batch 128
                             # random CIFAR-shaped uint8 images from an .npz file
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import experiments  # noqa: E402
from nn_lib import data, models  # noqa: E402
from nn_lib.training import objective, train_and_evaluate  # noqa: E402
from nn_lib.training import mesh as mesh_lib  # noqa: E402
from nn_lib.training import step as step_lib  # noqa: E402
from nn_lib.training.optim import make_optimizer  # noqa: E402


def bare_loop(cfg, steps: int) -> tuple[float, float, dict[str, float]]:
  """(steps/s fed batches already on the device (the ceiling), steps/s fed
  batches cut on the host each step from the same `TrainBatches` the loop reads
  (what a hand-written loop would do), cost analysis) of the config's own step,
  compiled once for both; `steps` should hold several `cfg.log_every` windows."""
  batches = data.TrainBatches(data.load(cfg.data)["train"], cfg.batch_size, cfg.seed)
  model = models.get(**cfg.model)
  tx, schedule = make_optimizer(cfg, steps_per_epoch=batches.steps_per_epoch)
  train_step = step_lib.make_train_step(
    model,
    tx,
    objective.loss_from_config(cfg.loss),
    schedule,
    tuple(cfg.metrics),
    cfg.get("regularizer"),
    cfg_augment=cfg.get("augment", ()),
  )
  state = step_lib.init_state(model, tx, cfg.seed, batches(0)["inputs"][:1])
  resident = [jax.device_put(batches(s)) for s in range(8)]
  step = jax.jit(train_step, donate_argnums=0)
  cost = step.lower(state, resident[0]).compile().cost_analysis() or {}
  cost = cost[0] if isinstance(cost, list) else cost
  state, metrics = step(state, resident[0])
  jax.block_until_ready(metrics["loss"])
  # Timed as the loop times itself: the median over windows of log_every steps,
  # each ended by waiting for its last step's loss (the loop fetches the window's
  # metrics there).
  window = max(1, cfg.log_every)
  rates = []
  for on_device in (True, False):
    windows, start = [], time.perf_counter()
    for s in range(steps):
      batch = (
        resident[s % len(resident)]
        if on_device
        else {k: mesh_lib.host_dtype(v) for k, v in batches(s).items()}
      )
      state, metrics = step(state, batch)
      if (s + 1) % window == 0:
        jax.block_until_ready(metrics["loss"])
        now = time.perf_counter()
        windows.append(window / (now - start))
        start = now
    rates.append(float(np.median(windows)))
  return rates[0], rates[1], cost


def experiment_config(name: str, steps: int, batch: int | None, dtype: str | None, workdir: Path):
  cfg = experiments.get_config(name)
  if name == "cifar10_resnet20":  # CIFAR-shaped random images: no dataset needed
    rng = np.random.default_rng(0)
    path = workdir / "cifar_shaped.npz"
    np.savez(
      path,
      x_train=rng.integers(0, 256, (10000, 32, 32, 3), np.uint8),
      y_train=rng.integers(0, 10, 10000),
      x_test=rng.integers(0, 256, (256, 32, 32, 3), np.uint8),
      y_test=rng.integers(0, 10, 256),
    )
    cfg.data.source, cfg.data.path = "npz", str(path)
    cfg.metrics = ("accuracy",)
  cfg.num_steps = steps
  cfg.eval_every = cfg.checkpoint_every = steps
  cfg.log_every = max(1, steps // 10)  # the loop reports the median window
  if batch:
    cfg.batch_size = batch
  if dtype:
    cfg.model.dtype = dtype
  return cfg


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument(
    "--experiment", default="digits_mlp", choices=("digits_mlp", "cifar10_resnet20")
  )
  parser.add_argument("--steps", type=int, default=1500)
  parser.add_argument("--batch", type=int, default=None, help="default: the experiment's")
  parser.add_argument("--dtype", default=None, help="model dtype (default: the experiment's)")
  parser.add_argument("--k", type=int, default=10, help="steps_per_call of the last rows")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument(
    "--k_rows",
    action=argparse.BooleanOptionalAction,
    default=True,
    help="measure the steps_per_call rows (--no-k_rows: one step per call, fed "
    "from the host and gathered on the device, two compiles fewer)",
  )
  args = parser.parse_args()
  # The default placement is "auto": on an accelerator the split goes to the
  # device (it fits), on a CPU it stays on the host. The rows name both explicitly.
  variants = {
    "  data_placement=host": {"data_placement": "host"},
    "  data_placement=device": {"data_placement": "device"},
  }
  if args.k_rows:
    variants[f"  steps_per_call={args.k}, host"] = {
      "steps_per_call": args.k,
      "data_placement": "host",
    }
    variants[f"  steps_per_call={args.k}, device"] = {
      "steps_per_call": args.k,
      "data_placement": "device",
    }
  with tempfile.TemporaryDirectory() as tmp:
    cfg = experiment_config(args.experiment, args.steps, args.batch, args.dtype, Path(tmp))

    def loop(options) -> float:
      run_cfg = cfg.copy_and_resolve_references()
      for key, value in options.items():
        run_cfg[key] = value
      with tempfile.TemporaryDirectory() as workdir:
        rate = train_and_evaluate(run_cfg, workdir).steps_per_sec
        assert rate is not None  # the supervised loop measures it
        return rate

    # Interleaved rounds, best of each: a shared machine's speed drifts by 30%
    # within a minute, so one measurement after the other would compare
    # different machines.
    best = {"bare": 0.0, "bare_host": 0.0, **{name: 0.0 for name in variants}}
    for i in range(args.rounds):
      rate, host_rate, cost = bare_loop(cfg, args.steps)
      best["bare"], best["bare_host"] = max(best["bare"], rate), max(best["bare_host"], host_rate)
      rates = {name: loop(options) for name, options in variants.items()}
      for name, value in rates.items():
        best[name] = max(best[name], value)
      print(
        f"round {i + 1}: bare {rate:.0f} steps/s, fed from the host {host_rate:.0f}; "
        + ", ".join(f"{name.strip()} {value:.0f}" for name, value in rates.items()),
        flush=True,
      )
  print(f"{'loop':<30}{'steps/s':>10}{'ratio to bare':>15}{'to host-fed bare':>18}")
  print(f"{'bare jitted step':<30}{best['bare']:>10.0f}")
  print(
    f"{'  fed host batches each step':<30}{best['bare_host']:>10.0f}"
    f"{best['bare_host'] / best['bare']:>15.2f}"
  )
  print(
    "train_and_evaluate (its default, data_placement=auto: device on an accelerator, host on a CPU)"
  )
  for name in variants:
    print(
      f"{name:<30}{best[name]:>10.0f}{best[name] / best['bare']:>15.2f}"
      f"{best[name] / best['bare_host']:>18.2f}"
    )
  print(
    f"({args.experiment}, batch {cfg.batch_size}, {cfg.model.get('dtype', 'float32')}, "
    f"log_every {cfg.log_every}, best of {args.rounds} interleaved rounds, "
    f"{jax.device_count()} {jax.default_backend()} device(s): "
    f"{jax.devices()[0].device_kind})"
  )
  flops, moved = cost.get("flops", 0.0), cost.get("bytes accessed", 0.0)
  if flops:
    print(
      f"step cost (XLA): {flops / 1e9:.3f} GFLOP, {moved / 1e9:.3f} GB accessed; bare "
      f"step reaches {flops * best['bare'] / 1e12:.2f} TFLOP/s, "
      f"{moved * best['bare'] / 1e9:.0f} GB/s"
    )


if __name__ == "__main__":
  main()
