"""Random hyperparameter search, coarse to fine, each trial a train.py run.

  python launch/sweep.py --spec=launch/sweeps/digits_mlp_lr.py --parallel 2
  python launch/sweep.py --experiment=digits_mlp --param=optimizer.learning_rate:log:1e-4:1 \\
      --param=optimizer.b1:one_minus_log:1e-3:1e-1 --metric=test/accuracy --trials=12 \\
      --rounds=2 --config.num_steps=500
  python launch/sweep.py --spec=... --dry_run      # the first round's commands, run nothing

Notes 004: try random values, not a grid; sample each parameter on its scale (a
learning rate as 10^r, a beta as 1 - 10^r); then zoom in. Round 1 samples --trials
points over the full ranges; each later round narrows every numeric range (in its
sampling space) to the bounding box of the --zoom_top best trials so far, widened by
--pad times its width on each side, and samples again. Kinds: log, one_minus_log,
uniform, int, int_log, choice (launch/_sweep_space.py); the spec file format is in
launch/_sweep_spec.py. --config.KEY=VALUE flags are fixed for every trial.

Trial T of round R is `train.py --workdir=SWEEP_DIR/round_R/trial_TTT` (its log:
round_R/trial_TTT.log), --parallel at a time (default: one per GPU that
CUDA_VISIBLE_DEVICES or nvidia-smi shows, each pinned to its GPU; else 1). A failed
trial is recorded with its log's last error line; the sweep goes on. Re-running the
same command skips finished trials (and failed ones, unless --retry_failed), and
resumes interrupted ones from their checkpoints; more --rounds continue a sweep.
Ctrl-C or SIGTERM sends each running trial one SIGTERM (it saves a checkpoint).
The sweep writes SWEEP_DIR/sweep.json, results.csv, results.jsonl and
plots/<param>.png, and prints the best trial as a train.py command line.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for `experiments` (no JAX) and launch._sweep_*

# pylint: disable=wrong-import-position
from launch import _sweep_report as report  # noqa: E402
from launch import _sweep_space as space  # noqa: E402
from launch import _sweep_spec as spec_lib  # noqa: E402
from launch._sweep_report import Trial  # noqa: E402
from launch._sweep_slots import slot_envs  # noqa: E402
from launch._sweep_space import SweepError  # noqa: E402

TRAIN = REPO / "train.py"
ME = "sweep.py"
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)  # exit status 128 + these


class Stop(Exception):
  """SIGTERM reached the sweep."""


class _Parser(argparse.ArgumentParser):
  def error(self, message: str):
    raise SweepError(message)


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
  p = _Parser(
    prog=ME,
    description=__doc__.splitlines()[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
    epilog="\n".join(__doc__.splitlines()[1:]),
  )
  p.add_argument("--spec", help="a Python file defining SPEC = dict(...)")
  p.add_argument("--experiment", help="NAME[:VARIANT,...] (overrides the spec's)")
  p.add_argument(
    "--param",
    action="append",
    default=[],
    help="NAME:KIND:LO:HI or NAME:choice:A,B,...; repeat for each",
  )
  p.add_argument(
    "--metric",
    help="key of summary.json's final, e.g. test/accuracy "
    "(default: the experiment's REPORT metric)",
  )
  p.add_argument("--mode", help="max or min (default: min for losses and errors)")
  p.add_argument("--trials", type=int, help="trials per round (default 10)")
  p.add_argument("--rounds", type=int, help="coarse-to-fine rounds (default 1)")
  p.add_argument(
    "--zoom_top", type=int, help="best trials whose box the next round samples (default 3)"
  )
  p.add_argument(
    "--pad", type=float, help="the box widened by pad x its width per side (default 0.25)"
  )
  p.add_argument("--seed", type=int, help="sweep seed (default 0)")
  p.add_argument("--sweep_dir", help="default runs/sweeps/<spec file or experiment>")
  p.add_argument("--parallel", type=int, help="trials at once (default: one per GPU, or 1)")
  p.add_argument("--retry_failed", action="store_true", help="re-run failed trials")
  p.add_argument("--dry_run", action="store_true", help="print the first round's commands and exit")
  args, rest = p.parse_known_args(argv)
  bad = [a for a in rest if not a.startswith("--config.")]
  if bad:
    raise SweepError(f"unknown argument {bad[0]!r} (see --help)")
  if args.parallel is not None and args.parallel < 1:
    raise SweepError(f"--parallel must be >= 1, got {args.parallel}")
  return args, rest


def make_spec(args: argparse.Namespace, config_flags: list[str]) -> spec_lib.Spec:
  base = spec_lib.load_file(args.spec) if args.spec else {}
  flags = {k: getattr(args, k) for k in spec_lib.KEYS if k not in ("params", "overrides")}
  return spec_lib.build(base, flags, args.param, config_flags)


def trial_argv(spec: spec_lib.Spec, trial: Trial) -> list[str]:
  return [
    sys.executable,
    str(TRAIN),
    f"--experiment={spec.experiment}",
    f"--workdir={trial.workdir}",
    *(f"--config.{o}" for o in spec.overrides),
    *(f"--config.{k}={space.format_value(v)}" for k, v in trial.params.items()),
  ]


def log_path(trial: Trial) -> Path:
  return trial.workdir.with_suffix(".log")


def record_path(trial: Trial) -> Path:
  return trial.workdir.with_suffix(".json")


def plan_round(
  sweep_dir: Path, spec: spec_lib.Spec, r: int, earlier: list[Trial], write: bool = True
) -> tuple[list[Trial], str]:
  """Round r's trials, and a line saying where they were sampled: from the full
  ranges (r = 1) or zoomed to the best earlier trials. They are kept in
  round_R/round.json, so that a resumed sweep runs the same points whatever its
  retried trials give."""
  round_dir = sweep_dir / f"round_{r}"
  saved = round_dir / "round.json"
  if saved.exists():
    plan = json.loads(saved.read_text())
  else:
    best = (
      space.top(
        [(t.params, t.metric) for t in earlier if t.status == "ok"], spec.zoom_top, spec.mode
      )
      if r > 1
      else []
    )
    ranges = space.zoom(spec.params, best, spec.pad)
    plan = {
      "ranges": ranges,
      "trials": space.sample(spec.params, ranges, spec.seed, r, spec.trials),
      "shown": {p.name: space.describe_range(p, ranges[p.name]) for p in spec.params if p.numeric},
      "zoomed_to": best,
    }
    if write:
      round_dir.mkdir(parents=True, exist_ok=True)
      saved.write_text(json.dumps(plan, indent=2))
  where = ", ".join(f"{k} in {v}" for k, v in plan["shown"].items()) or "the choices"
  note = " (no earlier trial finished: full ranges)" if r > 1 and not plan["zoomed_to"] else ""
  trials = [Trial(r, i, p, round_dir / f"trial_{i:03d}") for i, p in enumerate(plan["trials"])]
  return trials, f"round {r}: {len(trials)} trials over {where}{note}"


def restore(trial: Trial, spec: spec_lib.Spec, retry_failed: bool) -> None:
  """Fills a trial from its workdir: finished (summary.json), failed (its record)
  or still to run (pending: never started, or interrupted: train.py resumes it)."""
  record = json.loads(record_path(trial).read_text()) if record_path(trial).exists() else {}
  trial.wall_s = record.get("wall_s")
  summary = trial.workdir / "summary.json"
  if summary.exists():
    read_summary(trial, spec.metric, summary)
    trial.wall_s = trial.wall_s or json.loads(summary.read_text()).get("wall_time_s")
  elif record.get("status") == "failed" and not retry_failed:
    trial.status, trial.error = "failed", record.get("error")


def read_summary(trial: Trial, metric: str, path: Path) -> None:
  final = json.loads(path.read_text()).get("final", {})
  if metric not in final:
    raise SweepError(
      f"metric {metric!r} is not in {path}; it has: {', '.join(sorted(final)) or 'nothing'}"
    )
  trial.final, trial.metric = final, float(final[metric])
  trial.status, trial.error = "ok", None
  if not math.isfinite(trial.metric):
    trial.status, trial.error = "failed", f"{metric} is {trial.metric}"


def last_error(log: Path, returncode: int) -> str:
  lines = [
    line.strip()
    for line in log.read_text(errors="replace").splitlines()
    if line.strip() and not line.startswith("# ")
  ]  # not the command lines we wrote
  errors = [line for line in lines if "error" in line.lower()]
  return (errors or lines or [f"exit status {returncode}"])[-1][:300]


def _die_with_parent() -> None:
  """In a trial: SIGTERM when the sweep dies, even by SIGKILL (Linux), so that no
  trial outlives it holding its workdir."""
  try:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    pass


class Runner:
  """Runs trials as train.py processes, len(slots) at a time."""

  def __init__(
    self, spec: spec_lib.Spec, slots: list[dict[str, str]], on_done: Callable[[Trial], None]
  ):
    self.spec, self.slots, self.on_done = spec, slots, on_done
    self.running: dict[int, tuple[subprocess.Popen, Trial, float]] = {}

  def run(self, trials: list[Trial]) -> None:
    pending = list(trials)
    try:
      while pending or self.running:
        for slot in range(len(self.slots)):
          if pending and slot not in self.running:
            self._start(slot, pending.pop(0))
        for slot, (proc, trial, t0) in list(self.running.items()):
          if proc.poll() is not None:
            del self.running[slot]
            self._finish(proc, trial, t0)
        time.sleep(0.05)
    except BaseException:
      self.stop()
      raise

  def _start(self, slot: int, trial: Trial) -> None:
    trial.workdir.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **self.slots[slot]}
    with open(log_path(trial), "a", encoding="utf-8") as log:
      log.write(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')}: "
        f"{report.shell_join(trial_argv(self.spec, trial))}\n"
      )
      log.flush()
      proc = subprocess.Popen(  # pylint: disable=consider-using-with
        trial_argv(self.spec, trial),
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
      )
    gpu = self.slots[slot].get("CUDA_VISIBLE_DEVICES")
    print(
      f"{trial.name}: started" + (f" on GPU {gpu}" if gpu else "") + f", log {log_path(trial)}",
      flush=True,
    )
    self.running[slot] = (proc, trial, time.time())

  def _finish(self, proc: subprocess.Popen, trial: Trial, t0: float) -> None:
    trial.wall_s = (trial.wall_s or 0.0) + time.time() - t0  # over resumed parts too
    summary = trial.workdir / "summary.json"
    if proc.returncode == 0 and summary.exists():
      read_summary(trial, self.spec.metric, summary)
    elif proc.returncode < 0 or proc.returncode - 128 in INTERRUPTS:
      # killed or stopped by a signal: the next run of the sweep resumes it
      trial.status, trial.error = "interrupted", f"exit status {proc.returncode}"
    else:
      trial.status, trial.error = "failed", last_error(log_path(trial), proc.returncode)
    record_path(trial).write_text(
      json.dumps(
        {
          "status": trial.status,
          "wall_s": trial.wall_s,
          "error": trial.error,
          "returncode": proc.returncode,
        }
      )
    )
    shown = (
      f"{self.spec.metric}={trial.metric:.4g}"
      if trial.status == "ok"
      else f"{trial.status.upper()}: {trial.error}"
    )
    print(f"{trial.name}: {shown} ({trial.wall_s:.0f} s)", flush=True)
    self.on_done(trial)

  def stop(self) -> None:
    """One SIGTERM to each running trial (it saves a checkpoint), then waits."""
    for proc, trial, _ in self.running.values():
      if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        print(f"{trial.name}: stopping (SIGTERM)", file=sys.stderr, flush=True)
    for proc, _, _ in self.running.values():
      try:
        proc.wait(timeout=120)
      except subprocess.TimeoutExpired:
        proc.kill()
    self.running.clear()


def dry_run(spec: spec_lib.Spec, sweep_dir: Path, slots: list[dict[str, str]]) -> None:
  trials, where = plan_round(sweep_dir, spec, 1, [], write=False)
  print(f"# {where}")
  print(f"cd {report.shell_quote(str(REPO))}")
  for i, trial in enumerate(trials):
    env = [f"{k}={v}" for k, v in slots[i % len(slots)].items()]
    print(
      report.shell_join([*env, *trial_argv(spec, trial)])
      + " > "
      + report.shell_quote(str(log_path(trial)))
      + " 2>&1"
    )


def sweep(
  spec: spec_lib.Spec, sweep_dir: Path, slots: list[dict[str, str]], retry_failed: bool
) -> list[Trial]:
  sweep_dir.mkdir(parents=True, exist_ok=True)
  (sweep_dir / "sweep.json").write_text(json.dumps(spec.to_json(), indent=2))
  trials: list[Trial] = []

  def save(_: Trial | None = None) -> None:
    report.write_results(sweep_dir, spec, trials)

  runner = Runner(spec, slots, save)
  ran = False
  for r in range(1, spec.rounds + 1):
    planned, where = plan_round(sweep_dir, spec, r, trials)
    print(where, flush=True)
    for trial in planned:
      restore(trial, spec, retry_failed)
      if trial.status != "pending":
        print(
          f"{trial.name}: already {'finished' if trial.status == 'ok' else 'failed'}, skipped",
          flush=True,
        )
    trials += planned
    save()
    pending = [t for t in planned if t.status == "pending"]
    runner.run(pending)
    ran = ran or bool(pending)
  plots = [sweep_dir / "plots" / f"{p.name}.png" for p in spec.params if p.numeric]
  if ran or not all(p.exists() for p in plots):  # a finished sweep re-run: as it was
    report.plot(sweep_dir, spec, trials)
  return trials


def _on_sigterm(signum, frame) -> None:
  del signum, frame
  raise Stop()


def main(argv: Sequence[str] | None = None) -> int:
  t0 = time.time()
  try:
    args, config_flags = parse_args(sys.argv[1:] if argv is None else argv)
    spec = make_spec(args, config_flags)
    name = (
      Path(args.spec).stem if args.spec else spec.experiment.replace(":", "_").replace(",", "_")
    )
    sweep_dir = Path(args.sweep_dir or f"runs/sweeps/{name}").absolute()
    if sweep_dir.exists() and not sweep_dir.is_dir():
      raise SweepError(f"--sweep_dir {sweep_dir} is a file, not a directory")
    spec_lib.check_stored(sweep_dir / "sweep.json", spec)
    slots = slot_envs(args.parallel)
    if args.dry_run:
      dry_run(spec, sweep_dir, slots)
      return 0
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
      trials = sweep(spec, sweep_dir, slots, args.retry_failed)
    finally:
      signal.signal(signal.SIGTERM, previous)
  except SweepError as e:
    print(f"{ME}: error: {e}", file=sys.stderr)
    return 2
  except (KeyboardInterrupt, Stop) as e:
    print(f"{ME}: interrupted; re-run the same command to resume.", file=sys.stderr)
    return 128 + (signal.SIGTERM if isinstance(e, Stop) else signal.SIGINT)
  for line in report.summary_lines(spec, trials):
    print(line)
  print(f"results: {sweep_dir}/results.csv, plots: {sweep_dir}/plots/; {time.time() - t0:.0f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
