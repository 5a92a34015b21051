# CLIR Noise Lab. `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= $(if $(CLIR_DATA_DIR),$(CLIR_DATA_DIR),../shared/data/tatoeba/v1)
FLORES ?= $(if $(CLIR_FLORES200_DIR),$(CLIR_FLORES200_DIR),../shared/data/sib200)
NTREX ?= $(if $(CLIR_NTREX128_DIR),$(CLIR_NTREX128_DIR),../shared/data/ntrex128)
DB ?= results/demo.duckdb
GRID ?= precompute/grids/demo.toml
FIRST ?= precompute/grids/demo-first.toml
# Grids the background job computes after the Tatoeba work (skipped, with one line, where their data is missing).
AFTER ?= precompute/grids/flores200.toml precompute/grids/ntrex128.toml
PORT ?= 8501
ADDRESS ?= 127.0.0.1
# labse (LaBSE) in the background job: LABSE=1 downloads it if not cached (about 1.8 GB), LABSE=0 never adds
# it; unset, it is added only when it is in the Hugging Face cache.
LABSE ?=
LABSE_MODE := $(if $(filter 1,$(LABSE)),yes,$(if $(filter 0,$(LABSE)),no,auto))
export CLIR_DATA_DIR := $(abspath $(DATA))
export CLIR_FLORES200_DIR := $(abspath $(FLORES))
export CLIR_NTREX128_DIR := $(abspath $(NTREX))
export PYTHONPATH := $(CURDIR)
# Hub models fail fast and cleanly here; elsewhere they download as usual.
export TOKENIZERS_PARALLELISM := false

.PHONY: help setup demo demo-data labse-check precompute background study dashboard test test-fast check format data bench clean

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

labse-check: setup  ## say whether the background job adds labse (LABSE=1: download it, about 1.8 GB; no network: exit 2)
	@$(BIN)/python -m precompute background --grid $(GRID) --db $(DB) --labse $(LABSE_MODE) --check

background: setup labse-check  ## complete $(GRID) with minilm and e5-small-torch, train their models (MiniLM ~10 min, e5 ~45 min), add their cells, then labse's if cached or LABSE=1, then the FLORES-200 and NTREX-128 grids ($(AFTER)), in the background (log: results/background.log)
	@mkdir -p results
	@nohup $(BIN)/python -m precompute background --grid $(GRID) --db $(DB) --labse $(LABSE_MODE) --after $(AFTER) > results/background.log 2>&1 &
	@echo "background job started; progress in results/background.log and on the dashboard's Runs page"

study: setup labse-check  ## the demo grid with training seeds 0 1 2 of the six e5 models (about 2 h more than the demo on 2 cores), their cells and Findings (log: results/study.log)
	@mkdir -p results
	set -o pipefail; $(BIN)/python -m precompute background --grid $(GRID) --db $(DB) --base e5-small-torch --seeds 0 1 2 \
	  --labse $(LABSE_MODE) 2>&1 | tee results/study.log

dashboard: setup  ## open the dashboard on $(DB) (localhost only unless ADDRESS is set)
	CLIR_DB=$(DB) $(BIN)/streamlit run dashboard/app.py --server.address $(ADDRESS) --server.port $(PORT) \
	  --server.headless true --browser.gatherUsageStats false --client.toolbarMode viewer

demo: labse-check demo-data precompute background dashboard  ## set up, fetch missing data, precompute the demo grid, open the dashboard (LABSE=1: add LaBSE, about 1.8 GB)

# pytest-xdist; a file's tests stay on one worker, so its module fixtures are built once (tests/conftest.py).
# Three workers on two cores: the third fills the time the others spend waiting on subprocesses, servers and disk.
JOBS ?= 3
XDIST := -n $(JOBS) --dist loadfile --no-loadscope-reorder

test: setup  ## the whole test suite (what CI runs), on JOBS=3 workers
	$(BIN)/python -m pytest -q $(XDIST) --durations=20

test-fast: setup  ## tests without the slow and browser ones (README: Testing)
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow and not browser"

check: setup  ## lint and format check
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

format: setup  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

data: setup  ## fetch the files missing from the folders DATA (Tatoeba), FLORES (SIB-200) and NTREX (NTREX-128), verified (offline: one line says where to put them)
	@$(BIN)/python -m precompute.fetch_data --dataset all

demo-data: setup  ## what make demo fetches: Tatoeba (required), FLORES-200 and NTREX-128 (their grids are skipped without them)
	@$(BIN)/python -m precompute.fetch_data --dataset tatoeba
	@$(BIN)/python -m precompute.fetch_data --dataset flores200 || echo "(the background job skips the FLORES-200 grid)"
	@$(BIN)/python -m precompute.fetch_data --dataset ntrex128 || echo "(the background job skips the NTREX-128 grid)"

bench: setup  ## run every benchmark script
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:  ## remove build outputs (venv, caches, results, models)
	rm -rf $(VENV) cache results models test-artefacts .pytest_cache
