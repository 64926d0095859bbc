"""Several processes as one run, for real: 2 processes x 2 CPU devices each over
loopback (gloo collectives) train what 1 process with 4 devices trains."""
from __future__ import annotations

import fcntl
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
from tests.conftest import REPO, run_train, session_dir, subprocess_env

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


def _kill_one_after_the_first_checkpoint(workdir: Path, dies: int, *args: str) -> dict:
  """Launches a run of two processes (heartbeat timeout 3 s), kills process `dies`
  with SIGKILL once a checkpoint is saved, and waits for the other one to exit: its
  exit code, the seconds it took, its log and the checkpoints left."""
  procs = _launch(workdir, *args, heartbeat_timeout=3)
  deadline = time.time() + 240
  while not _saved_steps(workdir) and time.time() < deadline:
    if any(p.poll() is not None for p in procs):
      break
    time.sleep(0.05)
  saved = bool(_saved_steps(workdir))
  procs[dies].kill()
  killed = time.time()
  survivor = 1 - dies
  try:
    code = procs[survivor].wait(timeout=120)
  except subprocess.TimeoutExpired:
    code = None
  finally:
    seconds = time.time() - killed
    for p in procs:
      p.kill()
      p.wait()
  return {"saved": saved, "code": code, "seconds": seconds,
          "log": _log(workdir, survivor), "log_0": _log(workdir, 0),
          "steps": _saved_steps(workdir)}


@pytest.fixture(scope="session")
def worker_killed(tmp_path_factory) -> dict:
  """RUN in two processes, the worker (process 1) killed with SIGKILL mid-run: the
  coordinator must exit with an error (test_a_dead_process...), and the kill -9 test
  resumes the run from the checkpoints left. Run once per test session: the first
  xdist worker to get here runs it, the others wait for its result."""
  shared = session_dir(tmp_path_factory) / "multiprocess_worker_killed"
  shared.mkdir(exist_ok=True)
  with open(shared / ".lock", "w", encoding="utf-8") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    result = shared / "result.json"
    if not result.exists():
      result.write_text(json.dumps(_kill_one_after_the_first_checkpoint(shared / "two", 1)))
  return {**json.loads(result.read_text()), "workdir": str(shared / "two")}


@pytest.mark.slow
def test_two_processes_match_one_process_and_resume_after_kill_9(tmp_path, worker_killed):
  run_train(*RUN, f"--workdir={tmp_path / 'one'}", devices=4)

  # The worker was killed with kill -9 mid-run and the coordinator then aborted
  # (worker_killed): the run resumes from the checkpoints they left.
  workdir = Path(worker_killed["workdir"])
  killed_at = worker_killed["steps"]
  assert killed_at and killed_at[-1] < 30, (killed_at, worker_killed["log_0"][-3000:])
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
def test_a_dead_process_makes_the_other_exit_with_an_error(tmp_path, dies, request):
  if dies == 1:   # the run the kill -9 test resumes
    run = request.getfixturevalue("worker_killed")
  else:
    run = _kill_one_after_the_first_checkpoint(
        tmp_path / "run", dies, "--config.num_steps=100000", "--config.checkpoint_every=5")
  assert run["saved"], run["log_0"][-3000:]
  # JAX's coordination service notices the missing heartbeats and aborts the
  # survivor (it never waits in a collective for a peer that is gone).
  assert run["code"] is not None and run["code"] != 0
  assert run["seconds"] < 30
  assert "another task died" in run["log"]
