# Thin wrappers around the `lab` command. Every target is safe to re-run.
#   make lab    set up, start the services, open JupyterLab on 127.0.0.1 at labs/README.md
#               (`lab jupyter`: the course's settings in jupyter-config/, shared with the browser test)
#   make test   set up, then the whole test suite (what CI runs)
#   make setup  set up only;  make run  execute every chapter headlessly

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
LAB    := $(BIN)/lab
# JupyterLab's port: this home's recorded one (`lab jupyter` asks lablib/ports.py: 8888 for the first
# home on the machine), unless PORT=… or LAB_JUPYTER_PORT is given
PORT   ?= $(LAB_JUPYTER_PORT)

.PHONY: setup lab test run up down lint build clean-lab system-deps

# the venv is rebuilt only when pyproject.toml changes
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11 (or run make PYTHON=python3)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

# the capstone's package (chapters 11-12 import mat_platform), editable: the notebooks see capstone/src as it
# is; its build backend (flit-core) is pinned in .[dev], so no download (as chapter 08 builds offline)
$(VENV)/.capstone: capstone/pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e capstone
	@touch $@

system-deps:
	@bash scripts/system-deps.sh

setup: system-deps $(VENV)/.installed $(VENV)/.capstone
	$(LAB) setup

lab: setup
	$(LAB) up all
	$(LAB) jupyter $(if $(PORT),--port $(PORT))

lint: $(VENV)/.installed
	$(BIN)/ruff check lablib tests benchmarks solutions capstone
	$(BIN)/ruff format --check capstone  # the learner's project keeps ruff's format (its own CI checks it)

build: $(VENV)/.installed
	$(LAB) build

# the tests start the services they need and stop them at the end, also when they fail
test: setup lint
	$(LAB) build --check
	$(BIN)/pytest

run: setup
	$(LAB) run all

up: setup
	$(LAB) up all

down:
	$(LAB) down all

clean-lab:
	rm -rf .lab
