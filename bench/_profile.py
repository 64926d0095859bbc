"""Device time per kernel of one call, from a `jax.profiler` trace.

Issue 11 asks that speed limits be explained from a profile. TensorBoard's
profile plugin is not part of this project's stack (and a GPU check machine has
no browser), so this reads the trace's XSpace with `jax.profiler.ProfileData`
and sums the kernels' durations per kernel name: enough to tell matrix
products from the elementwise and memory-bound work around them.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path
from typing import Callable

import jax
from jax.profiler import ProfileData

# cuBLAS (nvjet, sm90_xmma, cutlass), XLA's Triton GEMM fusions; on a CPU dot thunks
# and YNNPACK fusions (XLA:CPU's matrix products)
_MATMUL = re.compile(r"gemm|xmma|cutlass|cublas|nvjet|matmul|ynn|\bdot|dot[._]", re.I)


@dataclasses.dataclass
class OpTime:
  op: str  # the HLO operation (fusion, custom call, CUDA graph) of the first one
  kernel: str
  count: int
  seconds: float

  @property
  def matmul(self) -> bool:
    return bool(_MATMUL.search(self.op) or _MATMUL.search(self.kernel))


def _device_events(space: ProfileData):
  """(op, kernel, start ns, end ns) of every kernel: a GPU's stream lines, or on
  a CPU the host threads' events that carry an HLO op."""
  for plane in space.planes:
    gpu = plane.name.startswith("/device:GPU")
    if not (gpu or plane.name == "/host:CPU"):
      continue
    for line in plane.lines:
      if gpu and not line.name.startswith("Stream"):
        continue  # derived lines (XLA Ops, Modules, Steps) repeat the kernels
      for event in line.events:
        stats = dict(event.stats)
        op = stats.get("hlo_op")
        if op is None and not gpu:
          continue  # host-side Python and runtime events
        yield str(op or event.name), event.name, event.start_ns, event.end_ns


@dataclasses.dataclass
class Profile:
  ops: list[OpTime]  # longest first
  span: float  # seconds from the first kernel's start to the last one's end


def op_times(fn: Callable, *args) -> Profile:
  """Time per kernel of one `fn(*args)` (warm it up first: the trace would
  hold its compile)."""
  with tempfile.TemporaryDirectory() as tmp:
    with jax.profiler.trace(tmp):
      jax.block_until_ready(fn(*args))
    trace = next(Path(tmp).rglob("*.xplane.pb"))
    space = ProfileData.from_file(str(trace))
    totals: dict[str, OpTime] = {}
    first, last = float("inf"), float("-inf")
    for op, kernel, start, end in _device_events(space):
      # by kernel: on a GPU, XLA replays runs of kernels as one CUDA graph, and
      # every kernel of it carries the graph's op name (command_buffer_N)
      entry = totals.setdefault(kernel, OpTime(op, kernel, 0, 0.0))
      entry.count += 1
      entry.seconds += (end - start) * 1e-9
      first, last = min(first, start), max(last, end)
  ops = sorted(totals.values(), key=lambda t: -t.seconds)
  return Profile(ops, max(last - first, 0.0) * 1e-9)


def summary(name: str, profile: Profile, top: int = 8) -> str:
  """Kernel time, its matrix-product share, the time between the first kernel's
  start and the last one's end (kernel time below it: the device waited), and
  the `top` longest ops."""
  times = profile.ops
  total = sum(t.seconds for t in times) or float("nan")
  matmul = sum(t.seconds for t in times if t.matmul)
  lines = [
    f"{name}: kernels {1e3 * total:.2f} ms in a span of {1e3 * profile.span:.2f} ms; "
    f"matrix products {1e3 * matmul:.2f} ms ({matmul / total:.0%}), "
    f"other {1e3 * (total - matmul):.2f} ms"
  ]
  for t in times[:top]:
    lines.append(
      f"  {1e3 * t.seconds:8.3f} ms {t.count:5d}x {'matmul' if t.matmul else '      '} "
      f"{t.op[:40]:40s} {t.kernel[:60]}"
    )
  return "\n".join(lines)
