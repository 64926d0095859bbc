"""Helpers for experiments whose `run` hook trains several configs or wraps the
ordinary loop (sweeps, comparisons, initial-loss checks).

Each sub-run is an ordinary `nn_lib.training.run` in its own sub-workdir (so it
has its own metrics.jsonl, curves plot, checkpoints and resumes on its own);
these helpers derive the sub-configs, read back what the runs wrote, and write
the sweep's own summary.json in the shape the loop writes:
{"final": {"test/...": value, ...}, "wall_time_s": seconds, ...}.
"""
from __future__ import annotations

import copy
import json
import os
import types
from pathlib import Path
from typing import Any, Callable

import jax
import ml_collections
import numpy as np
import optax

import losses
from nn_lib import data as data_lib
from nn_lib import models, training, writers
from nn_lib.training import step as step_lib


def derive(cfg: ml_collections.ConfigDict, **updates: Any) -> ml_collections.ConfigDict:
  """A copy of `cfg` with dotted keys replaced, e.g. derive(c, **{"loss.name": "x"}).

  Only existing keys may change (a typo is an error naming the key), so a
  sub-run differs from its parent in exactly the named ways.
  """
  sub = copy.deepcopy(cfg)
  for dotted, value in updates.items():
    *parents, leaf = dotted.split(".")
    node = sub
    for key in parents:
      node = node[key]
    if leaf not in node:
      raise KeyError(f"derive: config has no key {dotted!r}")
    with node.unlocked():
      node[leaf] = value
  return sub


def train(cfg: ml_collections.ConfigDict, workdir: Path) -> tuple[dict, Any]:
  """The ordinary training loop on `cfg` in `workdir`; returns (state, model)."""
  state = training.run(cfg, workdir)
  return state, models.get(**cfg.model)


def predict(model, state: dict, inputs: np.ndarray, batch_size: int = 500,
            method: str | None = None) -> np.ndarray:
  """Eval-mode model outputs (or `method`'s, e.g. "encode") for `inputs`, batched,
  as one host array. For plots after training; metrics come from the loop."""
  variables = {"params": state["params"], **state["model_state"]}

  @jax.jit
  def apply(variables, x):
    if method is None:
      return model.apply(variables, x, train=False)
    return model.apply(variables, x, method=method)  # encode/decode take no `train`

  return np.concatenate([np.asarray(apply(variables, inputs[i:i + batch_size]))
                         for i in range(0, len(inputs), batch_size)])


def run_with_hooks(cfg: Any, workdir: str | Path, **hooks: Callable) -> dict:
  """`nn_lib.training.run` with hooks that depend on the config (a loss with the
  config's margin, plots that need the config). An experiment's module-level
  `run(cfg, workdir)` calls this; the hooks given here are `loss_fn` and/or
  `after_training`, so the inner run does not recurse into `run` again."""
  unknown = set(hooks) - {"loss_fn", "after_training"}
  if unknown:
    raise ValueError(f"run_with_hooks: unknown hook(s) {sorted(unknown)}")
  return training.run(cfg, workdir, hooks=types.SimpleNamespace(**hooks))


def initial_loss(cfg: ml_collections.ConfigDict,
                 splits: dict[str, data_lib.Split] | None = None) -> float:
  """Mean data loss over the training split at the loop's initial parameters.

  `step_lib.init_state` with the run's seed gives exactly the parameters the loop
  starts from (they depend on the seed and the input shape only, not on the
  optimizer), so this is the loss "at step 0" that notes 002's sanity checks
  predict (ln C for softmax, C - 1 for the multiclass SVM, when W is small).
  """
  model = models.get(**cfg.model)
  train_split = (splits or data_lib.load(cfg.data))["train"]
  x = train_split["inputs"]
  state = step_lib.init_state(model, optax.identity(), cfg.seed, x[:1])
  outputs = predict(model, state, x)
  loss_fn = step_lib.loss_from_config(cfg.loss)
  return float(losses.reduce(loss_fn(outputs, train_split["targets"])))


def linear_kernel(state: dict) -> np.ndarray:
  """The D x K weight matrix of a one-layer linear model (its only 2-D parameter)."""
  kernels = [x for x in jax.tree.leaves(state["params"]) if np.ndim(x) == 2]
  if len(kernels) != 1:
    raise ValueError(f"expected one 2-D weight matrix (a linear model), found "
                     f"{len(kernels)}: {[np.shape(k) for k in kernels]}")
  return np.asarray(kernels[0])


def read_summary(workdir: Path) -> dict:
  path = Path(workdir) / "summary.json"
  if not path.exists():
    raise FileNotFoundError(f"{path} does not exist: the run did not finish")
  return json.loads(path.read_text())


def curve(workdir: Path, split: str, name: str) -> tuple[list[int], list[float]]:
  """(steps, values) of one logged metric from a run's metrics.jsonl."""
  points: dict[int, float] = {}
  for row in writers.read_metrics(Path(workdir) / "metrics.jsonl"):
    if row["split"] == split and row["name"] == name:
      points[row["step"]] = row["value"]  # a resumed run rewrites later steps
  steps = sorted(points)
  return steps, [points[s] for s in steps]


def _write_json(path: Path, obj: dict) -> None:
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(json.dumps(obj, indent=2))
  os.replace(tmp, path)


def write_summary(workdir: Path, final: dict[str, float], wall_time_s: float,
                  **extra: Any) -> None:
  """summary.json for a run hook, in the loop's shape."""
  final = {k: float(v) for k, v in final.items()}
  _write_json(Path(workdir) / "summary.json",
              {"final": final, "wall_time_s": float(wall_time_s), **extra})


def add_to_final(workdir: Path, values: dict[str, float], **extra: Any) -> dict:
  """Adds entries to the "final" dict of an existing summary.json (values a hook
  measures that the loop's metrics cannot express)."""
  if jax.process_index() != 0:
    return {}
  summary = read_summary(workdir)
  summary["final"].update({k: float(v) for k, v in values.items()})
  summary.update(extra)
  _write_json(Path(workdir) / "summary.json", summary)
  return summary
