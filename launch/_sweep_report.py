"""What launch/sweep.py leaves in its sweep dir: results.csv and results.jsonl (one
row per trial), plots/<param>.png (the metric against each numeric parameter), and
the best trial as a ready-to-paste train.py command line."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import shlex
from pathlib import Path
from typing import Any, Sequence

from launch._sweep_space import LOG_KINDS, Param, format_value
from launch._sweep_spec import Spec


@dataclasses.dataclass
class Trial:
  """One train.py run of the sweep. status: pending, ok, failed or interrupted (by
  a signal; the next run of the sweep resumes it)."""

  round: int
  index: int
  params: dict[str, Any]
  workdir: Path
  status: str = "pending"
  metric: float | None = None
  final: dict[str, float] = dataclasses.field(default_factory=dict)
  wall_s: float | None = None
  error: str | None = None

  @property
  def name(self) -> str:
    return f"round {self.round} trial {self.index:03d}"

  def row(self, metric: str) -> dict:
    return {
      "round": self.round,
      "trial": self.index,
      "params": self.params,
      "metric": self.metric,
      "metric_name": metric,
      "status": self.status,
      "wall_s": None if self.wall_s is None else round(self.wall_s, 2),
      "error": self.error,
      "workdir": str(self.workdir),
      "final": self.final,
    }


def _write_atomic(path: Path, text: str) -> None:
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(text)
  os.replace(tmp, path)


def write_results(sweep_dir: Path, spec: Spec, trials: Sequence[Trial]) -> None:
  """results.jsonl and results.csv, rewritten whole (atomically) after each trial."""
  done = [t for t in trials if t.status != "pending"]
  _write_atomic(
    sweep_dir / "results.jsonl", "".join(json.dumps(t.row(spec.metric)) + "\n" for t in done)
  )
  names = [p.name for p in spec.params]
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(["round", "trial", *names, spec.metric, "status", "wall_s", "error", "workdir"])
  for t in done:
    writer.writerow(
      [
        t.round,
        t.index,
        *(format_value(t.params[n]) for n in names),
        "" if t.metric is None else repr(t.metric),
        t.status,
        "" if t.wall_s is None else f"{t.wall_s:.1f}",
        t.error or "",
        t.workdir,
      ]
    )
  _write_atomic(sweep_dir / "results.csv", out.getvalue())


def best(trials: Sequence[Trial], mode: str) -> Trial | None:
  scored = [t for t in trials if t.status == "ok" and t.metric is not None]
  if not scored:
    return None
  pick = max if mode == "max" else min
  return pick(scored, key=_metric)


def _metric(trial: Trial) -> float:
  """The metric of a scored trial (one whose metric is not None)."""
  assert trial.metric is not None, trial.name
  return trial.metric


def shell_quote(word: str) -> str:
  """shlex.quote, but a word whose only special characters are single quotes and
  spaces goes in double quotes: "--config.eval_splits=('dev', 'test')"."""
  if "'" in word and not any(c in word for c in '"$`\\!\n'):
    return f'"{word}"'
  return shlex.quote(word)


def shell_join(words: Sequence[str]) -> str:
  return " ".join(map(shell_quote, words))


def command_line(spec: Spec, params: dict[str, Any]) -> str:
  """`python train.py --experiment=... --config.K=V ...` for these params."""
  words = [
    "python",
    "train.py",
    f"--experiment={spec.experiment}",
    *(f"--config.{o}" for o in spec.overrides),
    *(f"--config.{k}={format_value(v)}" for k, v in params.items()),
  ]
  return shell_join(words)


def plot(sweep_dir: Path, spec: Spec, trials: Sequence[Trial]) -> list[Path]:
  """plots/<param>.png for each numeric parameter: the metric of every finished
  trial against the parameter's value (log x-axis for the log kinds; 1 - value for
  one_minus_log), one colour per round, the best trial starred."""
  import matplotlib  # pylint: disable=g-import-not-at-top  (only when plotting)

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  scored = [
    t for t in trials if t.status == "ok" and t.metric is not None and math.isfinite(t.metric)
  ]
  top = best(trials, spec.mode)
  failed = sum(t.status == "failed" for t in trials)
  paths = []
  for p in (p for p in spec.params if p.numeric):
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in sorted({t.round for t in scored}):
      points = [t for t in scored if t.round == r]
      ax.scatter(
        [_x(p, t.params[p.name]) for t in points],
        [_metric(t) for t in points],
        label=f"round {r}",
        alpha=0.8,
      )
    if top is not None:
      ax.scatter(
        [_x(p, top.params[p.name])],
        [_metric(top)],
        marker="*",
        s=250,
        facecolors="none",
        edgecolors="k",
        label="best",
      )
    if p.kind in LOG_KINDS:
      ax.set_xscale("log")
    ax.set_xlabel(f"1 - {p.name}" if p.kind == "one_minus_log" else p.name)
    ax.set_ylabel(spec.metric)
    ax.set_title(
      f"{spec.experiment}: {len(scored)} trials"
      + (f" ({failed} failed, not shown)" if failed else "")
    )
    ax.grid(True, which="both", alpha=0.3)
    if scored:
      ax.legend(fontsize="small")
    path = sweep_dir / "plots" / f"{p.name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(path)
  return paths


def _x(p: Param, value: float) -> float:
  return 1.0 - value if p.kind == "one_minus_log" else value


def summary_lines(spec: Spec, trials: Sequence[Trial], shown: int = 5) -> list[str]:
  """The closing report: counts, the top trials, the best and its command line."""
  ok = [t for t in trials if t.status == "ok"]
  failed = [t for t in trials if t.status in ("failed", "interrupted")]
  stopped = sum(t.status == "interrupted" for t in trials)
  lines = [
    f"{len(ok)} trials ok, {len(failed) - stopped} failed"
    + (f", {stopped} interrupted (re-run the same command to resume)" if stopped else "")
  ]
  for t in failed:
    lines.append(f"  {t.status}: {t.name}: {t.error}")
  ranked = sorted((t for t in ok if t.metric is not None), key=_metric, reverse=spec.mode == "max")
  if not ranked:
    return lines + ["no trial finished: no best"]
  lines.append(f"top {min(shown, len(ranked))} by {spec.metric} ({spec.mode}):")
  for t in ranked[:shown]:
    values = " ".join(f"{k}={format_value(v)}" for k, v in t.params.items())
    lines.append(f"  {t.metric:.4f}  {t.name}  {values}")
  top = ranked[0]
  lines += [
    f"best: {top.name}: {spec.metric}={top.metric:.6g} ({top.workdir})",
    command_line(spec, top.params),
  ]
  return lines
