# Two commands do all the set-up on a fresh machine:
#   make run   — install and start Clarion with embedded defaults (SQLite, in-process queue, SMTP capture)
#   make test  — install the development tools and run lint, types and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck pytest test-tools bench bench-all bench-tools clean

# Benchmarks (bench/README.md): `make bench` runs the quick ones (a few minutes), `make bench-all` every one
# (about an hour), `make bench BENCH="intake e2e" BENCH_ARGS="--modes embedded"` the ones named.
QUICK_BENCHES := queue limiter templates mime
LONG_BENCHES  := intake delivery e2e throttle http_clients export faults
BENCH         ?= $(QUICK_BENCHES)
BENCH_ARGS    ?=

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/clarion serve

test: lint typecheck pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed test-tools
	$(BIN)/pytest

# The outage tests start and kill a redis-server of their own, on either backend: Debian's package is
# installed when missing and we are root, else the command to run is printed.
test-tools:
	@command -v redis-server >/dev/null 2>&1 || if [ "$$(id -u)" = 0 ]; then \
		echo "installing redis-server (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	else \
		echo "the outage tests need redis-server: sudo apt-get install redis-server" >&2; exit 1; \
	fi

bench: $(VENV)/.dev-installed bench-tools
	@set -e; for name in $(BENCH); do echo "== bench.$$name"; $(BIN)/python -m bench.$$name $(BENCH_ARGS); done

bench-all:
	$(MAKE) bench BENCH="$(QUICK_BENCHES) $(LONG_BENCHES)"

# wrk (Debian's package) for the HTTP benchmarks: installed when missing and we are root, else the command
# to run is printed. PostgreSQL and Redis (production modes) are only checked.
bench-tools:
	@command -v wrk >/dev/null 2>&1 || if [ "$$(id -u)" = 0 ]; then \
		echo "installing wrk (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	else \
		echo "the HTTP benchmarks (intake, e2e) need wrk: sudo apt-get install wrk" >&2; \
	fi
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
		echo "note: no PostgreSQL on 127.0.0.1:5432: production modes, throttle and export will fail" >&2
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
		echo "note: no Redis on 127.0.0.1:6379: production modes and throttle will fail" >&2

clean:
	rm -rf $(VENV) .clarion .mypy_cache .ruff_cache .pytest_cache
