# Two commands on a fresh machine: `make run` (the demo end to end) and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/dagster_home
export REDSTAR_HOME ?= $(CURDIR)/data
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast test-scale stress ui screenshots bench bench-verify bench-distill gpu-wheels lint venv sandbox postgres redis tracking docs docs-deps clean-data

venv: $(VENV)/.installed

# torch is pinned to the CPU wheel in pyproject.toml; a looser spec would pull a multi-GB CUDA build.
# --no-compile: byte-compiling every installed module took about 80 s of a fresh set-up (154 s vs 69 s
# for the runtime packages); Python compiles what it imports on first use instead and keeps it,
# which needs bytecode writing on (an environment with PYTHONDONTWRITEBYTECODE=1 would otherwise
# recompile torch, transformers and TRL in every training process: 26.7 s vs 12.9 s to import TRL).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile -e '.[dev]'
	touch $@

# Model-written code runs only inside bubblewrap (Debian package `bubblewrap`); installed here when missing.
sandbox:
	@command -v bwrap >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq >/dev/null && $$SUDO apt-get install -y -qq bubblewrap >/dev/null; }; }
	@command -v bwrap >/dev/null || { echo "bubblewrap is required for the code sandbox: install the 'bubblewrap' package" >&2; exit 1; }

# The MLflow test's server and client (the `tracking` extra), kept out of `make run`'s set-up.
tracking: venv
	@$(BIN)/python -c "import mlflow" 2>/dev/null || $(BIN)/pip install --quiet --no-compile -e '.[tracking]'

# The documentation site's builder (the `docs` extra: MkDocs, Material, mkdocstrings), kept out of `make run`'s set-up.
docs-deps: venv
	@$(BIN)/python -c "import mkdocs, material, mkdocstrings_handlers.python" 2>/dev/null || $(BIN)/pip install --quiet --no-compile -e '.[docs]'

# The documentation site: the reference pages regenerated from the code (docs/reference/), then site/; a warning fails it.
docs: docs-deps
	$(BIN)/python -m redstar_assets.cli.reference_pages
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The `team` deployment's tests start a throwaway PostgreSQL cluster from the Debian server package
# (initdb, pg_ctl); installed here when missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq >/dev/null && $$SUDO apt-get install -y -qq postgresql >/dev/null; }; }

# The `queue` deployment's tests start a throwaway Redis broker (Debian package `redis-server`); installed here when missing.
redis:
	@command -v redis-server >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq redis-server >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq >/dev/null && $$SUDO apt-get install -y -qq redis-server >/dev/null; }; }
	@command -v redis-server >/dev/null || { echo "redis-server is required for the queue deployment's tests: install the 'redis-server' package" >&2; exit 1; }

# Headless screenshots of the UI on a fresh instance (benchmarks/results/ui/); installs chromium if missing.
screenshots: venv
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq >/dev/null && $$SUDO apt-get install -y -qq chromium >/dev/null; }; }
	$(BIN)/python benchmarks/ui_screenshots.py

# The `gpu` pool's limit comes from dagster_home/dagster.yaml (pools: default_limit: 1), on any instance;
# the demo's `launch.parallel: 2` raises it to 2 on the instance it runs in. The demo's code family
# runs its programs in the sandbox.
run: venv sandbox
	$(BIN)/redstar run --profile demo

test: venv sandbox postgres redis tracking docs-deps
	$(BIN)/pytest -q -rs --durations=12 -m "not stress_full and not scale_full"

# The queue deployment's acceptance run over the whole demo-tiny graph (PostgreSQL, Redis, Celery workers,
# a gpu worker killed mid-training): about 5 minutes, most of it the backfill daemon's 30 s ticks.
# `make test` runs the same test through the trainings.
test-scale: venv sandbox postgres redis
	$(BIN)/pytest -q -rs -s -m scale_full

# The stress suite (tests/stress): generated bad inputs, faults and attacks against the real pipeline,
# then a scoreboard (printed, and written to stress-results/scoreboard.json). `make test` runs its fast part.
stress: venv sandbox
	$(BIN)/pytest -q -rs -m stress

test-fast: venv sandbox postgres redis tracking docs-deps
	$(BIN)/pytest -q -m "not slow and not stress_full"

# Webserver, daemon (sensors, automation, schedules, backfills) and code server; REDSTAR_PROFILE picks the profile.
ui: venv
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: venv bench-verify bench-distill
	$(BIN)/python benchmarks/make_run_time.py

# Pure-Python wheels the GPU check needs on a machine without network (see benchmarks/gpu_train_check.sh).
gpu-wheels: venv
	$(BIN)/pip download --quiet --no-deps -d benchmarks/wheels trl datasets polars math-verify latex2sympy2_extended \
	  antlr4-python3-runtime==4.13.2 sympy mpmath pyyaml dill multiprocess xxhash fsspec pyarrow

bench-distill: venv
	$(BIN)/python benchmarks/distill_throughput.py

bench-verify: venv
	$(BIN)/python benchmarks/verify_throughput.py

# What CI checks before the tests: lint, formatting, types and the import layers (pyproject's [tool.importlinter]).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy redstar_assets redstar_training
	$(BIN)/lint-imports

clean-data:
	rm -rf data dagster_home/storage dagster_home/logs dagster_home/history dagster_home/schedules dagster_home/.logs_queue dagster_home/.telemetry
