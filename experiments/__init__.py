"""Experiments: one module per experiment; the module name is the experiment name.

Each module's docstring starts with a one-line description and defines
`get_config(arg: str | None) -> ml_collections.ConfigDict`. `arg` selects a variant:
"smoke" (a few steps on a tiny batch, for tests) exists for every experiment.
Optional module-level hooks (`loss_fn`, `after_training`, `run`; see
`nn_lib.training.run`) are passed to the run.
Looked up with importlib, so adding a module is all it takes to add an experiment.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import ml_collections


def names() -> list[str]:
  return sorted(m.name for m in pkgutil.iter_modules(__path__)
                if not m.name.startswith("_"))


def describe(name: str) -> str:
  doc = (load(name).__doc__ or "").strip()
  return doc.splitlines()[0] if doc else ""


def load(name: str) -> ModuleType:
  if name not in names():
    raise ValueError(f"unknown experiment {name!r}; valid experiments: "
                     f"{', '.join(names())} (python train.py --list describes them)")
  return importlib.import_module(f"{__name__}.{name}")


def get_config(spec: str) -> tuple[ModuleType, ml_collections.ConfigDict]:
  """`spec` is NAME or NAME:VARIANT, e.g. "digits_mlp:smoke"."""
  name, _, variant = spec.partition(":")
  module = load(name)
  return module, module.get_config(variant or None)
