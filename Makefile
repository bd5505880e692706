# Two commands do all the set-up on a fresh machine:
#   make run   — install and start Clarion with embedded defaults (SQLite, in-process queue, SMTP capture)
#   make test  — install the development tools and run lint, types and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck pytest test-tools console-assets bench bench-all bench-tools clean

# Benchmarks (bench/README.md): `make bench` runs the quick ones (a few minutes), `make bench-all` every one
# (about an hour), `make bench BENCH="intake e2e" BENCH_ARGS="--modes embedded"` the ones named.
QUICK_BENCHES := queue limiter templates mime dkim
LONG_BENCHES  := intake delivery e2e tracking feedback suppressions throttle http_clients export faults console
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

run: $(VENV)/.run-installed console-assets
	$(BIN)/clarion serve

# The console's third-party front-end code (htmx, uPlot) from npm, pinned by package-lock.json, copied into
# src/clarion/console/static/vendor (gitignored). Re-run when the lock file changes.
CONSOLE_FRONTEND := src/clarion/console/frontend
CONSOLE_VENDOR   := src/clarion/console/static/vendor/.installed
console-assets: $(CONSOLE_VENDOR)

$(CONSOLE_VENDOR): $(CONSOLE_FRONTEND)/package-lock.json $(CONSOLE_FRONTEND)/copy-assets.mjs
	@command -v npm >/dev/null 2>&1 || { echo "the console needs Node.js and npm: sudo apt-get install nodejs npm" >&2; exit 1; }
	cd $(CONSOLE_FRONTEND) && npm ci --no-audit --no-fund --loglevel=error && node copy-assets.mjs
	touch $@

test: lint typecheck pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed test-tools console-assets
	$(BIN)/pytest

# The outage tests start and kill a redis-server of their own, on either backend; the console's browser
# tests drive Debian's chromium (Playwright, with the system browser). Debian's packages are installed when
# missing and we are root, else the command to run is printed.
TEST_PACKAGES := redis-server:redis-server chromium:chromium
test-tools:
	@missing=""; for pair in $(TEST_PACKAGES); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing$$missing (apt-get)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "the tests need:$$missing — sudo apt-get install$$missing" >&2; exit 1; \
		fi; \
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
	rm -rf $(VENV) .clarion .mypy_cache .ruff_cache .pytest_cache artifacts \
		$(CONSOLE_FRONTEND)/node_modules src/clarion/console/static/vendor
