"""Trains the LeNet-5 that judges generated digits (nn_lib.models.pretrained)
and writes its parameters to nn_lib/data/assets/mnist_lenet.msgpack.

It is the `mnist10k_lenet` experiment unchanged (8,000 mnist10k training digits,
2,000 steps of Adam, inputs in [0, 1]); the script refuses to write a classifier
under 97% test accuracy. Run from the repository root:

    python launch/make_mnist_lenet.py [--workdir DIR] [--output PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import flax.serialization
import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root
import experiments
from nn_lib import trainers

MIN_ACCURACY = 0.97


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default=None, help="training workdir (default: a temp dir)")
  parser.add_argument(
    "--output",
    default=str(
      Path(__file__).resolve().parents[1] / "nn_lib" / "data" / "assets" / "mnist_lenet.msgpack"
    ),
  )
  args = parser.parse_args()
  cfg = experiments.get_config("mnist10k_lenet")
  workdir = args.workdir or tempfile.mkdtemp(prefix="mnist_lenet_")
  result = trainers.get(cfg.trainer)(cfg, workdir)
  accuracy = result.final["test/accuracy"]
  if accuracy < MIN_ACCURACY:
    raise SystemExit(f"test accuracy {accuracy:.4f} < {MIN_ACCURACY}; not writing it")
  assert result.state is not None, "the supervised trainer returns its state"
  params = jax.tree.map(lambda x: np.asarray(x, np.float32), result.state["params"])
  data = flax.serialization.msgpack_serialize(params)
  Path(args.output).write_bytes(data)
  print(
    f"test accuracy {accuracy:.4f}; wrote {args.output} ({len(data):,} bytes, "
    f"SHA-256 {hashlib.sha256(data).hexdigest()})"
  )


if __name__ == "__main__":
  main()
