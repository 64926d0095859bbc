"""Fault injection on real runs: signals, a second process, damaged and non-finite
checkpoints, a full disk, a diverging update. Nothing is lost, no bad state is
ever saved, and every failure ends in one clear message.

The long randomized SIGKILL trials are marked `fault_trials` and run by
`launch/fault_trials.sh` (deselected from the suite for time).
"""
from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

import experiments
from nn_lib.training import NonFiniteLossError, WorkdirError, train_and_evaluate
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import (Checkpointer, CheckpointWriteError,
                                        read_latest, verify)
from tests.conftest import REPO, run_train, session_dir, subprocess_env
from tests.training.test_resume import assert_trees_equal

# Long enough that a signal lands mid-run (so they run with optimized XLA code);
# checkpoints only at the end, so a checkpoint at any other step can only come from
# the stop request.
RUN = ["--experiment=digits_mlp", "--config.num_steps=1500", "--config.log_every=10",
       "--config.eval_every=1500", "--config.checkpoint_every=1500"]


def _start(workdir, args=RUN) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, str(REPO / "train.py"), *args,
                           f"--workdir={workdir}"], cwd=REPO,
                          env=subprocess_env(optimized=True),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_step(proc: subprocess.Popen, workdir, step: int, timeout: float = 240):
  metrics, deadline = workdir / "metrics.jsonl", time.time() + timeout
  while time.time() < deadline and proc.poll() is None:
    rows = metrics.read_text().split("\n")[:-1] if metrics.exists() else []
    if any(json.loads(l)["step"] >= step for l in rows[-5:]):
      return
    time.sleep(0.02)
  raise AssertionError(f"the run ended or stalled before step {step}")


def _once(tmp_path_factory, name: str, make) -> Path:
  """Runs `make(workdir)` once per test session, in a workdir every xdist worker
  shares: the first worker to get here runs it, the others wait for it."""
  workdir = session_dir(tmp_path_factory) / name
  workdir.mkdir(exist_ok=True)
  with open(workdir.parent / f"{name}.lock", "w", encoding="utf-8") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not (workdir.parent / f"{name}.done").exists():
      make(workdir)
      (workdir.parent / f"{name}.done").write_text("")
  return workdir


@pytest.fixture(scope="session")
def straight(tmp_path_factory):
  """The uninterrupted run every interrupted one must end identical to."""
  return read_latest(_once(tmp_path_factory, "faults_straight", lambda workdir: run_train(
      *RUN, f"--workdir={workdir}", optimized=True)))


def _stop(workdir: Path, sig: signal.Signals, after_step: int) -> dict:
  """Starts (or resumes) RUN and sends it `sig` once it has logged `after_step`."""
  proc = _start(workdir)
  _wait_for_step(proc, workdir, after_step)
  proc.send_signal(sig)
  _, stderr = proc.communicate(timeout=60)
  return {"after_step": after_step, "returncode": proc.returncode, "stderr": stderr,
          "stopped_at": read_latest(workdir)[0]}


@pytest.fixture(scope="session")
def signalled(tmp_path_factory) -> dict:
  """One run stopped twice: by SIGINT after step 300; resumed, by SIGTERM 100 steps
  later; then resumed to its end. For each signal: what the stopped process left,
  and the stderr of the process that resumed after it (one process serves both)."""
  def make(workdir):
    first = _stop(workdir, signal.SIGINT, 300)
    second = _stop(workdir, signal.SIGTERM, first["stopped_at"] + 100)
    last = run_train(*RUN, f"--workdir={workdir}", optimized=True)
    (workdir.parent / "faults_signalled.json").write_text(json.dumps({
        "SIGINT": {**first, "resumed_stderr": second["stderr"]},
        "SIGTERM": {**second, "resumed_stderr": last.stderr}}))
  workdir = _once(tmp_path_factory, "faults_signalled", make)
  return {**json.loads((workdir.parent / "faults_signalled.json").read_text()),
          "workdir": workdir}


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_the_current_step_and_resume_is_bit_identical(signalled, straight, sig):
  name = signal.Signals(sig).name
  run, workdir = signalled[name], signalled["workdir"]
  stderr, stopped_at = run["stderr"], run["stopped_at"]
  assert run["returncode"] == 128 + sig, stderr[-2000:]
  assert run["after_step"] <= stopped_at < 1500
  assert (f"stopped by {name} after step {stopped_at}; its checkpoint is saved in "
          f"{workdir}/checkpoints/{stopped_at}. Re-run the same command to resume."
          in stderr)
  assert "Traceback" not in stderr
  assert f"resumed from checkpoint at step {stopped_at}" in run["resumed_stderr"]
  # the run, stopped by both signals, ends where the uninterrupted one does
  step, state = read_latest(workdir)
  assert step == straight[0] == 1500
  assert_trees_equal(state, straight[1])


@pytest.mark.slow
@pytest.mark.parametrize("trial", [0] + [
    pytest.param(t, marks=pytest.mark.fault_trials) for t in range(1, 10)])
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(tmp_path, straight, trial):
  # trial 0 runs in the suite; the other nine with launch/fault_trials.sh
  kill_at = random.Random(trial).randrange(50, 1300)
  args = RUN[:-1] + ["--config.checkpoint_every=100", "--config.keep_checkpoints=2"]
  proc = _start(tmp_path, args)
  _wait_for_step(proc, tmp_path, kill_at)
  proc.kill()
  proc.communicate()
  assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
  killed_at = read_latest(tmp_path)[0]
  assert killed_at < 1500

  run_train(*args, f"--workdir={tmp_path}", optimized=True)
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["resumed_from_step"] == killed_at
  step, state = read_latest(tmp_path)
  assert step == 1500
  assert_trees_equal(state, straight[1])
  rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  train_steps = [r["step"] for r in rows if r["split"] == "train" and r["name"] == "loss"]
  assert train_steps == sorted(set(train_steps)), "the resumed run duplicated log rows"


def test_a_second_run_on_a_workdir_is_refused_until_the_first_dies(tmp_path):
  # the holder is another process, killed with SIGKILL: the OS releases its lock
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; "
       "from nn_lib.training.workdir import exclusive\n"
       f"with exclusive({str(tmp_path)!r}):\n print('locked', flush=True); time.sleep(120)"],
      cwd=REPO, env=subprocess_env(), stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    proc = run_train("--experiment=digits_mlp:smoke", f"--workdir={tmp_path}",
                     check=False)
    assert proc.returncode == 1
    assert (f"error: workdir {tmp_path} is in use by pid {holder.pid} on "
            in proc.stderr), proc.stderr[-2000:]
    assert "Wait for that run to end (or stop it), or choose another --workdir." in proc.stderr
    assert not (tmp_path / "checkpoints").exists()
  finally:
    holder.kill()
    holder.wait()
  with workdir_lib.exclusive(tmp_path):
    pass


def test_the_lock_is_held_for_the_run_and_released_after(tmp_path):
  cfg = experiments.get_config("linreg_seed")
  cfg.num_steps = 2
  with workdir_lib.exclusive(tmp_path):      # a study holding it, then its trainer
    train_and_evaluate(cfg, tmp_path)
  # released: another open file description may take it now
  import fcntl  # pylint: disable=g-import-not-at-top
  with open(tmp_path / ".lock", encoding="utf-8") as f:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_diverging_update_is_never_checkpointed(tmp_path):
  # the loss of step 1 is finite (computed before the update); the update at a
  # learning rate of 1e38 overflows the parameters
  cfg = experiments.get_config("linreg_seed")
  cfg.optimizer.learning_rate, cfg.checkpoint_every, cfg.num_steps = 1e38, 1, 5
  with pytest.raises(NonFiniteLossError, match="the parameters or optimizer state "
                     "became NaN/Inf in the update of step 1 .*stopping without saving"):
    train_and_evaluate(cfg, tmp_path)
  assert not list((tmp_path / "checkpoints").glob("[0-9]*"))
  # the workdir is not stuck: a lower learning rate starts over in it
  cfg.optimizer.learning_rate = 0.01
  assert train_and_evaluate(cfg, tmp_path).start_step == 0


def _smoke(workdir, num_steps=6):
  cfg = experiments.get_config("digits_mlp:smoke")
  cfg.num_steps, cfg.checkpoint_every = num_steps, 3
  return cfg, train_and_evaluate(cfg, workdir)


def test_same_size_corruption_is_detected_and_falls_back(tmp_path):
  cfg, _ = _smoke(tmp_path)
  _, good = read_latest(tmp_path)
  data = max((p for p in (tmp_path / "checkpoints" / "6").rglob("*") if p.is_file()),
             key=lambda p: p.stat().st_size)
  raw = bytearray(data.read_bytes())
  raw[len(raw) // 2:len(raw) // 2 + 1000] = b"\xff" * 1000
  data.write_bytes(bytes(raw))
  assert len(raw) == data.stat().st_size

  resumed = train_and_evaluate(cfg, tmp_path)
  assert resumed.start_step == 3
  kept = list((tmp_path / "checkpoints_damaged").glob("6-*"))
  assert len(kept) == 1 and (kept[0] / data.relative_to(tmp_path / "checkpoints" / "6")).exists()
  assert_trees_equal(read_latest(tmp_path)[1], good)


def test_a_non_finite_checkpoint_is_set_aside(tmp_path):
  cfg, _ = _smoke(tmp_path)
  step, state = read_latest(tmp_path)
  poisoned = jax.tree.map(lambda x: x * jnp.nan if jnp.issubdtype(x.dtype, jnp.floating)
                          else x, state)
  # written as a valid checkpoint, with its own correct checksum
  checksum = verify(poisoned)[1]
  with ocp.CheckpointManager(tmp_path / "checkpoints") as manager:
    manager.save(9, args=ocp.args.StandardSave(poisoned),
                 custom_metadata={"nn_lib_state_checksum": checksum})
  cfg.num_steps = 9
  resumed = train_and_evaluate(cfg, tmp_path)
  assert resumed.start_step == step == 6
  assert list((tmp_path / "checkpoints_damaged").glob("9-*"))
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(read_latest(tmp_path)[1]))


def test_only_the_callbacks_of_a_closed_write_loop_are_silenced(tmp_path, monkeypatch):
  # tensorstore completing the writes of a failed save (test below) reaches Python
  # as these unraisable errors, printed from other threads into train.py's message
  seen = []
  monkeypatch.setattr(sys, "unraisablehook", seen.append)
  Checkpointer(tmp_path, keep=1).close()
  for message in ("Event loop is closed", "something else"):
    sys.unraisablehook(types.SimpleNamespace(exc_value=RuntimeError(message)))
  sys.unraisablehook(types.SimpleNamespace(exc_value=ValueError("Event loop is closed")))
  assert [(type(u.exc_value), str(u.exc_value)) for u in seen] == [
      (RuntimeError, "something else"), (ValueError, "Event loop is closed")]


def test_orbax_errors_lose_their_tracebacks_below_debug_verbosity(tmp_path, monkeypatch):
  # A failed write makes orbax log four errors with ~330 lines of tracebacks before
  # train.py's own one-line error; the one-line messages stay.
  import logging  # pylint: disable=g-import-not-at-top
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(absl_logging.get_absl_logger(), "filters", [])
  Checkpointer(tmp_path, keep=1).close()
  try:
    raise ValueError("OUT_OF_RANGE: Error writing")
  except ValueError:
    exc_info = sys.exc_info()

  def filtered(pathname: str, level: int = logging.ERROR):
    record = absl_logging.get_absl_logger().makeRecord(
        "absl", level, pathname, 1, "save failed", (), exc_info)
    assert absl_logging.get_absl_logger().filter(record)
    return record.exc_info

  orbax_file = "/site-packages/orbax/checkpoint/_src/futures/future.py"
  assert filtered(orbax_file) is None
  assert filtered("/site-packages/jax/_src/compiler.py") == exc_info
  assert filtered(orbax_file, logging.WARNING) == exc_info
  monkeypatch.setattr(absl_logging, "get_verbosity", lambda: absl_logging.DEBUG)
  assert filtered(orbax_file) == exc_info


def test_a_full_disk_is_a_clear_error_and_keeps_earlier_checkpoints(tmp_path):
  # Only the run on the full disk needs its own process (the file-size limit
  # applies to a whole process); the runs before and after it run in this one.
  _smoke(tmp_path, num_steps=3)
  args = ["--experiment=digits_mlp:smoke", "--config.num_steps=6",
          "--config.checkpoint_every=3", f"--workdir={tmp_path}"]

  # files may not grow past 100 kB: checkpoint writes fail as on a full disk
  limited = f"trap '' XFSZ; ulimit -f 100; exec {sys.executable} {REPO / 'train.py'} "
  proc = subprocess.run(["bash", "-c", limited + " ".join(args)], cwd=REPO,
                        env=subprocess_env(), capture_output=True, text=True, timeout=300)
  assert proc.returncode == 1
  # train.py's own last word (orbax's threads may still print at interpreter exit)
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
  assert errors, proc.stderr[-3000:]
  last = errors[-1]
  assert last.startswith("error: could not write the checkpoint of step 6 to "), last
  assert "File too large" in last and "The earlier checkpoints [3] are intact." in last
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  assert read_latest(tmp_path)[0] == 3

  _, resumed = _smoke(tmp_path, num_steps=6)
  assert resumed.start_step == 3
  assert read_latest(tmp_path)[0] == 6


def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch):
  import shutil  # pylint: disable=g-import-not-at-top
  checkpointer = Checkpointer(tmp_path, keep=2)
  state = {"w": jnp.ones((1000,))}
  checkpointer.save(1, state)
  checkpointer.wait()
  monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(1, 1, 10))
  with pytest.raises(CheckpointWriteError, match=r"step 2 .*No space left on device: "
                     r"10 bytes free.*The earlier checkpoints \[1\] are intact"):
    checkpointer.save(2, state)
  checkpointer.close()


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("x"), "exists and is a file, not a directory"),
    (lambda p: (p.parent / "file").write_text("x"), "a part of its path is a file"),
])
def test_unusable_workdirs_are_clear_errors(tmp_path, make, message):
  workdir = tmp_path / "w"
  make(workdir)
  target = workdir if workdir.exists() else tmp_path / "file" / "w"
  with pytest.raises(WorkdirError, match=message):
    workdir_lib.make_workdir(target)


def test_a_read_only_workdir_is_a_clear_error(tmp_path):
  if os.geteuid() == 0:   # root writes through permissions: use a read-only fs
    target, message = "/sys/nn_lib_workdir", r"cannot be created \(Operation not permitted\)"
  else:
    tmp_path.chmod(0o500)
    target, message = tmp_path, "is not writable"
  try:
    with pytest.raises(WorkdirError, match=message + ".*choose another --workdir"):
      workdir_lib.make_workdir(target)
  finally:
    tmp_path.chmod(0o700)
