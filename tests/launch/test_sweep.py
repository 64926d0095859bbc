"""launch/sweep.py: sampling on each scale, the coarse-to-fine zoom, the spec and
its errors, the runner (with a fake train.py that needs no JAX), and one real
end-to-end sweep of three smoke trials, re-run to check that nothing re-trains."""
from __future__ import annotations

import csv
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))

from launch import _sweep_space as space  # noqa: E402  pylint: disable=wrong-import-position
from launch import sweep  # noqa: E402  pylint: disable=wrong-import-position
from launch._sweep_space import Param  # noqa: E402  pylint: disable=wrong-import-position
from tests.conftest import session_dir, subprocess_env  # noqa: E402  pylint: disable=wrong-import-position

LR = "--param=optimizer.learning_rate:log:1e-4:1"


def draw(p: Param, n: int = 4000, span=None) -> np.ndarray:
  ranges = {p.name: span} if span else space.full_ranges([p])
  return np.array([pt[p.name] for pt in space.sample([p], ranges, 0, 1, n)])


def test_log_scale_is_uniform_in_the_exponent():
  """Notes 004: r = -4 * rand, alpha = 10^r: each decade gets a quarter."""
  r = np.log10(draw(Param("lr", "log", 1e-4, 1.0)))
  assert r.min() >= -4 and r.max() <= 0
  qs = np.linspace(0.1, 0.9, 9)
  np.testing.assert_allclose(np.quantile(r, qs), -4 + 4 * qs, atol=0.1)
  np.testing.assert_allclose(np.histogram(r, bins=4, range=(-4, 0))[0] / len(r), 0.25,
                             atol=0.03)


def test_one_minus_log_samples_betas():
  """1 - beta = 10^r, r in [-3, -1]: beta in [0.9, 0.999], as many in 0.99..0.999
  as in 0.9..0.99."""
  beta = draw(Param("b1", "one_minus_log", 1e-3, 1e-1))
  assert beta.min() >= 0.9 and beta.max() <= 0.999
  r = np.log10(1 - beta)
  qs = np.linspace(0.1, 0.9, 9)
  np.testing.assert_allclose(np.quantile(r, qs), -3 + 2 * qs, atol=0.06)
  assert abs(np.mean(beta > 0.99) - 0.5) < 0.03
  # 4 significant digits of 1 - beta, written short: 0.99937, not 0.9993712345
  assert all(len(repr(float(b))) <= 8 for b in beta)


def test_other_kinds():
  u = draw(Param("x", "uniform", -1.0, 3.0))
  assert u.min() >= -1 and u.max() <= 3 and abs(u.mean() - 1) < 0.05
  n = Param("n", "int", 2, 5)
  ints = draw(n)
  assert set(ints) == {2, 3, 4, 5}
  assert type(space.sample([n], {"n": (2, 5)}, 0, 1, 1)[0]["n"]) is int
  np.testing.assert_allclose(np.bincount(ints)[2:] / len(ints), 0.25, atol=0.03)
  widths = draw(Param("w", "int_log", 16, 1024))
  assert widths.min() >= 16 and widths.max() <= 1024
  assert abs(np.median(widths) - 128) < 12   # the geometric middle, not 520
  picks = draw(Param("h", "choice", choices=("(64, 64)", "(128,)", "(32,)")), 3000)
  counts = {c: np.mean(picks == c) for c in ("(64, 64)", "(128,)", "(32,)")}
  assert all(abs(v - 1 / 3) < 0.03 for v in counts.values())


def test_sampling_is_deterministic():
  params = [Param("lr", "log", 1e-5, 1.0), Param("a", "choice", choices=("relu", "tanh"))]
  ranges = space.full_ranges(params)
  first = space.sample(params, ranges, 7, 1, 5)
  assert first == space.sample(params, ranges, 7, 1, 5)
  assert first[:3] == space.sample(params, ranges, 7, 1, 3)   # trial i is its own
  assert first != space.sample(params, ranges, 8, 1, 5)
  assert first != space.sample(params, ranges, 7, 2, 5)


def test_zoom_to_the_bounding_box_of_the_best():
  params = [Param("lr", "log", 1e-5, 1.0), Param("n", "int", 1, 10),
            Param("act", "choice", choices=("relu", "tanh"))]
  rows = [({"lr": 1e-3, "n": 2, "act": "relu"}, 0.9),
          ({"lr": 1e-2, "n": 5, "act": "tanh"}, 0.95),
          ({"lr": 1e-4, "n": 9, "act": "relu"}, 0.5),
          ({"lr": 0.5, "n": 1, "act": "relu"}, float("nan")),
          ({"lr": 0.9, "n": 1, "act": "relu"}, None)]
  best = space.top(rows, 2, "max")
  assert [b["lr"] for b in best] == [1e-2, 1e-3]
  ranges = space.zoom(params, best, pad=0)
  np.testing.assert_allclose(ranges["lr"], (-3, -2))
  assert ranges["n"] == (2, 5) and "act" not in ranges
  np.testing.assert_allclose(space.zoom(params, best, pad=0.5)["lr"], (-3.5, -1.5))
  assert space.zoom(params, best, pad=0.5)["n"] == (1, 7)   # 0.5 -> 1, clipped below
  # widened past the full range: clipped to it
  np.testing.assert_allclose(space.zoom(params, [{"lr": 1.0, "n": 3}, {"lr": 0.1, "n": 3}],
                                        pad=1)["lr"], (-2, 0))
  assert [b["lr"] for b in space.top(rows, 2, "min")] == [1e-4, 1e-3]
  assert space.zoom(params, [], pad=0) == space.full_ranges(params)
  lrs = draw(params[0], 500, span=ranges["lr"])
  assert lrs.min() >= 1e-3 and lrs.max() <= 1e-2


def test_param_forms():
  lr = space.parse_param("optimizer.learning_rate:log:1e-4:1")
  assert lr == Param("optimizer.learning_rate", "log", 1e-4, 1.0)
  assert space.param_from_spec("optimizer.learning_rate", ("log", 1e-4, 1)) == lr
  assert space.param_from_spec("optimizer.learning_rate", "log:1e-4:1") == lr
  assert space.param_from_spec("optimizer.learning_rate", lr.to_json()) == lr
  hidden = space.parse_param("model.hidden:choice:(64, 64),(128,)")
  assert hidden.choices == ("(64, 64)", "(128,)")


def test_spec_file_and_flags(tmp_path):
  path = tmp_path / "s.py"
  path.write_text("SPEC = dict(experiment='digits_mlp:smoke', trials=3, seed=4,\n"
                  "  params={'optimizer.learning_rate': ('log', 1e-4, 1)},\n"
                  "  overrides={'num_steps': 8})\n")
  args, rest = sweep.parse_args([f"--spec={path}", "--trials=5", "--config.batch_size=8",
                                 "--param=model.activation:choice:relu,tanh"])
  spec = sweep.make_spec(args, rest)
  assert (spec.trials, spec.seed, spec.rounds) == (5, 4, 1)
  assert [p.name for p in spec.params] == ["optimizer.learning_rate", "model.activation"]
  assert spec.overrides == ("num_steps=8", "batch_size=8")
  assert (spec.metric, spec.mode) == ("test/accuracy", "max")   # digits_mlp's REPORT
  args, rest = sweep.parse_args([f"--spec={path}", "--metric=test/loss"])
  assert sweep.make_spec(args, rest).mode == "min"


def test_demo_spec():
  args, rest = sweep.parse_args(["--spec=launch/sweeps/digits_mlp_lr.py"])
  spec = sweep.make_spec(args, rest)
  assert spec.experiment == "digits_mlp" and spec.trials * spec.rounds == 20
  assert spec.params == (Param("optimizer.learning_rate", "log", 1e-5, 1.0),)


E = "--experiment=digits_mlp:smoke"
BAD = [
    ([E, "--param=optimizer.learning_rate:loglog:1e-4:1"], "unknown kind 'loglog'"),
    ([E, "--param=optimizer.learning_rate:log:1:1e-4"], "lo must be below hi"),
    ([E, "--param=optimizer.learning_rate:uniform:2:2"], "lo must be below hi"),
    ([E, "--param=optimizer.learning_rate:log:0:1"], "a log range needs positive bounds"),
    ([E, "--param=optimizer.b1:one_minus_log:-1:0.1"], "needs positive bounds"),
    ([E, "--param=optimizer.b1:one_minus_log:0.1:2"], "hi must be <= 1"),
    ([E, "--param=optimizer.learning_rate:uniform:a:1"], "finite numbers, got 'a'"),
    ([E, "--param=optimizer.learning_rate:log:1e-4"], "must read NAME:KIND:LO:HI"),
    ([E, "--param=batch_size:int:1.5:4"], "needs integer bounds"),
    ([E, "--param=model.activation:choice:"], "needs at least one value"),
    ([E, LR, LR], "optimizer.learning_rate is given twice"),
    ([E], "nothing to search"),
    ([LR], "no experiment"),
    (["--experiment=nope", LR], "unknown experiment 'nope'"),
    ([E, "--param=optimizer.learning_rat:log:1e-4:1"],
     "unknown config key 'optimizer.learning_rat'"),
    ([E, LR, "--config.optimizer.learning_rate=0.1"], "both searched and fixed"),
    ([E, LR, "--mode=maximize"], "mode must be max or min"),
    ([E, LR, "--trials=0"], "trials must be an integer >= 1"),
    ([E, LR, "--trials=abc"], "invalid int value: 'abc'"),
    ([E, LR, "--pad=-1"], "pad must be a number >= 0"),
    ([E, LR, "--parallel=0"], "--parallel must be >= 1"),
    ([E, LR, "--bogus"], "unknown argument '--bogus'"),
    (["--spec=missing.py"], "spec file missing.py not found"),
    (["--spec={tmp}/nospec.py"], "defines no SPEC"),
    (["--spec={tmp}/bogus.py"], "unknown SPEC key(s) bogus"),
    (["--spec={tmp}/broken.py"], "failed: NameError"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_input(tmp_path, capsys, argv, message):
  (tmp_path / "nospec.py").write_text("X = 1\n")
  (tmp_path / "bogus.py").write_text("SPEC = dict(experiment='x', bogus=1)\n")
  (tmp_path / "broken.py").write_text("SPEC = dict(experiment=undefined)\n")
  argv = [a.format(tmp=tmp_path) for a in argv] + [f"--sweep_dir={tmp_path}/s"]
  assert sweep.main(argv) == 2
  out, err = capsys.readouterr()
  assert out == "" and err.count("\n") == 1 and err.startswith("sweep.py: error: ")
  assert message in err
  assert not (tmp_path / "s").exists()


FAKE_TRAIN = '''
import json, math, os, signal, sys, time
args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
workdir, lr = args["workdir"], float(args["config.optimizer.learning_rate"])
with open(os.environ["FAKE_CALLS"], "a") as f:
  f.write(json.dumps([workdir, os.environ.get("CUDA_VISIBLE_DEVICES")]) + "\\n")
if os.environ.get("FAKE_SLEEP"):
  signal.signal(signal.SIGTERM, lambda *_: (open(workdir + ".sigterm", "w"), sys.exit(143)))
  time.sleep(float(os.environ["FAKE_SLEEP"]))
if workdir.endswith(os.environ.get("FAKE_FAIL", "-")):
  if os.environ.get("FAKE_EXIT"):  # as train.py after saving on a SIGTERM of its own
    sys.exit(int(os.environ["FAKE_EXIT"]))
  sys.exit("Traceback ...\\nValueError: the real cause\\n  more context")
os.makedirs(workdir, exist_ok=True)
final = {"test/accuracy": 1 - abs(math.log10(lr) + 2) / 10, "test/loss": lr}
json.dump({"final": final, "wall_time_s": 0.1}, open(workdir + "/summary.json", "w"))
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
  """A train.py that records each call and writes a summary (no JAX)."""
  script = tmp_path / "fake_train.py"
  script.write_text(FAKE_TRAIN)
  monkeypatch.setattr(sweep, "TRAIN", script)
  monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
  monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")

  def calls() -> list:
    path = tmp_path / "calls"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
  return calls


def rows(sweep_dir: Path) -> list[dict]:
  return [json.loads(line) for line in (sweep_dir / "results.jsonl").read_text().splitlines()]


def test_sweep_rounds_failures_and_resume(tmp_path, fake, monkeypatch, capsys):
  monkeypatch.setenv("FAKE_FAIL", "round_1/trial_001")
  sweep_dir = tmp_path / "s"
  argv = [E, LR, "--trials=4", "--rounds=2", "--zoom_top=2", "--pad=0",
          f"--sweep_dir={sweep_dir}", "--config.num_steps=3"]
  assert sweep.main(argv) == 0
  out = capsys.readouterr().out
  assert len(fake()) == 8 and {gpu for _, gpu in fake()} == {"3", "5"}  # one per GPU
  results = rows(sweep_dir)
  assert [(r["round"], r["trial"]) for r in results] == [(r, t) for r in (1, 2)
                                                         for t in range(4)]
  failed = [r for r in results if r["status"] == "failed"]
  assert [(r["round"], r["trial"], r["metric"]) for r in failed] == [(1, 1, None)]
  assert failed[0]["error"] == "ValueError: the real cause"
  # round 2 samples the log box of round 1's two best
  ok1 = sorted((r for r in results if r["round"] == 1 and r["status"] == "ok"),
               key=lambda r: -r["metric"])[:2]
  lo, hi = sorted(r["params"]["optimizer.learning_rate"] for r in ok1)
  assert all(lo <= r["params"]["optimizer.learning_rate"] <= hi for r in results[4:])
  with open(sweep_dir / "results.csv") as f:
    table = list(csv.DictReader(f))
  assert len(table) == 8 and table[1]["status"] == "failed"
  assert (sweep_dir / "plots" / "optimizer.learning_rate.png").stat().st_size > 1000
  top = max((r for r in results if r["metric"] is not None), key=lambda r: r["metric"])
  assert f"best: round {top['round']} trial {top['trial']:03d}" in out
  assert out.splitlines()[-2] == shlex.join([
      "python", "train.py", f"--experiment={E.split('=')[1]}", "--config.num_steps=3",
      f"--config.optimizer.learning_rate={top['params']['optimizer.learning_rate']!r}"])
  # the same command again: nothing runs, the same results
  assert sweep.main(argv) == 0
  out = capsys.readouterr().out
  assert len(fake()) == 8 and "started" not in out
  assert out.count("already finished, skipped") == 7 and "already failed, skipped" in out
  assert rows(sweep_dir) == results
  # one more round continues the sweep; --retry_failed re-runs the failed trial
  monkeypatch.setenv("FAKE_FAIL", "-")
  assert sweep.main(argv + ["--rounds=3", "--retry_failed"]) == 0
  assert len(fake()) == 8 + 1 + 4 and all(r["status"] == "ok" for r in rows(sweep_dir))


def test_a_trial_stopped_by_a_signal_is_resumed(tmp_path, fake, monkeypatch):
  monkeypatch.setenv("FAKE_FAIL", "round_1/trial_000")
  monkeypatch.setenv("FAKE_EXIT", "143")
  argv = [E, LR, "--trials=2", f"--sweep_dir={tmp_path}/s"]
  assert sweep.main(argv) == 0
  assert rows(tmp_path / "s")[0]["status"] == "interrupted"
  monkeypatch.delenv("FAKE_FAIL")
  assert sweep.main(argv) == 0
  names = [Path(w).name for w, _ in fake()]
  assert sorted(names[:2]) == ["trial_000", "trial_001"] and names[2:] == ["trial_000"]
  assert [r["status"] for r in rows(tmp_path / "s")] == ["ok", "ok"]


def test_another_spec_in_the_sweep_dir_is_refused(tmp_path, fake, capsys):
  argv = [E, LR, "--trials=2", f"--sweep_dir={tmp_path}/s"]
  assert sweep.main(argv) == 0
  assert sweep.main(argv + ["--seed=1"]) == 2
  err = capsys.readouterr().err
  assert f"{tmp_path}/s holds a different sweep (its sweep.json differs in seed)" in err


def test_unknown_metric_names_the_metrics(tmp_path, fake, capsys):
  assert sweep.main([E, LR, "--trials=1", "--metric=dev/accuracy",
                     f"--sweep_dir={tmp_path}/s"]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "metric 'dev/accuracy' is not in " in err
  assert err.endswith("it has: test/accuracy, test/loss\n")


def test_sigterm_stops_trials_with_one_sigterm(tmp_path, fake, monkeypatch, capsys):
  monkeypatch.setenv("FAKE_SLEEP", "60")
  threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
  start = time.time()
  assert sweep.main([E, LR, "--trials=3", f"--sweep_dir={tmp_path}/s"]) == 143
  assert time.time() - start < 20
  assert "re-run the same command to resume" in capsys.readouterr().err
  trial_dir = tmp_path / "s" / "round_1"
  assert sorted(p.name for p in trial_dir.glob("*.sigterm")) == [
      "trial_000.sigterm", "trial_001.sigterm"]
  assert not list(trial_dir.glob("trial_*.json"))   # not recorded: resumed next time


def test_dry_run_prints_commands_and_writes_nothing(tmp_path, capsys, monkeypatch):
  monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
  sweep_dir = tmp_path / "s"
  assert sweep.main([E, LR, "--trials=3", "--parallel=3", "--dry_run",
                     f"--sweep_dir={sweep_dir}", "--config.eval_splits=('test',)"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == "# round 1: 3 trials over optimizer.learning_rate in [0.0001, 1]"
  assert lines[1] == f"cd {REPO}" and len(lines) == 5
  for i, line in enumerate(lines[2:]):
    words = shlex.split(line)
    assert words[:2] == [f"CUDA_VISIBLE_DEVICES={'353'[i]}", "XLA_PYTHON_CLIENT_PREALLOCATE=false"]
    assert words[3:7] == [str(REPO / "train.py"), E, f"--workdir={sweep_dir}/round_1/trial_00{i}",
                          "--config.eval_splits=('test',)"]
    lr = float(words[7].removeprefix("--config.optimizer.learning_rate="))
    assert 1e-4 <= lr <= 1 and words[-3:] == [">", f"{sweep_dir}/round_1/trial_00{i}.log", "2>&1"]
  assert not sweep_dir.exists()


def test_slots_follow_the_gpus(tmp_path, monkeypatch):
  monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
  assert sweep.slot_envs(None) == [{}] and sweep.slot_envs(2) == [{}, {}]
  monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
  assert sweep.slot_envs(None) == [{}]
  monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
  fake_bin = tmp_path / "bin"
  fake_bin.mkdir()
  (fake_bin / "nvidia-smi").write_text("#!/bin/sh\nprintf 'GPU 0: H100\\nGPU 1: H100\\n'\n")
  (fake_bin / "nvidia-smi").chmod(0o755)
  monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
  assert sweep.slot_envs(None) == [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
  assert sweep.slot_envs(1) == [{"CUDA_VISIBLE_DEVICES": "0"}]


@pytest.mark.slow
def test_end_to_end(tmp_path, tmp_path_factory):
  """Two real smoke trials, at the same time; then the same command trains nothing."""
  # A folder of its own. Under -p no:cacheprovider the suite's cache is
  # session/jax_cache, size-capped (tests/conftest.py); tests/launch skip the
  # fixture that sets the cap, so trials started before it ran wrote entries
  # without access-time files, on which JAX's eviction scan then failed: every
  # later cache write of the session was lost.
  cache = session_dir(tmp_path_factory) / "sweep_jax_cache"
  env = subprocess_env(JAX_COMPILATION_CACHE_DIR=str(cache),
                       JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.2")
  sweep_dir = tmp_path / "sweep"
  command = [sys.executable, "launch/sweep.py", "--experiment=digits_mlp:smoke",
             "--param=optimizer.learning_rate:log:1e-3:1e-1", "--trials=2", "--parallel",
             "2", f"--sweep_dir={sweep_dir}"]

  def run() -> str:
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout

  out = run()
  with open(sweep_dir / "results.csv") as f:
    table = list(csv.DictReader(f))
  assert [(r["round"], r["trial"], r["status"]) for r in table] == [
      ("1", str(i), "ok") for i in range(2)]
  for r in table:
    lr = float(r["optimizer.learning_rate"])
    config = json.loads((Path(r["workdir"]) / "config.json").read_text())
    assert 1e-3 <= lr <= 1e-1 and config["optimizer"]["learning_rate"] == lr
    assert 0 <= float(r["test/accuracy"]) <= 1 and float(r["wall_s"]) > 0
  assert (sweep_dir / "plots" / "optimizer.learning_rate.png").stat().st_size > 1000
  best = max(table, key=lambda r: float(r["test/accuracy"]))
  lr = best["optimizer.learning_rate"]
  assert out.splitlines()[-2] == ("python train.py --experiment=digits_mlp:smoke "
                                  f"--config.optimizer.learning_rate={lr}")
  before = (sweep_dir / "results.csv").read_text()
  out = run()
  assert out.count("already finished, skipped") == 2 and "started" not in out
  assert (sweep_dir / "results.csv").read_text() == before
  assert math.isfinite(float(best["test/accuracy"]))
