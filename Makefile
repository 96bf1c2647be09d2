# make run: set up everything and serve the demo on http://127.0.0.1:8000
# make api-key COMPANY=acme: print a new API key for a company of the local database
# make test: ruff, the import floors, mypy and the whole pytest suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EMULATOR_PORT ?= 8420

.PHONY: run api-key test install lock lint typecheck pytest messages bench clean

UV_VERSION := 0.13.9
# Every install comes from uv.lock (exact versions and hashes): a fresh clone installs what CI
# tested. --frozen refuses to run if pyproject.toml and the lock disagree; --inexact keeps uv
# itself, which lives in the same virtualenv.
$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet
	touch $(STAMP)

install: $(STAMP)

# Refresh the lock after changing dependencies in pyproject.toml (commit both together).
# `make lock ARGS=--upgrade` moves every dependency to its newest allowed release.
lock:
	test -x $(BIN)/uv || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/pip install --quiet uv==$(UV_VERSION); }
	$(BIN)/uv lock $(ARGS)

# A stable secret for local runs, so demo links keep working across restarts.
.secret_key:
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > .secret_key

# Compile the translations with Babel (no system gettext needed on a fresh machine).
messages: $(STAMP)
	$(BIN)/python scripts/compile_messages.py

run: $(STAMP) .secret_key messages
	DEBUG=1 SECRET_KEY=$$(cat .secret_key) ./scripts/run-local.sh

# `make api-key COMPANY=acme`: a new API key for the company, alone on stdout, with the same
# settings as `make run` (its .secret_key, DEBUG=1, DATABASE_URL if set).
api-key: $(STAMP) .secret_key
	@test -n "$(COMPANY)" || { echo "Usage: make api-key COMPANY=<company slug>" >&2; exit 2; }
	@out=$$(DEBUG=1 SECRET_KEY=$$(cat .secret_key) $(BIN)/python manage.py create_api_key "$(COMPANY)") \
		|| exit $$?; printf '%s\n' "$$out" | tail -n1

# ruff, then the floors (import-linter contracts in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# Wide enough that each contract's verdict stands on one line with its name (the floors'
	# name spells out every floor), in a terminal and in CI logs alike.
	COLUMNS=200 $(BIN)/lint-imports

typecheck: $(STAMP)
	DEBUG=1 $(BIN)/mypy .

# axe-core for the accessibility checks in tests/browser and Lighthouse for
# bench/bench_lighthouse.py (npm, pinned by package-lock.json).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.installed

pytest: $(STAMP) messages node_modules/.installed
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles staticfiles-demo
