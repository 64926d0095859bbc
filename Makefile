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

# Most tests compile many small programs and run each briefly (the loss library,
# the model zoo, smoke runs): they run with XLA's cheapest compile settings, which
# halves their time. Tests marked optimized_xla train for thousands of steps and
# run in a second session, optimized. `make test ARGS=...` runs one session as asked.
FAST_COMPILE_XLA := --xla_backend_optimization_level=0 \
  --xla_llvm_disable_expensive_passes=true --xla_cpu_use_fusion_emitters=false

test: $(STAMP)
ifeq ($(strip $(ARGS)),)
	XLA_FLAGS="$(FAST_COMPILE_XLA) $$XLA_FLAGS" $(PY) -m pytest -n 2 \
	  -m "not optimized_xla and not fault_trials"
	$(PY) -m pytest -n 2 -m "optimized_xla and not fault_trials"
else
	$(PY) -m pytest -n 2 $(ARGS)
endif

# Every benchmark, written to docs/benchmarks.md (ARGS=--quick: a few minutes).
bench: $(STAMP)
	$(PY) bench/report.py $(ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
