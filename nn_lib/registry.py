"""One lookup-by-name type for everything a config can name: models, losses,
metrics, optimizers, schedules, data sources, target transforms, plots, trainers.

A config says `model.name="resnet"`; the code asks `MODELS.get("resnet")`. An
unknown name is a `ConfigError` that lists the valid ones, so a typo on the command
line is one clear line instead of a traceback.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, Mapping, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
  """The experiment config is invalid; the message says which key and why."""


class Registry(Generic[T]):
  """Name -> object, filled by `@registry.register(name)` or from a mapping."""

  def __init__(self, kind: str, entries: Mapping[str, T] | None = None):
    self.kind = kind
    self._entries: dict[str, T] = {}
    for name, obj in (entries or {}).items():
      self.add(name, obj)

  def add(self, name: str, obj: T) -> T:
    if name in self._entries:
      raise ValueError(f"{self.kind} {name!r} is registered twice")
    self._entries[name] = obj
    return obj

  def register(self, name: str) -> Callable[[T], T]:
    """Decorator form of `add`."""
    return lambda obj: self.add(name, obj)

  def get(self, name: str) -> T:
    if name not in self._entries:
      raise ConfigError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}")
    return self._entries[name]

  def names(self) -> list[str]:
    return sorted(self._entries)

  def __contains__(self, name: object) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._entries)
