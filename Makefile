# The two commands of the README. Both set everything up on a fresh machine (Python 3.11+).
#   make run   -> installs, creates the SQLite store, loads the demo data if empty, opens the app
#   make test  -> installs, runs every test (SQLite, PostgreSQL, browser)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(PY) -m analytics serve --port $(PORT)

test: $(VENV)/.installed
	bash .ci/system-packages
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) -m analytics bench

clean:
	rm -rf $(VENV) var .pytest_cache
