# Two commands do all the set-up on a fresh clone (see README.md):
#   make quickstart   create .venv, install zoo, train recipes/quickstart.toml
#   make test         create .venv, install zoo, then lint, build the docs and run the tests
#   make test-fast    the inner loop: the tests not marked slow, on every core
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: quickstart test test-fast install

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

quickstart: install
	$(BIN)/zoo train recipes/quickstart.toml

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mkdocs build --strict --site-dir "$$(mktemp -d)"
	$(BIN)/python -m pytest -n auto

test-fast: install
	$(BIN)/python -m pytest -n auto -m "not slow"
