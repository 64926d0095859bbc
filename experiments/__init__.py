"""Experiments: one module per experiment; the module name is the experiment name.

Each module's docstring starts with a one-line description; it defines
`get_config() -> ml_collections.ConfigDict` (declarative: data, model, loss,
optimizer, trainer or study, metrics, plots), `REPORT` (its row in
docs/experiments.md) and optionally `VARIANTS`, named edits of the config.

An experiment is named `NAME[:VARIANT[,VARIANT...]]`; the variants are applied left
to right, so they compose: `multilabel_digits:softmax,smoke`. `smoke` (a few steps
on a tiny batch, what the tests run) exists for every experiment; a module's own
`VARIANTS["smoke"]`, if any, is applied after the common one.
Adding a module is all it takes to add an experiment.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Callable

import ml_collections

from . import _base

Variant = Callable[[ml_collections.ConfigDict], None]


def names() -> list[str]:
  return sorted(m.name for m in pkgutil.iter_modules(__path__)
                if not m.name.startswith("_"))


def load(name: str) -> ModuleType:
  if name not in names():
    raise ValueError(f"unknown experiment {name!r}; valid experiments: "
                     f"{', '.join(names())} (python train.py --list describes them)")
  return importlib.import_module(f"{__name__}.{name}")


def describe(name: str) -> str:
  doc = (load(name).__doc__ or "").strip()
  return doc.splitlines()[0] if doc else ""


def report(name: str) -> dict:
  """The experiment's row for docs/experiments.md (task, output, loss, model, data,
  metric = the summary key to show, bar = its quality bar)."""
  return load(name).REPORT


def variant_names(name: str) -> list[str]:
  return sorted({"smoke", *getattr(load(name), "VARIANTS", {})})


def get_config(spec: str) -> ml_collections.ConfigDict:
  """The config of `NAME[:VARIANT[,VARIANT...]]`, e.g. "multilabel_digits:softmax,smoke"."""
  name, _, variant_list = spec.partition(":")
  module = load(name)
  cfg = module.get_config()
  own: dict[str, Variant] = getattr(module, "VARIANTS", {})
  for variant in filter(None, variant_list.split(",")):
    if variant not in variant_names(name):
      raise ValueError(f"unknown variant {variant!r} of {name}; valid: "
                       f"{', '.join(variant_names(name))}")
    if variant == "smoke":
      _base.smoke(cfg)
    if variant in own:
      own[variant](cfg)
  return cfg
