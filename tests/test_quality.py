"""The code-quality gates (issue 15), configured in pyproject.toml and run from the
repository root exactly as a developer runs them: `ruff check` (defect rules),
`ruff format --check` and `mypy` over losses/, nn_lib/, train.py, launch/ and bench/;
`ruff check` over tests/ and experiments/ too.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

BIN = Path(sys.executable).parent
# What the format and type gates cover (pyproject.toml's [tool.mypy] files; the
# formatter sees everything that ruff does not exclude)
GATED = ("losses", "nn_lib", "train.py", "launch", "bench")


def _python_files() -> list[Path]:
  files = []
  for name in GATED:
    path = REPO / name
    files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
  return files


def _run(tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
  # ruff and mypy come with the `test` extra; a missing one is a failure, not a skip
  assert (BIN / tool).exists(), f"{tool} is not installed: pip install -e '.[test]'"
  # NO_COLOR: plain messages in the assertion text
  return subprocess.run([str(BIN / tool), *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout, env={**os.environ, "NO_COLOR": "1"})


def test_ruff_finds_no_defects():
  proc = _run("ruff", "check", "--no-cache", "--output-format", "concise")
  assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
  # over every Python file of the repository, tests and experiments included
  listed = _run("ruff", "check", "--show-files").stdout
  for name in (*GATED, "tests", "experiments"):
    assert f"{REPO / name}" in listed, name


def test_the_gated_code_is_in_the_formatters_layout():
  proc = _run("ruff", "format", "--check", "--no-cache")
  assert proc.returncode == 0, (proc.stdout[-5000:] + proc.stderr[-2000:] +
                                f"\n(`ruff format {' '.join(GATED)}` rewrites them)")
  # every module of the gated paths was looked at
  checked = int(proc.stdout.split(" file")[0])
  assert checked >= len(_python_files()), proc.stdout


def test_mypy_is_configured_for_the_gated_paths():
  import tomllib

  config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
  assert tuple(config["files"]) == GATED
  # no category of errors switched off for the gated code
  assert not config.get("ignore_errors") and not config.get("disable_error_code"), config
  # per-module overrides only skip other packages, never the gated code
  own = {Path(name).stem for name in GATED}
  for override in config.get("overrides", []):
    modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
    assert not own & {m.split(".")[0] for m in modules}, override


def test_mypy_finds_no_type_errors():
  # The cache lives in the repository's .mypy_cache (git-ignored): about 14 s cold
  # on 2 cores, 2 s once it is warm.
  proc = _run("mypy", timeout=300)
  assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
  assert proc.stdout.startswith("Success: no issues found"), proc.stdout
  # every module of the gated paths was checked
  checked = int(proc.stdout.split(" in ")[1].split(" source file")[0])
  assert checked >= len(_python_files()), proc.stdout


def test_every_type_ignore_names_its_error_code():
  """A bare `# type: ignore` would silence every error on its line; the gated
  code names the code it silences (and says why beside it)."""
  bare = [
    f"{path.relative_to(REPO)}:{n}"
    for path in _python_files()
    for n, line in enumerate(path.read_text().splitlines(), 1)
    if re.search(r"#\s*type:\s*ignore(?!\[)", line)
  ]
  assert not bare, f"`# type: ignore` without an error code: {bare}"


def test_every_public_function_of_losses_has_type_hints():
  """The typed API behind losses/py.typed: every function in `losses.__all__`
  annotates each parameter and its return (ruff's ANN rules cannot tell public
  from private parameters, and the private JVP rules stay unannotated)."""
  import inspect

  import losses

  missing = {}
  for name in sorted(losses.__all__):
    fn = getattr(losses, name)
    if not inspect.isfunction(inspect.unwrap(fn)):
      continue  # LOSSES (a mapping), MaxNormState (a class)
    signature = inspect.signature(fn)
    bare = [p.name for p in signature.parameters.values() if p.annotation is p.empty]
    if signature.return_annotation is signature.empty:
      bare.append("return")
    if bare:
      missing[name] = bare
  assert not missing, f"public functions of losses without type hints: {missing}"
