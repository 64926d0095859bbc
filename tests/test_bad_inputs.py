"""The bad-input table of docs/bad-inputs.md, kept true.

Every row of that table is a `Case` of tests/bad_inputs/ (one module per area):
a bad input a user can give, a zero-argument callable that gives it in-process,
and the error it gets today (exception type and the stable part of its message),
or, for inputs that are no exception (a damaged checkpoint, a train.py exit), the
outcome. The tests run every case and check that the doc holds exactly the table
generated from the cases, so neither can drift from the code.

  python -m tests.test_bad_inputs --write    # rewrites the doc's table section
"""
from __future__ import annotations

import sys

import pytest

from tests.bad_inputs import _case
from tests.bad_inputs._case import Case, squash
from tests.bad_inputs.cases_checkpoints import CKPT
from tests.bad_inputs.cases_checkpoints import CASES as _CKPT_CASES
from tests.bad_inputs.cases_config import CFG, CLI
from tests.bad_inputs.cases_config import CASES as _CONFIG_CASES
from tests.bad_inputs.cases_data import DATA
from tests.bad_inputs.cases_data import CASES as _DATA_CASES
from tests.bad_inputs.cases_losses import LOSS
from tests.bad_inputs.cases_losses import CASES as _LOSS_CASES
from tests.bad_inputs.cases_optimization import OPT
from tests.bad_inputs.cases_optimization import CASES as _OPT_CASES
from tests.bad_inputs.cases_scale_out import SCALE
from tests.bad_inputs.cases_scale_out import CASES as _SCALE_CASES
from tests.conftest import REPO

DOC = REPO / "docs" / "bad-inputs.md"
START, END = "<!-- table:start -->", "<!-- table:end -->"
CASES: list[Case] = (_CONFIG_CASES + _OPT_CASES + _SCALE_CASES + _DATA_CASES
                     + _CKPT_CASES + _LOSS_CASES)


# --- the table -----------------------------------------------------------------------

def _cell(text: str, code: bool = False) -> str:
  text = squash(text).replace("|", "\\|")
  if not code:
    return text
  fence = "``" if "`" in text else "`"
  return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def table() -> str:
  """The markdown table of every case, as docs/bad-inputs.md holds it."""
  rows = ["| area | bad input | error type | message (the stable part the test "
          "matches) |", "| --- | --- | --- | --- |"]
  for case in CASES:
    error = case.error.__name__ if isinstance(case.error, type) else case.error
    rows.append(f"| {case.area} | {_cell(case.bad_input)} | {_cell(error)} | "
                f"{_cell(case.message, code=True)} |")
  return "\n".join(rows)


def _doc_table(text: str) -> str:
  start, end = text.index(START) + len(START), text.index(END)
  return text[start:end].strip("\n")


def write_doc() -> None:
  text = DOC.read_text()
  start, end = text.index(START) + len(START), text.index(END)
  DOC.write_text(f"{text[:start]}\n{table()}\n{text[end:]}")


# --- the tests -----------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _tmp_root(tmp_path, monkeypatch):
  monkeypatch.setattr(_case, "TMP_ROOT", tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.bad_input for c in CASES])
def test_bad_input_gets_its_documented_error(case: Case):
  if isinstance(case.error, str):
    outcome, text = case.provoke()
    assert outcome == case.error, text
  else:
    with pytest.raises(BaseException) as info:
      case.provoke()
    assert type(info.value) is case.error, repr(info.value)
    text = str(info.value)
  assert squash(case.message) in squash(text), text


def test_the_doc_holds_exactly_the_generated_table():
  assert _doc_table(DOC.read_text()) == table(), (
      f"{DOC} is out of date: run python -m tests.test_bad_inputs --write")


def test_cases_are_distinct_and_cover_every_area():
  descriptions = [c.bad_input for c in CASES]
  assert len(set(descriptions)) == len(descriptions)
  counts = {area: sum(c.area == area for c in CASES)
            for area in (CLI, CFG, OPT, SCALE, DATA, CKPT, LOSS)}
  assert len(CASES) >= 45 and counts[LOSS] >= 15 and min(counts.values()) >= 2, counts


if __name__ == "__main__":
  if sys.argv[1:] != ["--write"]:
    sys.exit("usage: python -m tests.test_bad_inputs --write")
  write_doc()
  print(f"wrote {len(CASES)} rows to {DOC}")
