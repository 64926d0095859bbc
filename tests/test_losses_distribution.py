"""`losses` as its own distribution (issue 15): losses/pyproject.toml builds the
wheel `nn-lib-losses`, which needs jax and numpy and nothing else of the project.

The wheel goes into a fresh virtual environment (no system site-packages, no pip)
with `--no-deps`. Downloading jax and jaxlib into it on every run would take
minutes and the network, so the environment sees, through a .pth file, the
distributions that installing the wheel's requirements pulls in, and only those:
the closure of its Requires-Dist over the versions installed here, read from
their metadata, linked one by one from the project's site-packages. `pip check`
in that environment then proves the closure complete, and an import of flax,
optax, TFDS, TensorFlow, torch or matplotlib there fails.
"""
from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

# What the training stack brings and the loss library must not.
HEAVY = ("flax", "optax", "orbax-checkpoint", "tensorflow-datasets", "tensorflow", "torch",
         "matplotlib", "scikit-learn")
HEAVY_IMPORTS = ("flax", "optax", "orbax", "tensorflow_datasets", "tensorflow", "torch",
                 "matplotlib", "sklearn")


def _version_in_source() -> str:
  """losses.__version__ as written in losses/__init__.py (the single source)."""
  source = (REPO / "losses" / "__init__.py").read_text()
  return re.search(r'^__version__ = "([^"]+)"$', source, re.M).group(1)


def _build_wheel(tmp_path: Path) -> Path:
  """The wheel, built from a copy of losses/ by the PEP 517 hooks in the order pip
  and `python -m build` call them (without their isolated environment, which would
  download setuptools)."""
  src = tmp_path / "src"
  shutil.copytree(REPO / "losses", src / "losses",
                  ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
  hooks = ("from setuptools import build_meta as b\n"
           "b.get_requires_for_build_wheel()\n"
           f"b.prepare_metadata_for_build_wheel({str(tmp_path / 'meta')!r})\n"
           f"b.build_wheel({str(tmp_path / 'dist')!r})\n")
  (tmp_path / "meta").mkdir()
  (tmp_path / "dist").mkdir()
  proc = subprocess.run([sys.executable, "-c", hooks], cwd=src / "losses",
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  # The build outputs went beside losses/ (build/, *.egg-info), not among the sources.
  assert sorted(p.name for p in (src / "losses").iterdir() if p.is_dir()) == []
  return next((tmp_path / "dist").glob("nn_lib_losses-*.whl"))


def _closure(requirements: list[str]) -> dict[str, importlib.metadata.Distribution]:
  """The distributions `pip install` of these requirements pulls in, resolved
  against the versions installed in this environment (each must satisfy the
  requirement that asks for it)."""
  found: dict[str, importlib.metadata.Distribution] = {}
  todo = [(Requirement(r), "") for r in requirements]
  while todo:
    req, extra = todo.pop()
    if req.marker is not None and not req.marker.evaluate({"extra": extra}):
      continue
    name = canonicalize_name(req.name)
    dist = importlib.metadata.distribution(req.name)
    assert req.specifier.contains(dist.version, prereleases=True), (req, dist.version)
    if name in found:
      continue
    found[name] = dist
    for extra_name in ("", *req.extras):
      todo.extend((Requirement(r), extra_name) for r in dist.requires or [])
  return found


def _top_level_entries(dist: importlib.metadata.Distribution) -> set[str]:
  """The names a distribution puts into site-packages (packages, .libs folders,
  its dist-info), from its RECORD; scripts in bin/ are left out."""
  return {f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")}


CHECKS = textwrap.dedent('''
  import importlib, os, sys
  import numpy as np
  import jax, jax.numpy as jnp
  import losses

  assert losses.__file__.startswith(sys.prefix), losses.__file__
  for name in HEAVY_IMPORTS:
    try:
      importlib.import_module(name)
    except ImportError:
      continue
    raise AssertionError(name + " is importable in the losses-only environment")
  print("version", losses.__version__)

  def check(name, loss, args, expected, grad_expected, **kw):
    """jit of the per-example values and jit(grad) of their sum wrt args[0]."""
    value = jax.jit(lambda *a: loss(*a, **kw))(*args)
    grad = jax.jit(jax.grad(lambda x, *rest: jnp.sum(loss(x, *rest, **kw))))(*args)
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(grad, grad_expected, rtol=1e-5, atol=1e-6, err_msg=name)
    print("ok", name, np.round(np.asarray(value), 4).tolist())

  # softmax CE with integer labels: lse(z) - z_y, gradient softmax(z) - onehot(y)
  z = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], np.float32)
  y = np.array([0, 1])
  p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
  ce = np.log(np.exp(z).sum(-1)) - z[[0, 1], y]
  np.testing.assert_allclose(ce[0], 0.4170300, rtol=1e-6)  # the textbook example
  check("softmax_cross_entropy_with_integer_labels",
        losses.softmax_cross_entropy_with_integer_labels, (z, y), ce, p - np.eye(3)[y])

  # sigmoid BCE: softplus(z) - t z, gradient sigmoid(z) - t
  z = np.array([0.0, 2.0, -1.0], np.float32)
  t = np.array([1.0, 0.0, 1.0], np.float32)
  check("sigmoid_binary_cross_entropy", losses.sigmoid_binary_cross_entropy, (z, t),
        [0.6931472, 2.1269280, 1.3132617], 1 / (1 + np.exp(-z)) - t)

  # huber (delta 1): d^2/2 inside, delta(|d| - delta/2) outside; gradient clip(d)
  s = np.array([0.5, -2.0, 3.0], np.float32)
  check("huber", losses.huber, (s, np.zeros(3, np.float32)), [0.125, 1.5, 2.5],
        [0.5, -1.0, 1.0])

  # Weston-Watkins hinge: sum_{j != y} max(0, s_j - s_y + 1) = 2.5 + 0
  s = np.array([[1.0, 2.5, -0.5]], np.float32)
  check("multiclass_hinge", losses.multiclass_hinge, (s, np.array([0])), [2.5],
        [[-1.0, 1.0, 0.0]])

  # triplet: max(0, |a-p| - |a-n| + 1) = 5 - 1 + 1; d/da = (a-p)/5 - (a-n)/1
  a = np.array([[0.0, 0.0]], np.float32)
  check("triplet_margin", losses.triplet_margin,
        (a, np.array([[3.0, 4.0]], np.float32), np.array([[1.0, 0.0]], np.float32)),
        [5.0], [[0.4, -0.8]])

  # dice on a 2 x 2 image, 2 classes: 1 - mean_c (2 I_c + 1) / (P_c + T_c + 1), p = softmax
  z = np.array([[[[2.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [-1.0, 0.5]]]], np.float32)
  t = np.array([[[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]], np.float32)
  def dice_formula(z, t):
    p = jax.nn.softmax(z, axis=-1)
    i, s = jnp.sum(p * t, (1, 2)), jnp.sum(p + t, (1, 2))
    return 1 - jnp.mean((2 * i + 1) / (s + 1), -1)
  check("dice", losses.dice, (z, t), dice_formula(z, t),
        jax.grad(lambda z: jnp.sum(dice_formula(z, t)))(z))

  # CTC, 3 frames of uniform logits over {blank, 1, 2}, label "1": 6 of the 27
  # paths collapse to it, so -log(6/27); gradient 1/3 - occupancy of each class
  check("ctc", losses.ctc, (np.zeros((1, 3, 3), np.float32), np.array([[1]])),
        [np.log(27 / 6)], [[[-1 / 6, -1 / 6, 1 / 3], [0, -1 / 3, 1 / 3],
                            [-1 / 6, -1 / 6, 1 / 3]]])
''')


def test_the_losses_wheel_installs_and_runs_with_jax_and_numpy_alone(tmp_path):
  wheel = _build_wheel(tmp_path)
  version = _version_in_source()
  assert wheel.name == f"nn_lib_losses-{version}-py3-none-any.whl"
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    metadata = archive.read(f"nn_lib_losses-{version}.dist-info/METADATA").decode()
  assert {n.split("/")[0] for n in names} == {"losses", f"nn_lib_losses-{version}.dist-info"}
  assert "losses/py.typed" in names
  requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines()
              if line.startswith("Requires-Dist:")]
  assert sorted(canonicalize_name(Requirement(r).name) for r in requires) == ["jax", "numpy"]

  closure = _closure(requires)
  assert not set(closure) & {canonicalize_name(n) for n in HEAVY}, sorted(closure)
  # jax's own requirements, at this jax: nothing beyond the array stack
  assert set(closure) == {"jax", "jaxlib", "numpy", "scipy", "ml-dtypes", "opt-einsum"}

  # A fresh environment without pip; this environment's pip installs into it.
  env_dir = tmp_path / "venv"
  subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True,
                 timeout=60)
  python = env_dir / "bin" / "python"
  start = time.perf_counter()
  subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                  "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True,
                 timeout=120)
  install_s = time.perf_counter() - start
  site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                              "get_paths()['purelib'])"], check=True, capture_output=True,
                             text=True).stdout.strip())
  installed = sum(f.stat().st_size for f in (site / "losses").rglob("*") if f.is_file())
  print(f"nn-lib-losses: wheel {wheel.stat().st_size / 1e3:.0f} kB, installed "
        f"{installed / 1e3:.0f} kB, pip install --no-deps {install_s:.1f} s")

  # The closure, and only it, made visible to the fresh environment.
  shim = tmp_path / "deps"
  shim.mkdir()
  for dist in closure.values():
    for entry in _top_level_entries(dist):
      (shim / entry).symlink_to(dist.locate_file(entry))
  (site / "deps.pth").write_text(f"{shim}\n")
  check = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "check"],
                         capture_output=True, text=True, timeout=120)
  assert check.returncode == 0, check.stdout + check.stderr

  env = {"PATH": os.environ["PATH"], "JAX_PLATFORMS": "cpu", "HOME": str(tmp_path),
         "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}
  code = f"HEAVY_IMPORTS = {HEAVY_IMPORTS!r}\n" + CHECKS
  # -I: no PYTHONPATH, no user site, not the working directory (which is not the
  # repository either): `import losses` can only find the installed wheel.
  proc = subprocess.run([str(python), "-I", "-c", code], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=180)
  assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
  lines = proc.stdout.splitlines()
  assert lines[0] == f"version {version}"
  assert [line.split()[1] for line in lines[1:]] == [
      "softmax_cross_entropy_with_integer_labels", "sigmoid_binary_cross_entropy", "huber",
      "multiclass_hinge", "triplet_margin", "dice", "ctc"]
