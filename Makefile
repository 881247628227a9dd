# The two commands of the README: `make demo` (main job on the offline target)
# and `make test` (the offline suite). Each does all of its own set-up.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: venv controlplane test demo lint clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> creating virtualenv $(VENV) with pinned dependencies (first time: a minute or two)"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	@$(BIN)/python -m pip install --progress-bar off -e . 2>&1 | grep -E "^(Successfully|ERROR)" || true
	@$(BIN)/python -c "import provision" && touch $(STAMP)

controlplane: venv
	@$(BIN)/provision local build

test: controlplane
	@$(BIN)/python -m pytest -m offline $(PYTEST_ARGS)

demo: controlplane
	@$(BIN)/provision demo

bench: controlplane
	@$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) reports/run-*
