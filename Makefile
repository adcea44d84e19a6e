# Two commands: `make demo` shows the product working, `make test` runs the whole suite.
# Both create .venv and install what is needed; with no DATABASE_URL / BROKER_URL set they use
# the embedded PostgreSQL and Redis under .data (no services needed).

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: install lint test demo up bench chaos chaos-tools clean reset embedded-stop

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (none found on PATH)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# The import contracts ([tool.importlinter] in pyproject.toml) and the type check, which may not
# find more errors in any file than tools/mypy_baseline.txt allows. CI runs it beside `make test`.
lint: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m tools.mypy_baseline

# The suite runs in TEST_WORKERS processes (pytest-xdist): most tests wait on servers, subprocesses
# and Celery workers, so three share two cores well. Each worker has its own database and broker
# namespace (tests/conftest.py); `make test TEST_WORKERS=0` (or PYTEST_ARGS=-n0) runs it in one.
TEST_WORKERS ?= 3

test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The demo and the sandbox run from this checkout (they are not installed with the product).
demo: install
	$(BIN)/python -m demo $(if $(KEEP),--keep,)

# Every Procfile process; one that exits is restarted alone while the others keep running
# (workers/process_set.py). ONLY=worker,notify runs a subset, for a set spread across hosts.
up: install
	$(BIN)/backorders db upgrade
	$(BIN)/backorders config apply
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/backorders up $(if $(ONLY),--only $(ONLY),)

bench: install
	$(BIN)/python -m bench

# The chaos suite at full size (~50 min on 2 cores): kills and restarts real processes and
# private servers; the table is printed and saved to .data/chaos/results.json.
chaos: install chaos-tools
	$(BIN)/python -m tests.chaos.report --reset
	CHAOS_SCALE=full $(BIN)/python -m pytest -q -p no:cacheprovider tests/chaos $(PYTEST_ARGS); \
	status=$$?; $(BIN)/python -m tests.chaos.report; exit $$status

# Scenario 15b runs workers under libfaketime; the RabbitMQ rows need rabbitmq-server. Installed
# from Debian's packages when missing and this is root; otherwise those scenarios skip, saying why.
chaos-tools:
	@command -v faketime >/dev/null 2>&1 && test -x /usr/sbin/rabbitmq-server || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q faketime rabbitmq-server >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q faketime rabbitmq-server >/dev/null 2>&1; }; } || \
	  echo "faketime / rabbitmq-server missing and not installable here: scenarios 15b and the RabbitMQ rows will skip" >&2; }

embedded-stop: install
	$(BIN)/backorders embedded stop

# Start from nothing but keep the installed virtualenv: stops the embedded servers and deletes
# everything under .data (their databases, the demo's logs, beat's schedules, the spool).
reset:
	@if [ -x $(BIN)/backorders ]; then $(BIN)/backorders embedded reset --yes; \
	else echo "deleting .data"; rm -rf .data; fi

# Everything `make` made: the virtualenv too (the next command reinstalls it).
clean:
	@echo "stopping the embedded servers, then deleting $(VENV) (the virtualenv), .data (databases, logs, schedules) and .pytest_cache"
	-@[ -x $(BIN)/backorders ] && $(BIN)/backorders embedded stop
	rm -rf $(VENV) .data .pytest_cache
