"""Generic names: a user's own `losses` module must not silently replace the loss
library under nn_lib, and an installed copy puts no generic `experiments` or
`studies` package into site-packages."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO, other_pythonpath


def test_a_users_losses_module_shadowing_the_library_is_an_import_error(tmp_path):
  (tmp_path / "losses.py").write_text("def my_loss(x):\n  return x\n")
  env = {"PYTHONPATH": os.pathsep.join([str(REPO), *other_pythonpath()]),
         "JAX_PLATFORMS": "cpu"}
  # `python -c` puts the working directory first on sys.path, as a notebook does
  proc = subprocess.run([sys.executable, "-c", "import nn_lib"], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 1
  assert (f"ImportError: 'import losses' finds '{tmp_path / 'losses.py'}', which is not "
          "the loss library nn_lib needs (it has no LOSSES table). A file or folder named "
          "'losses' in the working directory or on PYTHONPATH shadows it: rename it, or "
          "run from another directory.") in proc.stderr
  ok = subprocess.run([sys.executable, "-c", "import nn_lib, losses; print(losses.__file__)"],
                      cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
  assert ok.returncode == 0 and ok.stdout.strip() == str(REPO / "losses" / "__init__.py")


def _build_wheel(tmp_path: Path) -> Path:
  """The project's wheel, built from a copy of the sources (an in-tree build/ could
  carry modules deleted since)."""
  src = tmp_path / "src"
  ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
  for name in ("losses", "nn_lib", "experiments"):
    shutil.copytree(REPO / name, src / name, ignore=ignore)
  for name in ("pyproject.toml", "README.md"):
    shutil.copy(REPO / name, src / name)
  subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                  "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                 check=True, capture_output=True, timeout=300)
  return next((tmp_path / "dist").glob("nn_lib-*.whl"))


def test_the_installed_copy_holds_the_experiments_under_the_projects_name(tmp_path,
                                                                           embedded_dir):
  wheel = _build_wheel(tmp_path)
  with zipfile.ZipFile(wheel) as archive:
    files = {n for n in archive.namelist() if ".dist-info/" not in n}
    archive.extractall(tmp_path / "site")
  # No generic top-level names but `losses`, which other projects import by that name.
  assert {n.split("/")[0] for n in files} == {"losses", "nn_lib", "nn_lib_experiments"}
  sources = {str(p.relative_to(REPO)).replace("experiments/", "nn_lib_experiments/", 1)
             for folder in ("losses", "nn_lib", "experiments")
             for p in (REPO / folder).rglob("*.py")}
  assert sources <= files, f"pyproject's package list misses {sorted(sources - files)}"
  assert "nn_lib/data/assets/mnist10k.npz" in files
  assert "nn_lib/data/assets/mnist_lenet.msgpack" in files  # dcgan_digits' judge
  assert "nn_lib/data/assets/analogies.txt" in files  # the word vectors' analogy questions

  # The README's example, run from a user's directory holding modules of the generic
  # names, on the installed copy alone.
  user = tmp_path / "user"
  user.mkdir()
  for name in ("experiments", "studies", "train"):
    (user / f"{name}.py").write_text("raise SystemExit('the wrong module was imported')\n")
  readme = (REPO / "README.md").read_text()
  example = re.search(r"## Installing\n.*?```python\n(.*?)```", readme, re.S).group(1)
  code = example + "print(nn_lib_experiments.__file__, result.trained_steps)\n"
  env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), *other_pythonpath()]),
         "JAX_PLATFORMS": "cpu",
         "NN_LIB_DATA_DIR": str(embedded_dir), "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}
  proc = subprocess.run([sys.executable, "-c", code], cwd=user, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.split() == [
      str(tmp_path / "site" / "nn_lib_experiments" / "__init__.py"), "6"]
  assert (user / "runs" / "digits_mlp_smoke" / "summary.json").exists()


def test_a_training_submodule_imports_without_the_loop_and_its_heavy_imports():
  """train.py checks `--config.optimizer.*` keys with nn_lib.training.optim and joins
  a cluster with nn_lib.training.distributed before anything else: importing them
  must not pull in the loop with orbax, matplotlib and TFDS (about 2 s that a
  command-line error would wait for). The package's names still resolve."""
  code = ("import sys; import nn_lib.training.optim, nn_lib.training.distributed; "
          "heavy = [m for m in ('orbax.checkpoint', 'matplotlib', 'tensorflow_datasets', "
          "'nn_lib.training.loop') if m in sys.modules]; print(heavy); "
          "import nn_lib.training as t; from nn_lib.training import Result; "
          "print(sorted(t.__all__) == sorted(t._HOME), Result.__module__)")
  out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO),
                                                                         *other_pythonpath()])},
                       check=True).stdout.split("\n")
  assert out[0] == "[]", out
  assert out[1] == "True nn_lib.training.result", out
