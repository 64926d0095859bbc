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
import re
import unittest.mock
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
from absl import logging

from nn_lib.data import builders, split_cache
from nn_lib.data.validate import DataError, Split, check_splits, require_numeric
from nn_lib.registry import Registry

__all__ = ["DataError", "SOURCES", "Split", "load_splits"]


# (cfg.data, {alias: split name in the source}) -> {alias: Split}
SOURCES: Registry[Callable[[Any, Mapping[str, str]], dict[str, Split]]] = Registry("data source")


def _scale_inputs(x: np.ndarray, input_max: float | None) -> np.ndarray:
  if input_max is None:
    input_max = 255.0 if x.dtype == np.uint8 else 1.0
  return (x.astype(np.float32) / np.float32(input_max)).astype(np.float32)


# "split[:N]": the first N examples (TFDS refuses N beyond the split's size)
_FIRST_N = re.compile(r"^(?P<split>[\w.-]+)\[:(?P<n>\d+)\]$")


def _data_source(name: str, split: str, data_dir: str, alias: str, origin: str):
  """tfds.data_source, with a split the dataset lacks (TFDS: a ValueError "Unknown
  split ...") a DataError naming the config key and the dataset's splits. The
  first N examples of a split with fewer are the whole split."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  try:
    return tfds.data_source(name, split=split, data_dir=data_dir, download=False)
  except ValueError as e:
    first = _FIRST_N.match(split)
    if first and "incompatible with" in str(e):
      return _data_source(name, first["split"], data_dir, alias, origin)
    if "split" not in str(e).lower():
      raise
    try:
      valid = list(tfds.builder(name, data_dir=data_dir).info.splits)
    except Exception:  # pylint: disable=broad-except  (only for the message)
      valid = None
    its = f"its splits are {valid}" if valid else "it lists its splits"
    raise DataError(
      f"config.data.{alias}_split={split!r} is not a split of {origin} (TFDS: "
      f"{str(e).splitlines()[0]}); {its}: set --config.data.{alias}_split to one of "
      f"them (TFDS slices such as 'train[:80%]' work too)."
    ) from None


# Splits already decoded in this process (nn_lib.data.split_cache: a study's every
# variation, and every test of a session, reads the same splits).
DECODED_SPLITS = split_cache.SplitCache()


def _read_tfds(
  name: str,
  split: str,
  data_dir: str,
  input_key: str,
  target_key: str,
  input_max: float | None,
  *,
  alias: str = "train",
  origin: str = "",
) -> Split:
  source = _data_source(name, split, data_dir, alias, origin or f"dataset {name!r}")
  keys = list(range(len(source)))
  cache_key: tuple | None = None
  if isinstance(getattr(source, "data_source", None), unittest.mock.Mock):
    # Tests (and smoke runs under tfds.testing.mock_data) must not pass for real data.
    logging.warning(
      "TFDS dataset %r split %r is tfds.testing.mock_data: %d random "
      "examples, not the real data; its metrics mean nothing.",
      name,
      split,
      len(keys),
    )
  elif files := split_cache.prepared_files(data_dir, name):
    cache_key = (
      name,
      split,
      str(Path(data_dir).resolve()),
      input_key,
      target_key,
      input_max,
      files,
    )
    cached = DECODED_SPLITS.get(cache_key)
    if cached is not None:
      return cached
  try:
    rows = source.__getitems__(keys)  # one batched read: about 2x faster
  except TypeError:  # tfds.testing.mock_data's sources only read one at a time
    rows = [source[k] for k in keys]
  missing = {input_key, target_key} - set(rows[0]) if rows else set()
  if missing:
    raise DataError(
      f"dataset {name!r} has no feature(s) {sorted(missing)}; its "
      f"features are {sorted(rows[0])}. Set config.data.input_key / "
      "config.data.target_key."
    )
  inputs = np.stack([r[input_key] for r in rows])
  targets = np.stack([np.asarray(r[target_key]) for r in rows])
  decoded = {"inputs": _scale_inputs(inputs, input_max), "targets": targets}
  if cache_key is not None:
    DECODED_SPLITS.put(cache_key, decoded)
  return decoded


@SOURCES.register("embedded")
def _embedded(cfg, splits: Mapping[str, str]) -> dict[str, Split]:
  name = cfg.name
  if name not in builders.EMBEDDED:
    raise DataError(
      f"{name!r} is not an embedded dataset (those are "
      f"{', '.join(builders.EMBEDDED)}); for a TFDS dataset prepared as "
      "array_record set --config.data.source=tfds."
    )
  builder_cls = builders.EMBEDDED.get(name)
  data_dir = builders.prepare(name, cfg.get("embedded_dir"))
  return {
    alias: _read_tfds(
      name,
      split,
      str(data_dir),
      builder_cls.INPUT_KEY,
      builder_cls.TARGET_KEY,
      builder_cls.INPUT_MAX,
      alias=alias,
      origin=f"embedded dataset {name!r}",
    )
    for alias, split in splits.items()
  }


def _prepare_hint(name: str, data_dir: str) -> str:
  return (
    f"Prepare it once on a machine with internet access, as array_record (no "
    f"TensorFlow needed to read it afterwards):\n"
    f"    pip install tensorflow tensorflow-datasets array_record\n"
    f"    tfds build {name} --file_format=array_record --data_dir={data_dir}\n"
    f"then copy {data_dir}/{name} here, and pass --config.data.data_dir=DIR or set "
    f"TFDS_DATA_DIR. This project never downloads (download=False): offline, a "
    f"download hangs for minutes and leaves temporary directories behind."
  )


def _tfds_data_dir(cfg) -> str:
  return str(
    Path(
      cfg.get("data_dir") or os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets"
    ).expanduser()
  )


@SOURCES.register("tfds")
def _prepared_tfds(cfg, splits: Mapping[str, str]) -> dict[str, Split]:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  name, data_dir = cfg.name, _tfds_data_dir(cfg)
  try:
    return {
      alias: _read_tfds(
        name,
        split,
        data_dir,
        cfg.get("input_key", "image"),
        cfg.get("target_key", "label"),
        cfg.get("input_max"),
        alias=alias,
        origin=f"TFDS dataset {name!r}",
      )
      for alias, split in splits.items()
    }
  except tfds.core.registered.DatasetNotFoundError as e:
    raise DataError(
      f"unknown TFDS dataset {name!r}; the embedded datasets (data."
      f"source=embedded) are {', '.join(builders.EMBEDDED)}."
    ) from e
  except (NotImplementedError, AssertionError, FileNotFoundError) as e:
    # TFDS says "random access ... not supported" when no array_record files exist.
    raise DataError(
      f"TFDS dataset {name!r} is not prepared as array_record in "
      f"{data_dir} (TFDS: {str(e).splitlines()[0]})\n" + _prepare_hint(name, data_dir)
    ) from e


@SOURCES.register("npz")
def _npz(cfg, splits: Mapping[str, str]) -> dict[str, Split]:
  if not cfg.get("path"):
    raise DataError(
      "data.source=npz needs --config.data.path=/path/file.npz holding "
      "arrays x_train, y_train, x_test, y_test."
    )
  file = Path(cfg.path).expanduser()
  if not file.is_file():
    raise DataError(
      f"npz data file {str(file)!r} does not exist. Set "
      "--config.data.path to a .npz file holding arrays x_train, "
      "y_train, x_test, y_test."
    )
  arrays = _read_npz(file)
  out = {}
  for alias, split in splits.items():
    x_key, y_key = f"x_{split}", f"y_{split}"
    if x_key not in arrays or y_key not in arrays:
      raise DataError(
        f"{file} has no arrays {x_key!r}/{y_key!r} for split {split!r}; it holds {sorted(arrays)}."
      )
    require_numeric(arrays[x_key], f"{file}, split {alias!r}: {x_key}")
    out[alias] = {
      "inputs": _scale_inputs(arrays[x_key], cfg.get("input_max")),
      "targets": arrays[y_key],
    }
  return out


def _read_npz(file: Path) -> dict[str, np.ndarray]:
  """Every array of an .npz archive; anything else (text, a pickle, a single .npy
  array, object arrays) is a DataError rather than a numpy/zipfile traceback."""
  save_hint = (
    "Save the arrays with np.savez(path, x_train=..., y_train=..., "
    "x_test=..., y_test=...) (numeric arrays only)."
  )
  unreadable = (ValueError, OSError, EOFError, zipfile.BadZipFile)
  if not zipfile.is_zipfile(file):  # numpy would try it as a pickle and say so
    with open(file, "rb") as f:
      head = f.read(16)
    kind = (
      "a single .npy array"
      if head.startswith(b"\x93NUMPY")
      else f"not a zip archive; it starts with {head!r}"
    )
    raise DataError(f"{file} is not an .npz archive of named arrays ({kind}). {save_hint}")
  try:
    loaded = np.load(file, allow_pickle=False)
  except unreadable as e:
    raise DataError(
      f"{file} is not a readable .npz archive (numpy: {str(e).splitlines()[0][:120]}). {save_hint}"
    ) from e
  with loaded:
    try:
      return {k: loaded[k] for k in loaded.files}
    except unreadable as e:  # object (pickled) arrays, a damaged member
      raise DataError(
        f"{file} has an array numpy cannot read without pickle or at all "
        f"(numpy: {str(e).splitlines()[0][:120]}). {save_hint}"
      ) from e


@SOURCES.register("inline")
def _inline(cfg, splits: Mapping[str, str]) -> dict[str, Split]:
  out = {}
  for alias, split in splits.items():
    if split not in cfg.inline:
      raise DataError(f"inline data has no split {split!r}; it has {sorted(cfg.inline)}")
    inputs = np.asarray(cfg.inline[split]["inputs"])
    require_numeric(inputs, f"config.data.inline, split {alias!r}: {split}.inputs")
    out[alias] = {
      "inputs": inputs.astype(np.float32),
      "targets": np.asarray(cfg.inline[split]["targets"]),
    }
  return out


def _provenance(cfg: Any, splits: Mapping[str, str]):
  """(where the data is from, alias -> the user's names of its two arrays, whether
  the source declares its classes) for the validation messages."""
  source = cfg.get("source", "embedded")
  if source == "npz":
    return (
      str(Path(cfg.path).expanduser()),
      {a: (f"x_{s}", f"y_{s}") for a, s in splits.items()},
      False,
    )
  if source == "inline":
    return (
      "config.data.inline",
      {a: (f"{s}.inputs", f"{s}.targets") for a, s in splits.items()},
      False,
    )
  if source == "embedded" and cfg.name in builders.EMBEDDED:
    keys = builders.EMBEDDED.get(cfg.name)
    return (
      f"embedded dataset {cfg.name!r}",
      {a: (keys.INPUT_KEY, keys.TARGET_KEY) for a in splits},
      True,
    )
  tfds_keys = (cfg.get("input_key", "image"), cfg.get("target_key", "label"))
  # TFDS class labels are ClassLabel features: in range by construction.
  return (f"{source} dataset {cfg.get('name')!r}", {a: tfds_keys for a in splits}, source == "tfds")


def load_splits(cfg: Any, splits: Mapping[str, str]) -> dict[str, Split]:
  """Reads `splits` (alias -> source split name) of the configured dataset and
  checks every one of them (`validate.check_splits`)."""
  if str(cfg.get("name", "")).startswith("npz:"):
    raise DataError(
      f"data.name={cfg.name!r} is the old form; use "
      f"--config.data.source=npz --config.data.path={cfg.name[4:]}"
    )
  out = SOURCES.get(cfg.get("source", "embedded"))(cfg, splits)
  origin, names, classes_declared = _provenance(cfg, splits)
  check_splits(out, cfg, origin, names, classes_declared=classes_declared)
  return out
