"""docs/losses.md against the code (issue 15), so that the page cannot drift.

The page's convention (stated under "Public names" there): every name in
`losses.__all__` has a row in one of its name tables (the interface table, or the
table of helpers and other public names) whose name cell starts with the name in
backticks, whose formula cell is filled and whose note cell says where it comes
from: course notes 000-004, optax parity, a paper (a year), or "not in the notes".
Every name those tables (or any `losses.<name>` on the page) mention exists.
"""
from __future__ import annotations

import importlib.util
import re

import losses
from tests.conftest import REPO

PAGE = REPO / "docs" / "losses.md"
NOTE = re.compile(r"\b00[0-4]\b|optax parity|\b(19|20)\d\d\b|not in the notes")


def _cells(line: str) -> list[str]:
  """A markdown table row's cells (`\\|` inside a cell is not a separator)."""
  return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _name_tables() -> list[dict[str, str]]:
  """Every row of the page's tables whose header has a name column (`losses.`),
  as {"name", "formula", "note", "line"}."""
  rows, lines = [], PAGE.read_text().splitlines()
  for i, line in enumerate(lines):
    if not (line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("| ---")):
      continue
    header = _cells(line)
    names = [j for j, h in enumerate(header) if "`losses.`" in h]
    if not names:
      continue
    formula = next(j for j, h in enumerate(header) if h in ("per-example value", "formula"))
    note = header.index("note")
    for row_line in lines[i + 2 :]:
      if not row_line.startswith("|"):
        break
      row = _cells(row_line)
      assert len(row) == len(header), row_line
      rows.append({"name": row[names[0]], "formula": row[formula], "note": row[note],
                   "line": row_line})
  return rows


def _first_name(cell: str) -> str:
  match = re.match(r"`([A-Za-z_]\w*)", cell)
  assert match, f"a name cell must start with the name in backticks: {cell!r}"
  return match.group(1)


def test_every_public_name_is_documented_with_its_formula_and_its_note():
  rows = _name_tables()
  assert len(rows) > len(losses.LOSSES)  # both tables were found
  documented: dict[str, dict[str, str]] = {}
  for row in rows:
    documented.setdefault(_first_name(row["name"]), row)
  missing = [n for n in losses.__all__ if n not in documented]
  assert not missing, f"in losses.__all__ but not in docs/losses.md's tables: {missing}"
  for name in losses.__all__:
    row = documented[name]
    assert row["formula"].strip("— -"), f"{name}: no formula in\n{row['line']}"
    assert NOTE.search(row["note"]), f"{name}: the note cell names no source\n{row['line']}"


def test_no_documented_name_is_missing_from_the_code():
  text = PAGE.read_text()
  in_tables = {_first_name(row["name"]) for row in _name_tables()}
  # every name a table documents is public
  assert sorted(in_tables - set(losses.__all__)) == []
  # every name a table cell mentions in backticks, as `name(` or `name`, that looks
  # like one of ours (a loss-style identifier the page calls `losses.` in the header)
  mentioned = set()
  for row in _name_tables():
    mentioned |= set(re.findall(r"`([a-z_][a-z0-9_]*[a-z0-9])(?:\(|`)", row["name"]))
  assert sorted(n for n in mentioned if not hasattr(losses, n)) == []
  # `losses.<name>` anywhere on the page, code blocks included
  # (not optax.losses.<name>; a submodule such as `losses.reference` counts; the
  # files losses.md and bench/losses.py are not names, nor the pattern `losses._*`)
  dotted = set(re.findall(r"(?<![\w.])losses\.([A-Za-z_]\w*)", text)) - {"md", "py", "_"}
  assert sorted(n for n in dotted if not hasattr(losses, n)
                and importlib.util.find_spec(f"losses.{n}") is None) == []


def test_the_losses_table_and_the_helpers_table_agree_with_losses_LOSSES():
  """Names the page lists as helpers (not losses) are not in LOSSES, and every loss
  in LOSSES is a row of the interface table."""
  text = PAGE.read_text()
  helpers = text.split("## Public names", 1)[1].split("\n## ", 1)[0]
  helper_names = {_first_name(_cells(line)[0]) for line in helpers.splitlines()
                  if line.startswith("| `")}
  assert helper_names and not helper_names & set(losses.LOSSES)
  interface = text.split("## Interface table", 1)[1].split("\n## ", 1)[0]
  loss_rows = {_first_name(_cells(line)[2]) for line in interface.splitlines()
               if line.startswith("| ") and not line.startswith("| ---")
               and _cells(line)[2].startswith("`")}
  assert sorted(set(losses.LOSSES) - loss_rows) == []
  assert set(losses.__all__) == loss_rows | helper_names
