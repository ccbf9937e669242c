# Two commands for a new machine: `make run` starts ekEvents, `make test` runs every test.
# Both install what they need themselves (a venv in .venv; Debian's chromium for tests).

VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
ARGS   ?=

.PHONY: run demo test deps test-deps lint clean

run: deps
	$(BIN)/ekevents serve $(ARGS)

demo: deps
	$(BIN)/ekevents demo $(ARGS)

test: test-deps
	$(BIN)/python -m pytest $(ARGS)

deps: $(VENV)/.deps
test-deps: $(VENV)/.test-deps
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing wrk for the benchmark test"; \
	  apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing node and npm for the Segment Node SDK test"; \
	  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
	@test -d /usr/lib/postgresql || { \
	  echo "installing Debian's postgresql: the tests start their own server on it"; \
	  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.deps: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[test,postgres]'
	touch $@ $(VENV)/.deps

lint: test-deps
	$(BIN)/python -m ruff check collector tests

clean:
	rm -rf $(VENV) build *.egg-info
