"""Where a sweep's parallel trials run: one slot per visible GPU (or --parallel
slots), each with the environment that pins its trial to its GPU."""

from __future__ import annotations

import os
import shutil
import subprocess


def visible_gpus() -> list[str]:
  """The GPU ids this process may use: CUDA_VISIBLE_DEVICES, else nvidia-smi -L."""
  env = os.environ.get("CUDA_VISIBLE_DEVICES")
  if env is not None:
    ids = [g.strip() for g in env.split(",") if g.strip()]
    return [] if not ids or ids[0] == "-1" else ids
  if shutil.which("nvidia-smi") is None:
    return []
  try:
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
  except (OSError, subprocess.SubprocessError):
    return []
  if out.returncode != 0:
    return []
  count = sum(line.startswith("GPU") for line in out.stdout.splitlines())
  return [str(i) for i in range(count)]


def slot_envs(parallel: int | None) -> list[dict[str, str]]:
  """The extra environment of each parallel slot: its GPU, if there are GPUs."""
  gpus = visible_gpus()
  count = parallel or len(gpus) or 1
  if not gpus:
    return [{} for _ in range(count)]
  shared = count > len(gpus)  # trials share a GPU: none may take most of its memory
  return [
    {
      "CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)],
      **({"XLA_PYTHON_CLIENT_PREALLOCATE": "false"} if shared else {}),
    }
    for i in range(count)
  ]
