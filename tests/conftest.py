"""Shared fixtures: a private embedded-data dir, in-process experiment runs, and a
`train.py` subprocess runner.

The backend follows the environment: CPU here, the accelerator where there is one.
Only tests that simulate several devices force the CPU (forced host devices).

Most tests compile many small programs and run each briefly (the loss library, the
model zoo, smoke runs): the suite runs with XLA's cheapest compile settings, which
halve their time. The few runs that train for thousands of steps, where optimized
code pays for its compile, are `train.py` subprocesses given `optimized=True`.
"""
from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FAST_COMPILE_XLA_FLAGS = ("--xla_backend_optimization_level=0",
                          "--xla_llvm_disable_expensive_passes=true",
                          # a GPU's GEMM and convolution autotuning compiles and
                          # times candidate kernels for every new shape
                          "--xla_gpu_autotune_level=0")
# XLA aborts the process on a flag it does not know, and jaxlib 0.11 dropped this
# one (its CPU backend always uses the fusion emitters).
if tuple(int(p) for p in importlib.metadata.version("jaxlib").split(".")[:2]) < (0, 11):
  FAST_COMPILE_XLA_FLAGS += (
      "--xla_cpu_use_fusion_emitters=false",
      # One LLVM module per program instead of 32 compiled on parallel threads (the
      # suite keeps both cores busy already), and copy insertion without its region
      # analysis: together about 15% less compile CPU (measured on jaxlib 0.10; kept
      # to the versions where these flags were checked to exist).
      "--xla_cpu_parallel_codegen_split_count=1",
      "--xla_cpu_copy_insertion_use_region_analysis=false")
# The suite checks that a resumed run is bit-identical to an uninterrupted one; on
# a GPU that needs deterministic scatter-adds and reductions (no atomics) and no
# run-to-run autotuning choices. No effect on a CPU.
DETERMINISTIC_XLA_FLAGS = ("--xla_gpu_deterministic_ops=true",)
# Set before any test imports JAX (and inherited by pytest-xdist's workers); the
# user's own flags are kept, for the subprocesses that run optimized.
USER_XLA_FLAGS = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split()
                          if f not in FAST_COMPILE_XLA_FLAGS)
os.environ["XLA_FLAGS"] = " ".join([*FAST_COMPILE_XLA_FLAGS, *DETERMINISTIC_XLA_FLAGS,
                                    USER_XLA_FLAGS]).strip()

# A session starts about ninety Python processes (the xdist workers, train.py runs),
# each importing this project's 27,000 lines and rewriting the test modules' asserts.
# Where PYTHONDONTWRITEBYTECODE forbids caching their bytecode, every process
# compiles them again: 0.6 s per train.py start and 2 s per worker (measured). The
# session lets Python keep them in __pycache__ (git-ignored), as it does by default.
# Not PYTHONPYCACHEPREFIX: a prefix hides the installed packages' own bytecode, and
# the first processes would compile all of JAX again. Inherited by the workers,
# which start after this.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def _runs_tests(config) -> bool:
  """False in pytest-xdist's controller, which only hands out tests."""
  return hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def pytest_configure(config):
  """Collection imports JAX, Flax, Optax, TFDS and every test module: millions of
  objects that live for the whole session and no garbage. Python's cyclic
  collector would walk them over and over; it is off until they are in."""
  if _runs_tests(config):
    gc.disable()


def pytest_collection_finish(session):
  """The collector resumes, never walking what collection made (frozen) and running
  less often: tracing and compiling make many short-lived objects, nearly all
  freed by reference counting, and its default (every 700 allocations) spent
  4-6% of a smoke run's CPU (measured; 1% with these settings)."""
  if _runs_tests(session.config):
    gc.freeze()
    gc.set_threshold(10_000, 20, 10)
    gc.enable()


def pytest_collection_modifyitems(items):
  """Tests marked long (tens of seconds on some backend), then the train.py
  subprocess runs (marked slow, up to 45 s each) go first: a long test that
  starts last keeps its worker busy while the others idle."""
  items.sort(key=lambda item: (item.get_closest_marker("long") is None,
                               item.get_closest_marker("slow") is None))


@pytest.fixture(scope="session", autouse=True)
def _float32_matmuls():
  """GPUs multiply float32 matrices in TF32 by default (about 3 significant
  digits); the tests compare with float64 references and hand-computed values to
  float32 accuracy, so every matrix product runs in full float32 (no change on a
  CPU). Session-wide, so that module-scoped fixtures (run before any function's
  fixture) compute in float32 too; `subprocess_env` sets the same for train.py."""
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update("jax_default_matmul_precision", "float32")
  yield


@pytest.fixture(scope="session", autouse=True)
def _no_training_curves():
  """Every run draws plots/curves.png at its end (0.4-0.6 s of matplotlib each);
  the suite's in-process runs, about a hundred, look at other outputs. The
  `training_curves` fixture puts the real plot back for a test that checks it;
  train.py subprocesses always draw it (tests/test_train_cli.py checks it)."""
  from nn_lib import plots  # pylint: disable=g-import-not-at-top
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(plots, "training_curves", lambda rows, path: None)
    yield


@pytest.fixture
def training_curves(monkeypatch):
  """For a test that checks an in-process run's plots/curves.png."""
  from nn_lib.plots import curves  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr("nn_lib.plots.training_curves", curves.training_curves)


def session_dir(tmp_path_factory) -> Path:
  """A folder of this test session that all its xdist workers share: the session's
  base temp folder (a worker's own is a subfolder of it). Not its parent, which
  outlives the session: work shared there would be reused, stale, by the next."""
  base = tmp_path_factory.getbasetemp()
  return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory) -> Path:
  """Embedded datasets prepared once per test session, never in ~/.cache."""
  return session_dir(tmp_path_factory) / "nn_lib_embedded"


@pytest.fixture(autouse=True)
def _embedded_env(embedded_dir, monkeypatch):
  monkeypatch.setenv("NN_LIB_DATA_DIR", str(embedded_dir))


# Least recently used programs are evicted beyond this (one session writes ~26 MB).
XLA_CACHE_MAX_BYTES = 256 * 2**20


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache(request, tmp_path_factory):
  """One XLA compilation cache for the session, its workers and the train.py
  subprocesses: many tests train the same small configs, and on 2 CPU cores
  compiling is most of what a smoke run costs. It is kept between sessions in
  pytest's cache folder (.pytest_cache/d/xla, git-ignored; `pytest --cache-clear`
  empties it), so a second `make test` compiles only what changed: an entry's key
  is the program, the compile options and the jaxlib version, so a stale entry is
  never used. Under `-p no:cacheprovider` the cache lives for the session only."""
  import jax  # pylint: disable=g-import-not-at-top
  cache_provider = getattr(request.config, "cache", None)
  cache = str(cache_provider.mkdir("xla") if cache_provider is not None
              else session_dir(tmp_path_factory) / "jax_cache")
  settings = {"jax_compilation_cache_dir": cache,
              "jax_persistent_cache_min_compile_time_secs": 0.2}
  if importlib.util.find_spec("filelock"):  # JAX's eviction needs it (torch brings it)
    settings["jax_compilation_cache_max_size"] = XLA_CACHE_MAX_BYTES
  for name, value in settings.items():
    os.environ[name.upper()] = str(value)
    jax.config.update(name, value)


def run_experiment(spec: str, workdir: Path, **overrides):
  """Runs experiment `spec` in-process (as train.py would) and returns its Result.

  Experiments that read a prepared TFDS dataset run on `tfds.testing.mock_data`
  (random examples generated from the dataset's real feature spec, read through
  the same `tfds.data_source` path), so the suite needs no downloaded data.
  """
  import experiments  # pylint: disable=g-import-not-at-top
  from nn_lib import studies  # pylint: disable=g-import-not-at-top
  cfg = experiments.get_config(spec)
  for key, value in overrides.items():
    cfg[key] = value
  mock = contextlib.nullcontext()
  if cfg.data.source == "tfds":
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    cfg.data.data_dir = str(workdir / "no_tfds_data")
    mock = tfds.testing.mock_data(num_examples=64, policy=tfds.testing.MockPolicy.USE_CODE)
  with mock:
    return studies.run(cfg, workdir)


def other_pythonpath() -> list[str]:
  """The PYTHONPATH entries that are not this checkout: where a machine without
  the dependencies installed (a GPU box given wheels) finds them."""
  return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
          if p and Path(p).resolve() != REPO]


def subprocess_env(devices: int = 1, optimized: bool = False, **extra: str) -> dict[str, str]:
  env = dict(os.environ)
  env["JAX_DEFAULT_MATMUL_PRECISION"] = "float32"
  env.update(extra)
  env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
  flags = ([*DETERMINISTIC_XLA_FLAGS, *USER_XLA_FLAGS.split()] if optimized
           else env.get("XLA_FLAGS", "").split())
  flags = [f for f in flags if "device_count" not in f]
  if devices > 1:
    # Several devices are simulated on the host: CPU only. A deadlocked collective
    # aborts after 60 s instead of hanging the suite.
    env["JAX_PLATFORMS"] = "cpu"
    flags += [f"--xla_force_host_platform_device_count={devices}",
              "--xla_cpu_collective_call_terminate_timeout_seconds=60"]
  env["XLA_FLAGS"] = " ".join(flags)
  return env


def run_train(*args: str, devices: int = 1, timeout: float = 300, check: bool = True,
              optimized: bool = False, **env: str) -> subprocess.CompletedProcess:
  """Runs `python train.py ARGS` (with `env` added to the environment) and returns
  the completed process (text output); `optimized`: with XLA's optimizing compile
  settings, for runs of thousands of steps."""
  proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO,
                        env=subprocess_env(devices, optimized, **env), capture_output=True,
                        text=True, timeout=timeout)
  if check and proc.returncode != 0:
    raise AssertionError(f"train.py {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stderr[-4000:]}")
  return proc
