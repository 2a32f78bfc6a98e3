# The two quickstart commands: `make run` (the service) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= bayesreg-data

# Every target installs once: the stamp is newer than pyproject.toml until that changes.
STAMP := $(VENV)/.installed

.PHONY: install run fit test test-fast notebooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/bayesreg serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

fit: $(STAMP)
	$(BIN)/bayesreg fit

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Everything but the tests marked slow (the real server, notebooks, fresh processes and
# compiles, long reference runs, the fault drills):
# a few minutes less, for the edit-test loop. CI runs `make test`.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow'

# JupyterLab on notebooks/ (the `notebooks` extra, installed once like the rest).
NB_STAMP := $(VENV)/.installed-notebooks
$(NB_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/pip install -q -e '.[test,notebooks]'
	touch $(NB_STAMP)

notebooks: $(NB_STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) build *.egg-info
