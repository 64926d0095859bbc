"""One training step of the same model against PyTorch, in the same process.

Models: the MLP 784-256-256-10 (ReLU, Adam), LeNet-5 on 28x28 images (ReLU, max
pooling, Adam) and the CIFAR ResNet-20 (option-A shortcuts, batch norm, SGD with
momentum 0.9) on 32x32x3 images; softmax cross-entropy on random data. The
project's step is nn_lib's `make_train_step` under `jax.jit`, dispatched once per
step (K = 1) and K steps per call (`config.steps_per_call`, a `lax.scan`);
PyTorch runs eager and, with --compile where it compiles, `torch.compile`, on the
GPU when JAX has one (channels-last images there, cuDNN's fast layout). Prints ms
per step and each ratio torch / ours (> 1: ours is faster).

  python bench/step_vs_torch.py [--models mlp lenet5 resnet20] [--batches 32 128 512]
                                [--steps 300] [--k 8] [--compile]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from nn_lib import models  # noqa: E402
from nn_lib.training import feed, objective  # noqa: E402
from nn_lib.training import step as step_lib  # noqa: E402

CLASSES = 10
# name -> (nn_lib model arguments, input shape of one example, optimizer)
MODELS: dict[str, tuple[dict[str, Any], tuple[int, ...], str]] = {
  "mlp": (dict(name="mlp", num_outputs=CLASSES, hidden=(256, 256)), (784,), "adam"),
  "lenet5": (dict(name="lenet5", num_outputs=CLASSES), (28, 28, 1), "adam"),
  "resnet20": (dict(name="resnet", num_outputs=CLASSES, arch="resnet20"), (32, 32, 3), "sgd"),
}


def _best_of(fn, steps: int, repeats: int = 3) -> float:
  """Seconds per step: the fastest of `repeats` timed runs of `steps` steps (the
  machine is shared; the minimum is the least disturbed)."""
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    fn(steps)
    best = min(best, (time.perf_counter() - start) / steps)
  return best


def ours(name: str, batch: int, steps: int, k: int) -> float:
  model_args, shape, optimizer = MODELS[name]
  model = models.get(**model_args)
  tx = optax.adam(1e-3) if optimizer == "adam" else optax.sgd(0.1, momentum=0.9)
  loss_fn = objective.loss_from_config(
    ml_collections.ConfigDict(dict(name="softmax_cross_entropy_with_integer_labels"))
  )
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(k, batch, *shape)), jnp.float32)
  y = jnp.asarray(rng.integers(0, CLASSES, size=(k, batch)), jnp.int32)
  step_fn = step_lib.make_train_step(model, tx, loss_fn, optax.constant_schedule(1e-3))
  state = step_lib.init_state(model, tx, 0, x[0, :1])
  if k == 1:
    call = jax.jit(step_fn, donate_argnums=0)
    batches = {"inputs": x[0], "targets": y[0]}
  else:
    call = jax.jit(feed.multi_step(step_fn), donate_argnums=0)
    batches = {"inputs": x, "targets": y}
  state, _ = call(state, batches)  # compile
  jax.block_until_ready(state)
  holder = [state]

  def run(n: int) -> None:
    s = holder[0]
    for _ in range(max(1, n // k)):
      s, metrics = call(s, batches)
    jax.block_until_ready(metrics["loss"])
    holder[0] = s

  return _best_of(run, steps)


def _torch_model(name: str):
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top

  if name == "mlp":
    return nn.Sequential(
      nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, CLASSES)
    )
  if name == "lenet5":
    return nn.Sequential(
      nn.Conv2d(1, 6, 5, padding=2),
      nn.ReLU(),
      nn.MaxPool2d(2),
      nn.Conv2d(6, 16, 5),
      nn.ReLU(),
      nn.MaxPool2d(2),
      nn.Flatten(),
      nn.Linear(400, 120),
      nn.ReLU(),
      nn.Linear(120, 84),
      nn.ReLU(),
      nn.Linear(84, CLASSES),
    )

  class Block(nn.Module):
    """He et al.'s CIFAR block, option A: the shortcut subsamples and zero-pads."""

    def __init__(self, cin: int, cout: int, stride: int):
      super().__init__()
      self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
      self.bn1 = nn.BatchNorm2d(cout)
      self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
      self.bn2 = nn.BatchNorm2d(cout)
      self.stride, self.pad = stride, cout - cin

    def forward(self, x):
      h = torch.relu(self.bn1(self.conv1(x)))
      h = self.bn2(self.conv2(h))
      sc = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
      if self.pad:
        sc = torch.nn.functional.pad(sc, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
      return torch.relu(h + sc)

  layers, cin = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
  for stage, width in enumerate((16, 32, 64)):
    for i in range(3):
      layers.append(Block(cin, width, 2 if stage > 0 and i == 0 else 1))
      cin = width
  layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, CLASSES)]
  return nn.Sequential(*layers)


def torch_step(name: str, batch: int, steps: int, compiled: bool) -> float | None:
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  torch.manual_seed(0)
  device = "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"
  _, shape, optimizer = MODELS[name]
  net = _torch_model(name).to(device)
  opt = (
    torch.optim.Adam(net.parameters(), lr=1e-3)
    if optimizer == "adam"
    else torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
  )
  x = torch.randn(batch, *shape, device=device)
  if len(shape) == 3:  # NHWC -> NCHW, kept channels-last in memory on the GPU
    x = x.permute(0, 3, 1, 2)
    if device == "cuda":
      net, x = (
        net.to(memory_format=torch.channels_last),
        x.contiguous(memory_format=torch.channels_last),
      )
    else:
      x = x.contiguous()
  y = torch.randint(0, CLASSES, (batch,), device=device)

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
      loss = step(x, y)
    if device == "cuda":
      torch.cuda.synchronize()
    del loss

  return _best_of(run, steps)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--models", nargs="+", default=["mlp"], choices=sorted(MODELS))
  parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--k", type=int, default=8)
  parser.add_argument("--compile", action="store_true", help="also torch.compile")
  args = parser.parse_args()
  print(
    f"ms per step ({jax.default_backend()}: {jax.devices()[0].device_kind}, "
    f"jax {jax.__version__}); MLP and LeNet-5 with Adam, ResNet-20 with SGD+momentum"
  )
  header = f"{'model':<10}{'batch':>6}{'ours K=1':>10}{f'ours K={args.k}':>10}{'torch':>10}"
  header += f"{'torch.compile':>15}" if args.compile else ""
  header += f"{'torch/ours K=1':>16}{f'torch/ours K={args.k}':>16}"
  print(header + (f"{'compile/ours':>14}" if args.compile else ""), flush=True)
  for name in args.models:
    for batch in args.batches:
      k1, kk = ours(name, batch, args.steps, 1), ours(name, batch, args.steps, args.k)
      eager = torch_step(name, batch, args.steps, compiled=False)
      compiled = torch_step(name, batch, args.steps, compiled=True) if args.compile else None
      row = f"{name:<10}{batch:>6}{k1 * 1e3:>10.3f}{kk * 1e3:>10.3f}"
      row += f"{eager * 1e3:>10.3f}" if eager else f"{'-':>10}"
      if args.compile:
        row += f"{compiled * 1e3:>15.3f}" if compiled else f"{'-':>15}"
      row += f"{eager / k1:>15.2f}x{eager / kk:>15.2f}x" if eager else f"{'-':>32}"
      if compiled:
        row += f"{compiled / k1:>13.2f}x"
      print(row, flush=True)


if __name__ == "__main__":
  main()
