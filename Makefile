# CLIR Noise Lab. `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= $(if $(CLIR_DATA_DIR),$(CLIR_DATA_DIR),../shared/data/tatoeba/v1)
DB ?= results/demo.duckdb
GRID ?= precompute/grids/demo.toml
FIRST ?= precompute/grids/demo-first.toml
PORT ?= 8501
ADDRESS ?= 127.0.0.1
export CLIR_DATA_DIR := $(abspath $(DATA))
export PYTHONPATH := $(CURDIR)
# Hub models fail fast and cleanly here; elsewhere they download as usual.
export TOKENIZERS_PARALLELISM := false

.PHONY: help setup demo precompute background dashboard test test-fast check format data bench clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

setup: $(BIN)/.installed  ## create .venv with the pinned requirements

precompute: setup  ## compute the missing cells of the demo grid's first screen ($(FIRST)) into $(DB)
	$(BIN)/python -m precompute run --grid $(FIRST) --db $(DB)

background: setup  ## complete $(GRID) with minilm and e5-small-torch, train their models (MiniLM ~10 min, e5 ~30 min), add their cells, in the background (log: results/background.log)
	@mkdir -p results
	@nohup $(BIN)/python -m precompute background --grid $(GRID) --db $(DB) > results/background.log 2>&1 &
	@echo "background job started; progress in results/background.log and on the dashboard's Runs page"

dashboard: setup  ## open the dashboard on $(DB) (localhost only unless ADDRESS is set)
	CLIR_DB=$(DB) $(BIN)/streamlit run dashboard/app.py --server.address $(ADDRESS) --server.port $(PORT) \
	  --server.headless true --browser.gatherUsageStats false --client.toolbarMode viewer

demo: data precompute background dashboard  ## set up, fetch missing data, precompute the demo grid, open the dashboard

test: setup  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: setup  ## tests without the slow and browser ones
	$(BIN)/python -m pytest -q -m "not slow and not browser"

check: setup  ## lint and format check
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

format: setup  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

data: setup  ## fetch the Tatoeba files missing from $(DATA), verified (offline: one line says where to put them)
	@$(BIN)/python -m precompute.fetch_data --out $(DATA)

bench: setup  ## run every benchmark script
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:  ## remove build outputs (venv, caches, results, models)
	rm -rf $(VENV) cache results models test-artefacts .pytest_cache
