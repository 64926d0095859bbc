"""The generic top-level name `losses`: a user's own module of that name must not
silently replace the loss library under nn_lib."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_a_users_losses_module_shadowing_the_library_is_an_import_error(tmp_path):
  (tmp_path / "losses.py").write_text("def my_loss(x):\n  return x\n")
  env = {"PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
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
