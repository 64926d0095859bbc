"""A sweep's spec for launch/sweep.py: read from a spec file's SPEC dict and/or
flags, checked against the experiment's config, and stored as sweep.json.

  SPEC = dict(
      experiment="digits_mlp",                                   # NAME[:VARIANT,...]
      params={"optimizer.learning_rate": ("log", 1e-5, 1.0),     # or "log:1e-5:1"
              "model.activation": ("choice", ["relu", "tanh"])},
      overrides={"num_steps": 500},    # fixed --config.KEY=VALUE of every trial
      metric="test/accuracy", mode="max",   # a key of summary.json's "final"
      trials=10, rounds=2, zoom_top=3, pad=0.25, seed=0,
  )
"""

from __future__ import annotations

import dataclasses
import json
import math
import runpy
from pathlib import Path
from typing import Any, Mapping, Sequence

from launch._sweep_space import Param, SweepError, param_from_spec, parse_param

DEFAULTS = dict(
  overrides=(), metric=None, mode=None, trials=10, rounds=1, zoom_top=3, pad=0.25, seed=0
)
KEYS = ("experiment", "params", *DEFAULTS)
# May differ between runs of one sweep dir: more rounds continue a finished sweep.
EXTENDABLE = ("rounds",)


@dataclasses.dataclass(frozen=True)
class Spec:
  experiment: str
  params: tuple[Param, ...]
  overrides: tuple[str, ...]  # "KEY=VALUE", passed on as --config.KEY=VALUE
  metric: str
  mode: str  # "max" or "min"
  trials: int  # per round
  rounds: int
  zoom_top: int
  pad: float
  seed: int

  def to_json(self) -> dict:
    data = dataclasses.asdict(self)
    data["params"] = {p.name: p.to_json() for p in self.params}
    data["overrides"] = list(self.overrides)
    return json.loads(json.dumps(data))  # tuples -> lists, as read back


def load_file(path: str | Path) -> dict:
  """The SPEC dict of a spec file."""
  path = Path(path)
  if not path.is_file():
    raise SweepError(f"spec file {path} not found")
  try:
    namespace = runpy.run_path(str(path))
  except Exception as e:  # pylint: disable=broad-except  (anything a user file raises)
    raise SweepError(f"spec file {path} failed: {type(e).__name__}: {e}") from None
  spec = namespace.get("SPEC")
  if not isinstance(spec, Mapping):
    raise SweepError(f"spec file {path} defines no SPEC = dict(...)")
  return dict(spec)


def build(
  base: Mapping[str, Any],
  flags: Mapping[str, Any],
  param_flags: Sequence[str],
  config_flags: Sequence[str],
) -> Spec:
  """The spec: `base` (a SPEC dict), then the flags that were given (None = not
  given), the --param flags (replacing a base param of the same name) and the
  --config.KEY=VALUE flags (added to the fixed overrides)."""
  unknown = sorted(set(base) - set(KEYS))
  if unknown:
    raise SweepError(f"unknown SPEC key(s) {', '.join(unknown)}; valid: {', '.join(KEYS)}")
  merged = {**DEFAULTS, **base, **{k: v for k, v in flags.items() if v is not None}}
  params = _params(merged.get("params") or {}, param_flags)
  overrides = _overrides(merged["overrides"]) + _overrides(config_flags)
  experiment = merged.get("experiment")
  if not isinstance(experiment, str) or not experiment:
    raise SweepError("no experiment: give --experiment=NAME[:VARIANT,...] or SPEC['experiment']")
  metric = merged["metric"] or _report_metric(experiment)
  mode = merged["mode"] or ("min" if any(w in metric for w in ("loss", "error", "mse")) else "max")
  trials, rounds, zoom_top, pad, seed = (
    _number(k, merged[k]) for k in ("trials", "rounds", "zoom_top", "pad", "seed")
  )
  spec = Spec(
    experiment,
    params,
    overrides,
    metric,
    mode,
    int(trials),
    int(rounds),
    int(zoom_top),
    float(pad),
    int(seed),
  )
  _check(spec)
  return spec


def _params(base: Any, param_flags: Sequence[str]) -> tuple[Param, ...]:
  if isinstance(base, (list, tuple)):
    params = {p.name: p for p in map(parse_param, base)}
  elif isinstance(base, Mapping):
    params = {name: param_from_spec(name, v) for name, v in base.items()}
  else:
    raise SweepError(f"SPEC['params'] must be a dict or a list of 'NAME:KIND:LO:HI', got {base!r}")
  seen = set()
  for text in param_flags:
    p = parse_param(text)
    if p.name in seen:
      raise SweepError(f"--param {p.name} is given twice")
    seen.add(p.name)
    params[p.name] = p
  if not params:
    raise SweepError("nothing to search: give --param=NAME:KIND:LO:HI or SPEC['params']")
  return tuple(params.values())


def _overrides(value: Any) -> tuple[str, ...]:
  if isinstance(value, Mapping):
    return tuple(f"{k}={v}" for k, v in value.items())
  if isinstance(value, str) or not isinstance(value, (list, tuple)):
    raise SweepError(f"overrides must be a dict or a list of 'KEY=VALUE', got {value!r}")
  out = []
  for item in value:
    text = str(item).removeprefix("--").removeprefix("config.")
    if "=" not in text or not text.split("=", 1)[0]:
      raise SweepError(f"override {item!r} must read KEY=VALUE (--config.KEY=VALUE)")
    out.append(text)
  return tuple(out)


def _number(key: str, value: Any) -> int | float:
  ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
  if key == "pad":
    if not ok or value < 0:
      raise SweepError(f"pad must be a number >= 0, got {value!r}")
    return float(value)
  minimum = 0 if key == "seed" else 1
  if not ok or value != int(value) or value < minimum:
    raise SweepError(f"{key} must be an integer >= {minimum}, got {value!r}")
  return int(value)


def _check(spec: Spec) -> None:
  if spec.mode not in ("max", "min"):
    raise SweepError(f"mode must be max or min, got {spec.mode!r}")
  keys = [k.split("=", 1)[0] for k in spec.overrides]
  both = sorted(set(keys) & {p.name for p in spec.params})
  if both:
    raise SweepError(f"{', '.join(both)} is both searched and fixed by an override")
  check_config_keys(spec.experiment, [p.name for p in spec.params] + keys)


def _report_metric(experiment: str) -> str:
  import experiments  # pylint: disable=g-import-not-at-top  (ml_collections only, no JAX)

  try:
    return experiments.report(experiment.partition(":")[0])["metric"]
  except ValueError as e:
    raise SweepError(str(e)) from None
  except (AttributeError, KeyError):
    raise SweepError(f"experiment {experiment} names no REPORT metric: give --metric") from None


def check_config_keys(experiment: str, keys: Sequence[str]) -> None:
  """Every key exists in the experiment's config, so a typo fails before any trial
  runs. model.* keys the config leaves out are the model's defaults: train.py
  checks those."""
  import experiments  # pylint: disable=g-import-not-at-top

  try:
    config = experiments.get_config(experiment)
  except ValueError as e:
    raise SweepError(str(e)) from None
  for key in keys:
    node = config
    for part in key.split("."):
      if not hasattr(node, "keys") or part not in node:
        if not key.startswith("model."):
          raise SweepError(
            f"unknown config key {key!r} of experiment {experiment} "
            "(python train.py --experiment=... --show_config lists them)"
          )
        break
      node = node[part]


def check_stored(path: Path, spec: Spec) -> None:
  """Refuses a sweep dir whose sweep.json holds another sweep."""
  if not path.exists():
    return
  try:
    stored = json.loads(path.read_text())
  except (OSError, ValueError) as e:
    raise SweepError(f"{path} cannot be read ({e}); use another --sweep_dir") from None
  current = spec.to_json()
  differ = [k for k in KEYS if k not in EXTENDABLE and stored.get(k) != current.get(k)]
  if differ:
    raise SweepError(
      f"{path.parent} holds a different sweep (its sweep.json differs in "
      f"{', '.join(differ)}); use another --sweep_dir or the same spec"
    )
