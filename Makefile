# Everything a fresh machine needs: `make demo` and `make test` create the virtual
# environment, install sim2sky with the torch pin from constraints.txt, and run.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install -q -c constraints.txt

.PHONY: install install-bench install-cross install-docs demo test test-fast docs bench bench-cross clean

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sim2sky needs Python >= 3.11 (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e ".[all,test]"
	@touch $@

install: $(VENV)/.installed

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) -e ".[test,bench]"
	@touch $@

install-bench: $(VENV)/.installed-bench

# 21cmFAST (the cross-simulator benchmark only) compiles against FFTW and GSL: Debian packages first
$(VENV)/.installed-cross: $(VENV)/.installed-bench
	@dpkg -s libfftw3-dev libgsl-dev >/dev/null 2>&1 || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfftw3-dev libgsl-dev >/dev/null; }
	$(PIP) -e ".[test,bench,cross]"
	@touch $@

install-cross: $(VENV)/.installed-cross

$(VENV)/.installed-docs: $(VENV)/.installed
	$(PIP) -e ".[test,docs]"
	@touch $@

install-docs: $(VENV)/.installed-docs

demo: install
	$(BIN)/sim2sky demo --out demo_out

# pytest exits 5 when it collects no test; that is not a failure of the code
test: install
	$(BIN)/python -m pytest -q tests || [ $$? -eq 5 ]

# everything but the statistical/training tests and the fresh-install test (minutes, not the whole suite)
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" tests || [ $$? -eq 5 ]

# the documentation site: API reference, executed tutorials, benchmark pages; warnings are errors
docs: install-docs
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: install-bench
	$(BIN)/python benchmarks/npe_vs_sbi.py --out benchmarks/results_npe_vs_sbi.json

# 21-cm posteriors across simulators (about an hour on 2 cores; cubes and posteriors cached in benchmarks/out)
bench-cross: install-cross
	$(BIN)/python benchmarks/fields_21cmfast.py --out benchmarks/results_fields_21cmfast.json

clean:
	rm -rf $(VENV) demo_out .pytest_cache docs/_build docs/jupyter_execute docs/benchmarks.md
