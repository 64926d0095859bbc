"""Several processes as one run, for real: 2 processes x 2 CPU devices each over
loopback (gloo collectives) train what 1 process with 4 devices trains."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from nn_lib.training.checkpoint import read_latest
from tests.conftest import REPO, run_train, subprocess_env

RUN = ["--experiment=digits_mlp:smoke", "--config.num_steps=30", "--config.batch_size=16",
       "--config.eval_batch_size=64", "--config.checkpoint_every=5",
       "--config.keep_checkpoints=2"]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _launch(workdir: Path, *args: str, heartbeat_timeout: int = 100) -> list[subprocess.Popen]:
  """Process 0 and process 1 of one run, each with 2 forced CPU devices, logging
  to workdir/../process_I.log."""
  port = _free_port()
  env = subprocess_env(devices=2)
  procs = []
  for i in range(2):
    log = open(workdir.parent / f"{workdir.name}_process_{i}.log", "a", encoding="utf-8")  # pylint: disable=consider-using-with
    procs.append(subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), *RUN, *args, f"--workdir={workdir}",
         f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
         f"--process_id={i}", f"--heartbeat_timeout={heartbeat_timeout}"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
  return procs


def _log(workdir: Path, i: int) -> str:
  return (workdir.parent / f"{workdir.name}_process_{i}.log").read_text()


def _wait(procs: list[subprocess.Popen], timeout: float) -> list[int]:
  deadline = time.time() + timeout
  try:
    return [p.wait(timeout=max(deadline - time.time(), 1)) for p in procs]
  finally:
    for p in procs:
      p.kill()


def _saved_steps(workdir: Path) -> list[int]:
  return sorted(int(p.name) for p in (workdir / "checkpoints").glob("[0-9]*")
                if p.is_dir() and not p.name.endswith(".orbax-checkpoint-tmp"))


@pytest.mark.slow
def test_two_processes_match_one_process_and_resume_after_kill_9(tmp_path):
  run_train(*RUN, f"--workdir={tmp_path / 'one'}", devices=4)

  workdir = tmp_path / "two"
  procs = _launch(workdir)
  deadline = time.time() + 240
  while not _saved_steps(workdir) and time.time() < deadline:
    if any(p.poll() is not None for p in procs):
      break
    time.sleep(0.05)
  for p in procs:       # kill -9 both, mid-run
    p.kill()
  killed_at = _saved_steps(workdir)
  assert killed_at and killed_at[-1] < 30, (killed_at, _log(workdir, 0)[-3000:])
  assert _wait(_launch(workdir), timeout=240) == [0, 0], _log(workdir, 0)[-3000:]
  assert f"starting at step {killed_at[-1]}" in _log(workdir, 0).split("Starting JAX")[-1]
  assert "4 device(s)" in _log(workdir, 0)

  _, one = read_latest(tmp_path / "one")
  _, two = read_latest(workdir)
  assert int(one["step"]) == int(two["step"]) == 30
  for a, b in zip(jax.tree.leaves(one["params"]), jax.tree.leaves(two["params"])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=0)
  final_one = json.loads((tmp_path / "one" / "summary.json").read_text())["final"]
  final_two = json.loads((workdir / "summary.json").read_text())["final"]
  for key in ("test/loss", "test/accuracy"):
    assert final_two[key] == pytest.approx(final_one[key], abs=1e-6)
  # process 0 alone wrote the run's files
  assert len((workdir / "metrics.jsonl").read_text().splitlines()) == len(
      (tmp_path / "one" / "metrics.jsonl").read_text().splitlines())

  # The checkpoint two processes saved resumes in one process with one device, and
  # matches the checksum written with it (bit-identical to what was saved).
  proc = run_train(*RUN, "--config.num_steps=32", f"--workdir={workdir}", devices=1,
                   JAX_PLATFORMS="cpu")
  assert "resumed from checkpoint at step 30 (checksum verified)" in proc.stderr
  assert "1 device(s); starting at step 30 of 32" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("dies", [0, 1], ids=["coordinator_dies", "worker_dies"])
def test_a_dead_process_makes_the_other_exit_with_an_error(tmp_path, dies):
  workdir = tmp_path / "run"
  procs = _launch(workdir, "--config.num_steps=100000", "--config.checkpoint_every=5",
                  heartbeat_timeout=3)
  deadline = time.time() + 240
  while not _saved_steps(workdir) and time.time() < deadline:
    time.sleep(0.05)
  assert _saved_steps(workdir), _log(workdir, 0)[-3000:]
  procs[dies].kill()
  killed = time.time()
  survivor = 1 - dies
  try:
    code = procs[survivor].wait(timeout=120)
  finally:
    procs[survivor].kill()
  # JAX's coordination service notices the missing heartbeats and aborts the
  # survivor (it never waits in a collective for a peer that is gone).
  assert code != 0
  assert time.time() - killed < 30
  assert "another task died" in _log(workdir, survivor)
