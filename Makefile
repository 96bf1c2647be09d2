# make run: set up everything and serve the demo on http://127.0.0.1:8000
# make test: ruff, mypy and the whole pytest suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EMULATOR_PORT ?= 8420

.PHONY: run test install lint typecheck pytest messages bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# A stable secret for local runs, so demo links keep working across restarts.
.secret_key:
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > .secret_key

# Compile the translations with Babel (no system gettext needed on a fresh machine).
messages: $(STAMP)
	$(BIN)/python scripts/compile_messages.py

run: $(STAMP) .secret_key messages
	DEBUG=1 SECRET_KEY=$$(cat .secret_key) ./scripts/run-local.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	DEBUG=1 $(BIN)/mypy .

# axe-core for the accessibility checks in tests/browser (npm, pinned by package-lock.json).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.installed

pytest: $(STAMP) messages node_modules/.installed
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
