# cuprum: run `make help` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
# The newest CPython 3.11+ under pyenv's versions (the shims are not used), else python3.
PYTHON ?= $(shell for v in $$(ls -1 $(PYENV_ROOT)/versions 2>/dev/null | grep -E '^3\.[0-9]+\.[0-9]+$$' | sort -rV); do \
	minor=$$(echo $$v | cut -d. -f2); \
	if [ $$minor -ge 11 ] && [ -x $(PYENV_ROOT)/versions/$$v/bin/python3 ]; then echo $(PYENV_ROOT)/versions/$$v/bin/python3; break; fi; \
	done)
ifeq ($(strip $(PYTHON)),)
PYTHON := python3
endif

VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.cuprum-deps
EXT_STAMP := $(VENV)/.cuprum-ext
DOCS_STAMP := $(VENV)/.cuprum-docs
BENCH_STAMP := $(VENV)/.cuprum-bench
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(strip $(UV)),)
UV := $(CURDIR)/.uv-bootstrap/bin/uv
endif
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(dir $(UV)):$(PATH)
RUST_SOURCES := $(shell find crates -name '*.rs' -o -name Cargo.toml 2>/dev/null) Cargo.toml pyproject.toml

.PHONY: help venv develop demo test test-fast test-pythons check lint fmt typecheck verifytypes rust-check stubtest dist bench bench-quick soak docs clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(UV):
	@echo ">> installing uv (interpreter: $(PYTHON))"
	$(PYTHON) -m venv .uv-bootstrap
	.uv-bootstrap/bin/pip install --quiet --disable-pip-version-check uv

$(STAMP): pyproject.toml | $(UV)
	@echo ">> creating the virtual environment in $(VENV) with $(PYTHON)"
	@test -x $(PY) || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(PY) --group dev anyio
	@touch $@

venv: $(STAMP) ## Create the virtual environment with the development tools

$(EXT_STAMP): $(STAMP) $(RUST_SOURCES)
	@echo ">> building the Rust stream engine (maturin develop --release)"
	$(BIN)/maturin develop --release --uv --quiet
	@$(PY) -c "import cuprum._streams_rs as m; print('>> extension ready:', m.__version__)"
	@touch $@

develop: $(EXT_STAMP) ## Build the Rust extension into the venv (maturin develop --release)

demo: $(EXT_STAMP) ## Run real pipelines on asyncio and trio with both stream backends
	$(PY) -m cuprum info
	$(PY) examples/demo.py

test: $(EXT_STAMP) ## Run the whole test matrix (asyncio/trio x python/rust)
	./.ci/pytest $(PY) tests

test-pythons: $(STAMP) ## Run the tests on every CPython 3.11+ found, one venv each (PYTEST_ARGS=...)
	devtools/test-pythons.sh $(UV)

check: lint typecheck verifytypes rust-check test ## Run every quality gate

lint: $(STAMP) ## ruff format --check, ruff check, and the import layers (lint-imports)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

fmt: $(STAMP) ## Format Python and Rust code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	cargo fmt --all

typecheck: $(EXT_STAMP) ## basedpyright in strict mode on cuprum/, and stubtest on the extension stub
	$(BIN)/basedpyright cuprum
	$(PY) -m mypy.stubtest cuprum._streams_rs

VERIFYTYPES_FLOOR ?= 95
verifytypes: $(STAMP) ## Type completeness of the public API, on the installed wheel (floor: 95%)
	devtools/verifytypes.sh $(UV) $(abspath $(PY)) $(abspath $(BIN))/basedpyright $(VERIFYTYPES_FLOOR)

dist: $(STAMP) ## sdist + cp311-abi3 wheel + pure-Python wheel in dist/, checked and installed without a toolchain
	devtools/check-dist.sh $(UV) $(abspath $(BIN))/twine $(abspath $(PY)) $$(devtools/pythons.sh | awk '{print $$2}')

rust-check: ## cargo fmt --check, cargo clippy -D warnings, cargo test
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo test --quiet

# The benchmarks' comparison tools (asyncssh) are a group of their own: `make test` does not need them.
$(BENCH_STAMP): $(STAMP)
	$(UV) pip install --quiet --python $(PY) --group bench
	@touch $@

bench: $(EXT_STAMP) $(BENCH_STAMP) ## Full benchmark suite (minutes); table on stdout, JSON in benchmarks/results/
	$(PY) benchmarks/run.py

bench-quick: $(EXT_STAMP) $(BENCH_STAMP) ## Short benchmark run (under a minute)
	$(PY) benchmarks/run.py --quick

soak: $(EXT_STAMP) ## Long soak test (minutes)
	CUPRUM_SOAK=long ./.ci/pytest $(PY) tests/unit/test_reliability.py -k soak -v

# The documentation tools are a group of their own: `make test` does not need them.
$(DOCS_STAMP): $(STAMP)
	$(UV) pip install --quiet --python $(PY) --group docs
	@touch $@

docs: $(DOCS_STAMP) ## Build the documentation site into site/ (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean: ## Remove the venv and build products
	rm -rf $(VENV) .venvs .uv-bootstrap target build dist site .pytest_cache .ruff_cache
	find . -name '__pycache__' -type d -prune -exec rm -rf {} +
	rm -f cuprum/_streams_rs*.so
