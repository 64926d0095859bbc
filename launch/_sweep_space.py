"""The search space of launch/sweep.py: hyperparameters with the scale each is
sampled on, random sampling, and the coarse-to-fine zoom. Needs numpy only.

Each parameter has a *sampling space* in which it is drawn uniformly (notes 004,
"using an appropriate scale"):

  log            10^r, r ~ U(log10 lo, log10 hi)          a learning rate, a penalty
  one_minus_log  1 - 10^r, r ~ U(log10 lo, log10 hi)      a momentum beta; lo and hi
                                                          bound 1 - beta (1e-3 .. 1e-1)
  uniform        U(lo, hi)
  int            an integer in lo .. hi, each equally likely
  int_log        round(10^r), r ~ U(log10 lo, log10 hi)   a width, a batch size
  choice         one of the listed values, each equally likely

A zoom narrows a parameter's range *in its sampling space* (so in log space for
the log kinds); choices are never narrowed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping, Sequence, TypeGuard

import numpy as np

KINDS = ("log", "one_minus_log", "uniform", "int", "int_log", "choice")
LOG_KINDS = ("log", "one_minus_log", "int_log")
DIGITS = 4  # significant digits of a sampled value (of 1 - beta for one_minus_log)

Range = tuple[float, float]


class SweepError(ValueError):
  """A bad spec, flag or sweep directory; reported as one line."""


@dataclasses.dataclass(frozen=True)
class Param:
  """One searched config key. `lo`, `hi` bound the value (1 - value for
  one_minus_log); `choices` holds a choice parameter's values."""

  name: str
  kind: str
  lo: float | None = None
  hi: float | None = None
  choices: tuple = ()

  def __post_init__(self):
    _check(self)

  @property
  def numeric(self) -> bool:
    return self.kind != "choice"

  @property
  def bounds(self) -> Range:
    """(lo, hi) of a numeric param: `_check` has made sure both are numbers."""
    assert self.lo is not None and self.hi is not None, f"{self.name} has no bounds"
    return self.lo, self.hi

  def full_range(self) -> Range:
    """The whole range in sampling space."""
    lo, hi = self.bounds
    if self.kind in LOG_KINDS:
      return math.log10(lo), math.log10(hi)
    return float(lo), float(hi)

  def coord(self, value: float) -> float:
    """Where `value` lies in sampling space."""
    if self.kind == "one_minus_log":
      return math.log10(1.0 - value)
    return math.log10(value) if self.kind in LOG_KINDS else float(value)

  def value_at(self, u: float, span: Range) -> Any:
    """The value at quantile `u` in [0, 1) of the sampling-space range `span`."""
    if self.kind == "choice":
      return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
    a, b = span
    if self.kind == "int":
      return int(min(math.floor(a + u * (b + 1 - a)), b))
    s = a + u * (b - a)
    lo, hi = self.bounds
    if self.kind == "int_log":
      return int(min(max(round(10**s), lo), hi))
    if self.kind == "one_minus_log":
      gap = _round_sig(10**s)
      return round(1.0 - gap, DIGITS - 1 - math.floor(math.log10(gap)))
    value = _round_sig(10**s if self.kind == "log" else s)
    return float(min(max(value, lo), hi))

  def to_json(self) -> dict:
    if self.kind == "choice":
      return {"kind": "choice", "choices": list(self.choices)}
    return {"kind": self.kind, "lo": self.lo, "hi": self.hi}


def _round_sig(x: float) -> float:
  return float(f"{x:.{DIGITS}g}")


def _check(p: Param) -> None:
  where = f"param {p.name}"
  if not p.name or not all(p.name.split(".")):
    raise SweepError(f"a param needs a config key such as optimizer.learning_rate, got {p.name!r}")
  if p.kind not in KINDS:
    raise SweepError(f"{where}: unknown kind {p.kind!r}; valid kinds: {', '.join(KINDS)}")
  if p.kind == "choice":
    if not p.choices:
      raise SweepError(f"{where}: a choice needs at least one value")
    return
  lo, hi = p.lo, p.hi
  if not (_finite_number(lo) and _finite_number(hi)):
    raise SweepError(f"{where}: bounds must be finite numbers, got lo={lo!r} hi={hi!r}")
  if lo >= hi:
    raise SweepError(f"{where}: lo must be below hi, got lo={lo:g} hi={hi:g}")
  if p.kind in LOG_KINDS and lo <= 0:
    raise SweepError(f"{where}: a {p.kind} range needs positive bounds, got lo={lo:g} hi={hi:g}")
  if p.kind == "one_minus_log" and hi > 1:
    raise SweepError(f"{where}: one_minus_log bounds 1 - value, so hi must be <= 1, got hi={hi:g}")
  if p.kind in ("int", "int_log") and (lo != int(lo) or hi != int(hi)):
    raise SweepError(f"{where}: an {p.kind} range needs integer bounds, got lo={lo:g} hi={hi:g}")


def _finite_number(bound: object) -> TypeGuard[float]:
  """An int or float (not a bool) that is finite."""
  return not isinstance(bound, bool) and isinstance(bound, (int, float)) and math.isfinite(bound)


def _number(text: str, name: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise SweepError(f"param {name}: bounds must be finite numbers, got {text!r}") from None
  return value


def split_top_level(text: str, sep: str = ",") -> list[str]:
  """Splits on `sep` outside brackets: '(64, 64),(128,)' -> ['(64, 64)', '(128,)']."""
  parts, depth, current = [], 0, ""
  for char in text:
    depth += char in "([{"
    depth -= char in ")]}"
    if char == sep and depth == 0:
      parts.append(current.strip())
      current = ""
    else:
      current += char
  return parts + [current.strip()]


def parse_param(text: str) -> Param:
  """'optimizer.learning_rate:log:1e-4:1' or 'model.activation:choice:relu,tanh'."""
  name, _, rest = text.partition(":")
  kind, _, rest = rest.partition(":")
  if kind == "choice":
    return Param(name, kind, choices=tuple(v for v in split_top_level(rest) if v))
  bounds = rest.split(":") if rest else []
  if kind in KINDS and len(bounds) != 2:
    raise SweepError(f"param {text!r} must read NAME:KIND:LO:HI (or NAME:choice:A,B,...)")
  if kind not in KINDS:
    return Param(name, kind)  # raises the unknown-kind error
  return Param(name, kind, _number(bounds[0], name), _number(bounds[1], name))


def param_from_spec(name: str, value: Any) -> Param:
  """A SPEC entry: name -> ('log', 1e-5, 1.0), ('choice', [...]) or 'log:1e-5:1'."""
  if isinstance(value, str):
    return parse_param(f"{name}:{value}")
  if isinstance(value, Mapping):
    value = (
      value.get("kind"),
      *(
        [value.get("choices", ())]
        if value.get("kind") == "choice"
        else [value.get("lo"), value.get("hi")]
      ),
    )
  if not isinstance(value, (tuple, list)) or not value:
    raise SweepError(
      f"param {name}: expected (KIND, LO, HI) or ('choice', [VALUES]), got {value!r}"
    )
  kind, *rest = value
  if kind == "choice":
    if len(rest) != 1 or not isinstance(rest[0], (list, tuple)):
      raise SweepError(f"param {name}: a choice reads ('choice', [VALUES]), got {value!r}")
    return Param(name, "choice", choices=tuple(rest[0]))
  if kind in KINDS and len(rest) != 2:
    raise SweepError(f"param {name}: expected ({kind!r}, LO, HI), got {value!r}")
  return Param(name, kind, *rest) if kind in KINDS else Param(name, str(kind))


def full_ranges(params: Sequence[Param]) -> dict[str, Range]:
  return {p.name: p.full_range() for p in params if p.numeric}


def sample(
  params: Sequence[Param], ranges: Mapping[str, Range], seed: int, round_index: int, count: int
) -> list[dict[str, Any]]:
  """`count` points; point i depends only on (seed, round_index, i) and `ranges`."""
  points = []
  for i in range(count):
    rng = np.random.default_rng([seed, round_index, i])
    points.append(
      {p.name: p.value_at(float(rng.random()), ranges.get(p.name, (0, 0))) for p in params}
    )
  return points


def top(
  rows: Iterable[tuple[Mapping[str, Any], float | None]], k: int, mode: str
) -> list[Mapping[str, Any]]:
  """The params of the `k` best (params, metric) rows; rows without a finite metric
  are left out."""
  scored = [(m, p) for p, m in rows if m is not None and math.isfinite(m)]
  scored.sort(key=lambda pm: pm[0], reverse=(mode == "max"))
  return [p for _, p in scored[:k]]


def zoom(
  params: Sequence[Param], best: Sequence[Mapping[str, Any]], pad: float
) -> dict[str, Range]:
  """The bounding box of the points `best` in sampling space, widened by `pad`
  times its width on each side and kept inside the full ranges; the full ranges
  when `best` is empty."""
  ranges = full_ranges(params)
  if not best:
    return ranges
  for p in params:
    if not p.numeric:
      continue
    coords = [p.coord(point[p.name]) for point in best]
    lo, hi = min(coords), max(coords)
    width = hi - lo
    full_lo, full_hi = ranges[p.name]
    lo, hi = max(full_lo, lo - pad * width), min(full_hi, hi + pad * width)
    if p.kind == "int":
      lo, hi = math.floor(lo), math.ceil(hi)
    ranges[p.name] = (lo, hi)
  return ranges


def describe_range(p: Param, span: Range) -> str:
  """A range in the parameter's own units: '[1e-05, 1]'; '1 - [0.1, 0.001]' style
  for one_minus_log."""
  a, b = span
  if p.kind == "one_minus_log":
    return f"1 - [{10**b:.3g}, {10**a:.3g}]"
  if p.kind in LOG_KINDS:
    return f"[{10**a:.3g}, {10**b:.3g}]"
  return f"[{a:.4g}, {b:.4g}]"


def format_value(value: Any) -> str:
  """How a value is written in --config.KEY=VALUE."""
  return repr(value) if isinstance(value, float) else str(value)
