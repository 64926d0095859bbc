"""Shared fixtures: a private embedded-data dir and a `train.py` subprocess runner."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory) -> Path:
  """Embedded datasets prepared once per test session (and worker), never in ~/.cache."""
  return tmp_path_factory.getbasetemp().parent / "nn_lib_embedded"


@pytest.fixture(autouse=True)
def _embedded_env(embedded_dir, monkeypatch):
  monkeypatch.setenv("NN_LIB_DATA_DIR", str(embedded_dir))


def subprocess_env(devices: int = 1, **extra: str) -> dict[str, str]:
  env = dict(os.environ)
  env.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO), **extra)
  flags = [f for f in env.get("XLA_FLAGS", "").split() if "device_count" not in f]
  if devices > 1:
    # A deadlocked collective aborts after 60 s instead of hanging the suite.
    flags += [f"--xla_force_host_platform_device_count={devices}",
              "--xla_cpu_collective_call_terminate_timeout_seconds=60"]
  env["XLA_FLAGS"] = " ".join(flags)
  return env


def run_train(*args: str, devices: int = 1, timeout: float = 300,
              check: bool = True) -> subprocess.CompletedProcess:
  """Runs `python train.py ARGS` and returns the completed process (text output)."""
  proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO,
                        env=subprocess_env(devices), capture_output=True, text=True,
                        timeout=timeout)
  if check and proc.returncode != 0:
    raise AssertionError(f"train.py {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stderr[-4000:]}")
  return proc
