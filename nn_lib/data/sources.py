"""Where examples come from, chosen by `data.source`: "embedded" (the project's TFDS
builders, `data.name`), "tfds" (a TFDS dataset prepared in a data_dir, `data.name`),
"npz" (a file, `data.path`) or "inline" (arrays in the config, `data.inline`).

Every source returns, per split, numpy arrays `inputs` (float32, scaled) and
`targets` (as stored: integer class labels or float regression targets). The
whole split is read into host memory: the course's datasets are small, and random
access by index then makes every batch a pure function of (seed, step).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from nn_lib.data import builders
from nn_lib.registry import Registry

Split = dict[str, np.ndarray]


class DataError(ValueError):
  """The configured data cannot be found or read; the message says how to fix it."""


# (cfg.data, {alias: split name in the source}) -> {alias: Split}
SOURCES: Registry[Callable[[Any, Mapping[str, str]], dict[str, Split]]] = Registry(
    "data source")


def _scale_inputs(x: np.ndarray, input_max: float | None) -> np.ndarray:
  if input_max is None:
    input_max = 255.0 if x.dtype == np.uint8 else 1.0
  return (x.astype(np.float32) / np.float32(input_max)).astype(np.float32)


def _read_tfds(name: str, split: str, data_dir: str, input_key: str, target_key: str,
               input_max: float | None) -> Split:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
  keys = list(range(len(source)))
  try:
    rows = source.__getitems__(keys)  # one batched read: about 2x faster
  except TypeError:  # tfds.testing.mock_data's sources only read one at a time
    rows = [source[k] for k in keys]
  missing = {input_key, target_key} - set(rows[0]) if rows else set()
  if missing:
    raise DataError(f"dataset {name!r} has no feature(s) {sorted(missing)}; its "
                    f"features are {sorted(rows[0])}. Set config.data.input_key / "
                    "config.data.target_key.")
  inputs = np.stack([r[input_key] for r in rows])
  targets = np.stack([np.asarray(r[target_key]) for r in rows])
  return {"inputs": _scale_inputs(inputs, input_max), "targets": targets}


@SOURCES.register("embedded")
def _embedded(cfg, splits: Mapping[str, str]) -> dict[str, Split]:
  name = cfg.name
  if name not in builders.EMBEDDED:
    raise DataError(f"{name!r} is not an embedded dataset (those are "
                    f"{', '.join(builders.EMBEDDED)}); for a TFDS dataset prepared as "
                    "array_record set --config.data.source=tfds.")
  builder_cls = builders.EMBEDDED.get(name)
  data_dir = builders.prepare(name, cfg.get("embedded_dir"))
  return {alias: _read_tfds(name, split, str(data_dir), builder_cls.INPUT_KEY,
                            builder_cls.TARGET_KEY, builder_cls.INPUT_MAX)
          for alias, split in splits.items()}


def _prepare_hint(name: str, data_dir: str) -> str:
  return (
      f"Prepare it once on a machine with internet access, as array_record (no "
      f"TensorFlow needed to read it afterwards):\n"
      f"    pip install tensorflow tensorflow-datasets array_record\n"
      f"    tfds build {name} --file_format=array_record --data_dir={data_dir}\n"
      f"then copy {data_dir}/{name} here, and pass --config.data.data_dir=DIR or set "
      f"TFDS_DATA_DIR. This project never downloads (download=False): offline, a "
      f"download hangs for minutes and leaves temporary directories behind.")


def _tfds_data_dir(cfg) -> str:
  return str(Path(cfg.get("data_dir") or os.environ.get("TFDS_DATA_DIR")
                  or Path.home() / "tensorflow_datasets").expanduser())


@SOURCES.register("tfds")
def _prepared_tfds(cfg, splits: Mapping[str, str]) -> dict[str, Split]:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  name, data_dir = cfg.name, _tfds_data_dir(cfg)
  try:
    return {alias: _read_tfds(name, split, data_dir, cfg.get("input_key", "image"),
                              cfg.get("target_key", "label"), cfg.get("input_max"))
            for alias, split in splits.items()}
  except tfds.core.registered.DatasetNotFoundError as e:
    raise DataError(f"unknown TFDS dataset {name!r}; the embedded datasets (data."
                    f"source=embedded) are {', '.join(builders.EMBEDDED)}.") from e
  except (NotImplementedError, AssertionError, FileNotFoundError) as e:
    # TFDS says "random access ... not supported" when no array_record files exist.
    raise DataError(f"TFDS dataset {name!r} is not prepared as array_record in "
                    f"{data_dir} (TFDS: {str(e).splitlines()[0]})\n"
                    + _prepare_hint(name, data_dir)) from e


@SOURCES.register("npz")
def _npz(cfg, splits: Mapping[str, str]) -> dict[str, Split]:
  if not cfg.get("path"):
    raise DataError("data.source=npz needs --config.data.path=/path/file.npz holding "
                    "arrays x_train, y_train, x_test, y_test.")
  file = Path(cfg.path).expanduser()
  if not file.is_file():
    raise DataError(f"npz data file {str(file)!r} does not exist. Set "
                    "--config.data.path to a .npz file holding arrays x_train, "
                    "y_train, x_test, y_test.")
  with np.load(file) as npz:
    arrays = {k: npz[k] for k in npz.files}
  out = {}
  for alias, split in splits.items():
    x_key, y_key = f"x_{split}", f"y_{split}"
    if x_key not in arrays or y_key not in arrays:
      raise DataError(f"{file} has no arrays {x_key!r}/{y_key!r} for split {split!r}; "
                      f"it holds {sorted(arrays)}.")
    if len(arrays[x_key]) != len(arrays[y_key]):
      raise DataError(f"{file}: {x_key} has {len(arrays[x_key])} rows but {y_key} has "
                      f"{len(arrays[y_key])}.")
    out[alias] = {"inputs": _scale_inputs(arrays[x_key], cfg.get("input_max")),
                  "targets": arrays[y_key]}
  return out


@SOURCES.register("inline")
def _inline(cfg, splits: Mapping[str, str]) -> dict[str, Split]:
  out = {}
  for alias, split in splits.items():
    if split not in cfg.inline:
      raise DataError(f"inline data has no split {split!r}; it has {sorted(cfg.inline)}")
    out[alias] = {"inputs": np.asarray(cfg.inline[split]["inputs"], np.float32),
                  "targets": np.asarray(cfg.inline[split]["targets"])}
  return out


def load_splits(cfg: Any, splits: Mapping[str, str]) -> dict[str, Split]:
  """Reads `splits` (alias -> source split name) of the configured dataset."""
  if str(cfg.get("name", "")).startswith("npz:"):
    raise DataError(f"data.name={cfg.name!r} is the old form; use "
                    f"--config.data.source=npz --config.data.path={cfg.name[4:]}")
  return SOURCES.get(cfg.get("source", "embedded"))(cfg, splits)
