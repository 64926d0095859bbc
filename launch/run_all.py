"""Runs every experiment with its full configuration and writes docs/experiments.md.

Each experiment module declares a `REPORT` dict (task, output, loss, model, data,
metric = the summary.json key to show, bar = its quality bar such as ">= 0.97").
A study's REPORT may add `table`: the "split/name" values to show for each of its
runs, in a section of its own with its comparison plot (copied to docs/plots/).
Each run is a `train.py` subprocess; its numbers are read from the summary.json it
leaves, as a user would.
Every run gets a fresh workdir under --base, so nothing is resumed or overwritten.

  python launch/run_all.py                      # all experiments -> docs/experiments.md
  python launch/run_all.py --only toy2d_moons,digits_mlp --out /tmp/report.md
  python launch/run_all.py --only gan_ring --merge  # re-run some, keep the other rows
  python launch/run_all.py --variant smoke      # checks the script itself, quickly
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import experiments  # noqa: E402  pylint: disable=wrong-import-position

_BAR = re.compile(r"^\s*(>=|≥|<=|≤|>|<)\s*([-+0-9.eE]+)")


def meets(value: float | None, bar: str) -> str:
  """'yes'/'no' for bars of the form '>= x' or '<= x'; '' when not numeric."""
  match = _BAR.match(bar or "")
  if value is None or not match:
    return ""
  op, threshold = match.group(1), float(match.group(2))
  ok = {
    ">=": value >= threshold,
    "≥": value >= threshold,
    ">": value > threshold,
    "<=": value <= threshold,
    "≤": value <= threshold,
    "<": value < threshold,
  }[op]
  return "yes" if ok else "**no**"


def run_one(name: str, variant: str | None, base: Path, timeout: float) -> dict:
  spec = f"{name}:{variant}" if variant else name
  workdir = base / spec.replace(":", "_")
  command = [sys.executable, "train.py", f"--experiment={spec}", f"--workdir={workdir}"]
  start = time.time()
  proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
  wall = time.time() - start
  result = {
    "name": name,
    "wall_s": wall,
    "returncode": proc.returncode,
    "command": f"python train.py --experiment={spec}",
  }
  if proc.returncode != 0:
    result["error"] = (proc.stderr.strip().splitlines() or ["?"])[-1]
    return result
  summary = json.loads((workdir / "summary.json").read_text())
  result["final"] = summary.get("final", {})
  result["workdir"] = workdir
  return result


def study_section(name: str, report: dict, result: dict, plots_dir: Path) -> list[str]:
  """A study's runs (rows) by the REPORT's `table` values (columns), and its plot."""
  final, columns = result.get("final", {}), list(report["table"])
  runs = list(dict.fromkeys(k.split("/", 1)[0] for k in final if k.count("/") >= 2))
  fmt = lambda v: "" if v is None else f"{v:.4g}"  # noqa: E731
  lines = [
    f"### `{name}`: {report.get('task', '')}",
    "",
    f"{report.get('model', '')}; {report.get('data', '')}.",
    "",
    "| run | " + " | ".join(columns) + " |",
    "|---|" + "---|" * len(columns),
  ]
  lines += [
    f"| {run} | " + " | ".join(fmt(final.get(f"{run}/{c}")) for c in columns) + " |" for run in runs
  ]
  plot = result.get("workdir", Path("/nonexistent")) / "plots" / "comparison.png"
  if plot.exists():
    plots_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plot, plots_dir / f"{name}.png")
    lines += ["", f"![{name}](plots/{name}.png)"]
  return lines + [""]


def row(report: dict, result: dict) -> str:
  metric = report.get("metric", "")
  value = result.get("final", {}).get(metric)
  shown = (
    f"{value:.4g}"
    if isinstance(value, (int, float))
    else f"failed: {result.get('error', 'metric missing')}"
  )
  cells = [
    f"`{result['name']}`",
    report.get("task", ""),
    report.get("output", ""),
    report.get("loss", ""),
    report.get("model", ""),
    report.get("data", ""),
    f"{metric} {report.get('bar', '')}".strip(),
    shown,
    meets(value if isinstance(value, (int, float)) else None, report.get("bar", "")),
    f"{result['wall_s']:.0f} s",
    f"`{result['command']}`",
  ]
  return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


SWEEP_SPEC = "launch/sweeps/digits_mlp_lr.py"


def sweep_section(sweep_dir: Path, plots_dir: Path, timeout: float) -> list[str]:
  """Runs (or, resumable, finishes) the demo sweep and summarizes its trials: the
  best learning rate, and the spread of rates within 1% of the best metric."""
  command = [
    sys.executable,
    "launch/sweep.py",
    f"--spec={SWEEP_SPEC}",
    f"--sweep_dir={sweep_dir}",
    "--parallel=2",
  ]
  start = time.time()
  proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
  if proc.returncode != 0:
    return ["## Sweeps", "", f"`sweep_demo` failed: {proc.stderr.strip()[-300:]}", ""]
  with open(sweep_dir / "results.csv") as f:
    rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
  metric = [
    k
    for k in rows[0]
    if k
    not in ("round", "trial", "status", "wall_s", "error", "workdir", "optimizer.learning_rate")
  ][0]
  best = max(rows, key=lambda r: float(r[metric]))
  near = [
    float(r["optimizer.learning_rate"])
    for r in rows
    if float(r[metric]) >= float(best[metric]) - 0.01
  ]
  trial_s = sum(float(r["wall_s"]) for r in rows)
  plot = sweep_dir / "plots" / "optimizer.learning_rate.png"
  lines = [
    "## Sweeps",
    "",
    f"`sweep_demo`: `python launch/sweep.py --spec={SWEEP_SPEC} --parallel 2`, a random "
    f"search of digits_mlp's learning rate, log-uniform over [1e-5, 1], 2 rounds of 10 "
    f"trials (the second zoomed on the best three), each trial 500 steps, chosen on "
    f"{metric}. {len(rows)} trials finished ({trial_s:.0f} s of trials; this call "
    f"{time.time() - start:.0f} s, finished trials are not re-run).",
    "",
    f"- best: learning rate {float(best['optimizer.learning_rate']):.4g}, {metric} "
    f"{float(best[metric]):.4g}",
    f"- {len(near)} trials within 0.01 of the best {metric}: learning rates "
    f"{min(near):.3g} to {max(near):.3g}, a factor of "
    f"{max(near) / min(near):.0f} ({math.log10(max(near) / min(near)):.1f} decades): "
    "a random log-scale search lands in this band with a handful of trials",
    "",
  ]
  if plot.exists():
    plots_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plot, plots_dir / "sweep_demo.png")
    lines += ["![sweep_demo](plots/sweep_demo.png)", ""]
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--only", default="", help="comma-separated experiment names")
  parser.add_argument("--variant", default=None, help="e.g. smoke")
  parser.add_argument("--base", default=f"runs/report-{time.strftime('%Y%m%d-%H%M%S')}")
  parser.add_argument("--out", default=str(REPO / "docs" / "experiments.md"))
  parser.add_argument("--timeout", type=float, default=1800)
  parser.add_argument(
    "--sweep_dir",
    default=None,
    help=f"where the demo sweep ({SWEEP_SPEC}) runs; a finished one "
    "is reused (default: under --base)",
  )
  parser.add_argument("--no_sweep", action="store_true", help="skip the demo sweep")
  parser.add_argument(
    "--merge",
    action="store_true",
    help="with --only: replace (or add) those experiments' rows and "
    "study sections in the existing --out file, keeping the others",
  )
  args = parser.parse_args()
  if args.merge and not (args.only and Path(args.out).exists()):
    sys.exit("error: --merge needs --only and an existing --out file to merge into")

  names = experiments.names()
  if args.only:
    wanted = args.only.split(",")
    unknown = sorted(set(wanted) - set(names))
    if unknown:
      sys.exit(f"error: unknown experiment(s) {unknown}; valid: {names}")
    names = wanted
  base = (REPO / args.base) if not Path(args.base).is_absolute() else Path(args.base)
  rows, sections, total = [], [], time.time()
  plots_dir = Path(args.out).parent / "plots"
  for name in names:
    report = experiments.report(name)
    if report.get("needs_data"):
      rows.append(
        f"| `{name}` | {report.get('task', '')} | | | {report.get('model', '')} "
        f"| {report.get('data', '')} | | not run: needs prepared TFDS data "
        f"| | | `python train.py --experiment={name} --config.data.data_dir=DIR` |"
      )
      continue
    print(f"running {name} ...", flush=True)
    result = run_one(name, args.variant, base, args.timeout)
    print(f"  {row(report, result)}", flush=True)
    rows.append(row(report, result))
    if report.get("table") and "final" in result:
      sections += study_section(name, report, result, plots_dir)
  if not (args.no_sweep or args.only or args.variant):
    print("running the demo sweep ...", flush=True)
    sections += sweep_section(Path(args.sweep_dir or base / "sweep_demo"), plots_dir, args.timeout)
  import jax  # pylint: disable=g-import-not-at-top  (only for the machine line)

  machine = (
    f"{platform.machine()} {os.cpu_count()} CPU cores, {platform.system()}, "
    f"jax {jax.__version__} on {jax.default_backend()}"
  )
  header = [
    "experiment",
    "task",
    "output",
    "loss",
    "model",
    "data",
    "metric and bar",
    "result",
    "bar met",
    "wall time",
    "command",
  ]
  text = [
    "# Experiments: measured results",
    "",
    f"Generated by `python launch/run_all.py{' --variant ' + args.variant if args.variant else ''}`"
    f" on {time.strftime('%Y-%m-%d')}: every experiment with its full configuration "
    f"on {machine}; total {time.time() - total:.0f} s. Wall time includes start-up, "
    "data preparation and compilation. Do not edit by hand: re-run the script.",
    "",
    "| " + " | ".join(header) + " |",
    "|" + "---|" * len(header),
    *rows,
    "",
    *(
      [
        "## Studies",
        "",
        "Each study trains one config several ways (its runs) and "
        "compares them; final values of each run (train values are the mean of the "
        "last logging window):",
        "",
        *sections,
      ]
      if sections
      else []
    ),
  ]
  if args.merge:
    text = merge(
      Path(args.out).read_text(),
      names,
      rows,
      sections,
      f"`--only {args.only} --merge` on {time.strftime('%Y-%m-%d')}",
    ).split("\n")
  Path(args.out).write_text("\n".join(text))
  print(f"wrote {args.out}")


def merge(old: str, names: list[str], rows: list[str], sections: list[str], how: str) -> str:
  """`old` (a report this script wrote) with the table rows and study sections of
  `names` replaced by the new ones, or inserted in experiment-name order."""
  lines = old.split("\n")
  fresh_rows = dict(zip(names, rows))
  table = [i for i, line in enumerate(lines) if line.startswith("| `")]
  kept = {_row_name(lines[i]): lines[i] for i in table}
  merged = {**kept, **fresh_rows}
  new_table = [merged[n] for n in sorted(merged)]
  lines = lines[: table[0]] + new_table + lines[table[-1] + 1 :]
  for i, line in enumerate(lines):
    if line.startswith("Generated by"):
      lines[i] = line.rstrip() + f" Rows re-run since: {', '.join(names)} ({how})."
      break
  fresh: dict[str, list[str]] = {}  # study name -> its section lines
  for line in sections:
    match = re.match(r"### `([^`]+)`", line)
    if match:
      fresh[match.group(1)] = []
      current = fresh[match.group(1)]
    current.append(line)
  if not fresh:
    return "\n".join(lines)
  if "## Studies" not in lines:
    raise ValueError("--merge: the report has no '## Studies' section to merge into")
  start = lines.index("## Studies")
  end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
  body = lines[start:end]
  studies: dict[str, list[str]] = {}
  section: list[str] | None = None  # the lines of the study being read
  head: list[str] = []
  for line in body:
    match = re.match(r"### `([^`]+)`", line)
    if match:
      section = studies.setdefault(match.group(1), [])
    (section if section is not None else head).append(line)
  studies.update(fresh)
  merged_body = head + [line for n in sorted(studies) for line in studies[n]]
  return "\n".join(lines[:start] + merged_body + lines[end:])


def _row_name(line: str) -> str:
  """The experiment a report's table row is about: "| `NAME` | ..." -> NAME."""
  match = re.match(r"\| `([^`]+)`", line)
  assert match is not None, f"not a table row: {line!r}"
  return match.group(1)


if __name__ == "__main__":
  main()
