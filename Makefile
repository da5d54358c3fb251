# The two commands of the README. Each bootstraps what it needs: a pinned uv in
# .tools/, then the locked environment in .venv/ (UV_PYTHON_DOWNLOADS=never: the
# machine's own Python 3.11+ is used, nothing is fetched besides packages).
UV_VERSION := 0.13.8
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=

.PHONY: serve test check lint bench setup reliability load

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras
	touch $@

setup: .venv/.synced

serve: .venv/.synced
	.venv/bin/sessionbox serve

# worksteal: a few tests run 20-40 s; an idle worker takes queued tests from a busy one.
test: .venv/.synced
	.venv/bin/pytest -n auto --dist worksteal $(PYTEST_ARGS)

lint: .venv/.synced
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests
	.venv/bin/mypy

check: lint test

bench: .venv/.synced
	.venv/bin/sessionbox bench

# The long variants of the reliability suites (docs/RELIABILITY.md).
reliability: .venv/.synced
	SESSIONBOX_CRASH_KILLS=50 SESSIONBOX_FUZZ_SECONDS=60 SESSIONBOX_FUZZ_EXAMPLES=200 \
	SESSIONBOX_FUZZ_STATEFUL=200 SESSIONBOX_PG_RESTARTS=3 \
		.venv/bin/pytest -n 2 -s --timeout=2700 tests/reliability tests/fuzz

load: .venv/.synced
	for store in sqlite postgres; do for workers in 1 2; do \
		.venv/bin/python bench/load.py --store $$store --workers $$workers; done; done
