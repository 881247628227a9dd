# The two commands of the README: `make demo` (main job on the offline target)
# and `make test` (the offline suite). Each does all of its own set-up.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# The offline suite on two xdist workers (one shared stack; docs/testing.md has the figures). Two, not `auto`:
# the offline cluster's two kwok nodes hold 34 pods, so more workers' namespaces at once would not fit.
# `make test XDIST=` runs it in one process.
XDIST ?= -n 2 --dist worksteal

.PHONY: venv controlplane lint test demo lock clean bench

venv: $(STAMP)

# requirements.lock pins every transitive package (pip freeze of a working
# install); pyproject.toml names the direct ones. Regenerate the lock with
# `make lock` after changing pyproject.toml.
$(STAMP): pyproject.toml requirements.lock
	@echo "==> creating virtualenv $(VENV) with pinned dependencies (first time: a minute or two)"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	@$(BIN)/python -m pip install --quiet --progress-bar off -r requirements.lock
	@$(BIN)/python -m pip install --quiet --progress-bar off --no-deps -e .
	@$(BIN)/python -m pip check
	@touch $(STAMP)

lock: venv
	@$(BIN)/python -m pip install --quiet -e .
	@$(BIN)/python -m pip freeze --exclude-editable | grep -v '^cloudtolocalllm' > requirements.lock
	@echo "==> wrote requirements.lock"

controlplane: venv
	@$(BIN)/provision local build

lint: venv
	@echo "==> ruff check (style: pyproject.toml [tool.ruff])"
	@$(BIN)/ruff check --quiet .

# The rehearsal first (the live scenarios against the production-strict offline stack,
# docs/rehearsal.md), then the offline suite, whose report is reports/latest (the CI gate's).
test: controlplane lint
	@echo "==> the rehearsal: pytest --target rehearsal -m 'live or rehearsal'"
	@$(BIN)/python -m pytest --target rehearsal -m "live or rehearsal" -q $(PYTEST_ARGS)
	@echo "==> the offline suite: pytest -m offline $(XDIST)"
	@$(BIN)/python -m pytest -m offline $(XDIST) $(PYTEST_ARGS)

demo: controlplane
	@$(BIN)/provision demo

bench: controlplane
	@$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) reports/run-*
