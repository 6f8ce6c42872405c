# Every install step lives here, so that a clean clone on a new machine needs only
# `make demo` or `make test` (and `.ci/run`, which calls `make test`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements/constraints.txt
PIP    := $(BIN)/python -m pip
PIP_INSTALL := $(PIP) install --disable-pip-version-check -q -c $(LOCK)
OUT    := out

# Deterministic test environment: seeded hashing, no progress bars, headless plots.
TEST_ENV := PYTHONHASHSEED=0 RISKBUDGET_PROGRESS=0 MPLBACKEND=Agg PYTHONWARNINGS=ignore::DeprecationWarning
# Notebooks run in the same environment, with the inline backend so their figures are saved.
NB_ENV   := PYTHONHASHSEED=0 RISKBUDGET_PROGRESS=0 MPLBACKEND=module://matplotlib_inline.backend_inline PYTHONWARNINGS=ignore::DeprecationWarning
NBVAL    := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg
# Two pytest workers (the 2 cores this must run on in under 10 minutes); a file's tests, and a notebook's cells,
# stay together on one worker, so module fixtures and kernels are shared as in a serial run.
XDIST    := -n 2 --dist loadfile

.PHONY: demo test venv test-venv bench lock notebooks dashboard browser clean help test-wheel test-other-cpu lint

help:
	@echo "make demo       create .venv, install riskbudget[all], run the bundled example"
	@echo "make test       create .venv with test extras and run every test, notebooks included (after make lint)"
	@echo "make lint       ruff and mypy on the code (part of make test)"
	@echo "make notebooks  re-execute all notebooks in place (refresh their saved outputs)"
	@echo "make dashboard  serve the budget explorer with Voila on 127.0.0.1:8866"
	@echo "make browser    install Debian's chromium (for the dashboard test) if it is missing"
	@echo "make bench      run the benchmarks in benchmarks/"
	@echo "make lock       refresh $(LOCK) from a fresh, unconstrained resolve"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q --upgrade pip

$(VENV)/.stamp-all: $(BIN)/python pyproject.toml $(LOCK)
	$(PIP_INSTALL) -e ".[all]"
	@touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-all
	$(PIP_INSTALL) -e ".[all,test]"
	@touch $@

$(VENV)/.stamp-bench: $(VENV)/.stamp-all
	$(PIP_INSTALL) -e ".[all,bench]"
	@touch $@

venv: $(VENV)/.stamp-all
test-venv: $(VENV)/.stamp-test

demo: $(VENV)/.stamp-all
	$(BIN)/riskbudget simulate data/example/register.csv --years 100000 --seed 7
	$(BIN)/riskbudget report data/example/register.csv --appetite data/example/appetite.yaml \
		--controls data/example/controls.csv --out $(OUT)/report.html --years 100000 --seed 7
	$(BIN)/riskbudget optimize --register data/example/register.csv --controls data/example/controls.csv \
		--projects data/example/projects.csv --budget 6e6 --appetite-tvar95 18e6 --years 20000 --seed 7 \
		--save $(OUT)/plan.json
	$(BIN)/riskbudget report --plan $(OUT)/plan.json --out $(OUT)/pack.html

test: $(VENV)/.stamp-test browser lint
	$(TEST_ENV) $(BIN)/python -m pytest -q $(XDIST) $(NBVAL) tests notebooks
	$(MAKE) --no-print-directory test-other-cpu
	$(MAKE) --no-print-directory test-wheel

# Static checks, first (seconds): ruff's lint rules on the code, tests, benchmarks and scripts; mypy on the package.
lint: $(VENV)/.stamp-test
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m mypy src/riskbudget

# Build the sdist, then the wheel from it; install the wheel into a throwaway venv (.venv untouched)
# and, from a temporary directory, run the README examples, the CLI and a benchmark prior with it.
test-wheel: $(VENV)/.stamp-test
	$(TEST_ENV) $(BIN)/python scripts/check_wheel.py

# The PyMC tests and every notebook again, computed as another x86-64 machine would: PyTensor's C code built
# for generic x86-64 in a fresh compile directory (it caches modules by code, not by flags) and NumPy's
# AVX-512 kernels switched off (AVX2/FMA3 on a CPU without AVX-512; scripts/other_cpu_features.py picks
# them). Seeded MCMC draws differ there, so this proves the checks are statistical, not tied to one CPU; the
# golden outputs run too (numbers to 1e-9, the solver's path within its gap; tests/test_golden.py).
test-other-cpu: $(VENV)/.stamp-test
	@compiledir=$$(mktemp -d) && features=$$($(BIN)/python scripts/other_cpu_features.py) || exit 1; \
	echo "test-other-cpu: PyTensor -march=x86-64 in $$compiledir, NPY_DISABLE_CPU_FEATURES='$$features'"; \
	export PYTENSOR_FLAGS="base_compiledir=$$compiledir,gcc__cxxflags=-march=x86-64 -mtune=generic" \
		NPY_DISABLE_CPU_FEATURES="$$features"; \
	$(TEST_ENV) $(BIN)/python -m pytest -q $(XDIST) -m 'pymc or golden' tests && \
		$(TEST_ENV) $(BIN)/python -m pytest -q $(XDIST) $(NBVAL) notebooks; \
	status=$$?; rm -rf "$$compiledir"; exit $$status

# Debian's Chromium, driven by Playwright in the dashboard's end-to-end test (never `playwright install`).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# Re-execute every notebook in place (refresh the outputs nbval compares); prints each run time.
notebooks: $(VENV)/.stamp-all
	$(NB_ENV) $(BIN)/python scripts/run_notebooks.py

# The budget explorer as a web app for people who never open code.
# Each page load starts a kernel (300-400 MB); a kernel with no open page is shut down once it
# has been idle DASHBOARD_IDLE seconds, checked every DASHBOARD_CULL_EVERY seconds (docs/dashboard.md).
DASHBOARD_PORT ?= 8866
DASHBOARD_IDLE ?= 300
DASHBOARD_CULL_EVERY ?= 60
dashboard: $(VENV)/.stamp-all
	RISKBUDGET_PROGRESS=0 $(BIN)/voila --no-browser --port $(DASHBOARD_PORT) --Voila.ip=127.0.0.1 \
		--MappingKernelManager.cull_idle_timeout=$(DASHBOARD_IDLE) \
		--MappingKernelManager.cull_interval=$(DASHBOARD_CULL_EVERY) \
		--MappingKernelManager.cull_connected=False notebooks/05_budget_explorer.ipynb

bench: $(VENV)/.stamp-bench
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_optimize.py
	$(BIN)/python benchmarks/bench_dask.py --quick

# Resolve the newest compatible versions in a throw-away venv and pin them all.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --disable-pip-version-check -q --upgrade pip
	.venv-lock/bin/python -m pip install --disable-pip-version-check -q -e ".[all,test,bench]"
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^-e' | sort -f > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .venv-lock
	@echo "wrote $(LOCK); run 'make notebooks' and commit both if outputs changed"

clean:
	rm -rf $(VENV) .venv-lock $(OUT) .pytest_cache .hypothesis
