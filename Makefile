# `make run` trains the default experiment; `make test` runs the test suite.
# Both start from nothing but Python 3.11: the virtualenv is created on demand.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(PY) train.py $(ARGS)

# One session on both cores (tests/conftest.py gives the tests XLA's cheapest compile
# settings; the long runs are optimized subprocesses); `make test ARGS=...` adds
# pytest arguments, e.g. ARGS="tests/losses".
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist worksteal $(ARGS)

# Every benchmark, written to docs/benchmarks.md (ARGS=--quick: a few minutes).
bench: $(STAMP)
	$(PY) bench/report.py $(ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
