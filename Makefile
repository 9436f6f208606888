# Two commands do all the set-up on a fresh machine:
#   make run   - virtualenv, install, initialise the default database, run the main job
#   make test  - virtualenv with dev extras, start every service the tests need, run the suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: bench-secrets bench-loop bench-embed bench-fts run test lint typecheck unit venv venv-dev clean bench-backends bench-store bench-locomo bench-search bench-cognition bench-hooks bench-hooks-instructions bench-serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[all]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(VENV)/.stamp-run

venv: $(VENV)/.stamp-run
venv-dev: $(VENV)/.stamp-dev

run: venv
	$(BIN)/nexus init
	@scripts/run.sh

test: venv-dev
	VENV=$(VENV) scripts/test.sh

# Quick loops while developing (no services started).
lint: venv-dev
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/mypy

unit: venv-dev
	$(BIN)/pytest -q -m "not postgres and not browser and not e2e and not slow" -x

bench-backends: venv-dev
	VENV=$(VENV) scripts/bench-backends.sh $(BENCH_ARGS)

bench-fts: venv-dev
	$(BIN)/python bench/fts_budget.py

bench-store: venv-dev
	$(BIN)/python -m bench.store $(BENCH_ARGS)

# LoCoMo retrieval quality (issue 3); LOCOMO=path/to/locomo.json overrides the default file.
bench-locomo: venv-dev
	$(BIN)/python bench/locomo_retrieval.py $(if $(LOCOMO),--data $(LOCOMO))

# Hybrid search latency at 100k and 1M memories, ingest rate with embeddings (issue 3).
bench-search: venv-dev
	$(BIN)/python bench/search_scale.py

bench-cognition: venv-dev
	$(BIN)/python bench/cognition.py

bench-hooks: venv-dev
	$(BIN)/python bench/hook_latency.py

# The same hooks counted in CPU instructions under valgrind (repeatable on a loaded machine);
# BASELINE=DIR compares another checkout (git worktree add /tmp/base REV).
bench-hooks-instructions: venv-dev
	$(BIN)/python -m bench.hook_instructions $(if $(BASELINE),--baseline $(BASELINE))

# The memory loop end to end (issue 12): sessions replayed through the real `nexus hook`, probes in fresh
# sessions; hooks alone, then with `nexus serve` beside each store. BENCH_ARGS narrows it (--source coding).
bench-loop: venv-dev
	$(BIN)/python -m bench.loop $(BENCH_ARGS)
	$(BIN)/python -m bench.loop --serve --out bench/results/loop-serve.json $(BENCH_ARGS)

# nexus serve under 50 concurrent loopback clients at 10k memories (issue 5)
bench-serve: venv-dev
	$(BIN)/python -m bench.serve_load $(BENCH_ARGS)

# How fast the local embedding model is on this machine (quoted with every serve result).
bench-embed: venv-dev
	$(BIN)/python -m bench.embed_speed $(BENCH_ARGS)

# Our secret redaction against detect-secrets and gitleaks' rules (GITLEAKS_TOML=path/to/gitleaks.toml).
bench-secrets: venv-dev
	$(BIN)/python -m bench.secrets_compare $(if $(GITLEAKS_TOML),--gitleaks-toml $(GITLEAKS_TOML)) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info src/*.egg-info
