"""One row of docs/bad-inputs.md, and where the cases write their files."""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Callable

# Where the cases write their files; tests/test_bad_inputs.py points it at tmp_path.
TMP_ROOT: Path | None = None


@dataclasses.dataclass(frozen=True)
class Case:
  """One row of the table.

  `error` is the exception type `provoke()` raises (exactly that type), or, for an
  input that is no exception, the name of its outcome: then `provoke()` returns
  (outcome, text) and the outcome must equal `error`. `message` must occur in the
  exception's message (or the text), compared with whitespace collapsed, so that a
  multi-line message fits one table cell.
  """
  area: str
  bad_input: str
  provoke: Callable[[], Any]
  error: type[BaseException] | str
  message: str


def tmp() -> Path:
  return Path(tempfile.mkdtemp(dir=TMP_ROOT))


def squash(text: str) -> str:
  return " ".join(text.split())
