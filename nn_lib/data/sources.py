"""Where examples come from: embedded TFDS builders, a prepared TFDS data_dir, npz, inline.

Every source returns, per split, numpy arrays `inputs` (float32, scaled) and
`targets` (as stored: integer class labels or float regression targets). The
whole split is read into host memory: the course's datasets are small, and random
access by index then makes every batch a pure function of (seed, step).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nn_lib.data import builders

Split = dict[str, np.ndarray]


class DataError(ValueError):
  """The configured data cannot be found or read; the message says how to fix it."""


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


def _embedded(name: str, splits: Mapping[str, str], cfg) -> dict[str, Split]:
  builder_cls = builders.EMBEDDED[name]
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


def _prepared_tfds(name: str, splits: Mapping[str, str], cfg) -> dict[str, Split]:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  data_dir = _tfds_data_dir(cfg)
  try:
    return {alias: _read_tfds(name, split, data_dir, cfg.get("input_key", "image"),
                              cfg.get("target_key", "label"), cfg.get("input_max"))
            for alias, split in splits.items()}
  except tfds.core.registered.DatasetNotFoundError as e:
    raise DataError(f"unknown dataset {name!r}: it is neither embedded "
                    f"({', '.join(builders.EMBEDDED)}), 'npz:PATH', 'inline', nor a "
                    f"TFDS dataset name.") from e
  except (NotImplementedError, AssertionError, FileNotFoundError) as e:
    # TFDS says "random access ... not supported" when no array_record files exist.
    raise DataError(f"TFDS dataset {name!r} is not prepared as array_record in "
                    f"{data_dir} (TFDS: {str(e).splitlines()[0]})\n"
                    + _prepare_hint(name, data_dir)) from e


def _npz(path: str, splits: Mapping[str, str], cfg) -> dict[str, Split]:
  file = Path(path).expanduser()
  if not file.is_file():
    raise DataError(f"npz data file {str(file)!r} does not exist. Give "
                    "data.name='npz:/absolute/path/file.npz' holding arrays x_train, "
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


def _inline(splits: Mapping[str, str], cfg) -> dict[str, Split]:
  out = {}
  for alias, split in splits.items():
    if split not in cfg.inline:
      raise DataError(f"inline data has no split {split!r}; it has {sorted(cfg.inline)}")
    out[alias] = {"inputs": np.asarray(cfg.inline[split]["inputs"], np.float32),
                  "targets": np.asarray(cfg.inline[split]["targets"])}
  return out


def load_splits(cfg: Any, splits: Mapping[str, str]) -> dict[str, Split]:
  """Reads `splits` (alias -> source split name) of the dataset `cfg.name`."""
  name = cfg.name
  if name in builders.EMBEDDED:
    return _embedded(name, splits, cfg)
  if name.startswith("npz:"):
    return _npz(name[len("npz:"):], splits, cfg)
  if name == "inline":
    return _inline(splits, cfg)
  return _prepared_tfds(name, splits, cfg)
