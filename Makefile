# Shopfront: `make run` serves the demo at http://127.0.0.1:8000, `make test` runs the tests.
# Everything installs into .venv; nothing here touches the databases in var/ except migrate and seed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall only when pyproject.toml is newer than this stamp.
INSTALLED := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
ADDRESS ?= 127.0.0.1:8000
PYTEST_ARGS ?=
SEED_ARGS ?=
# The history `make run` gives a fresh shop: its orders spread over the last DEMO_DAYS days, so the
# sales charts show a quarter (DEMO_DAYS=0: all today).
DEMO_DAYS ?= 90
# Demo orders send e-mails: unless EMAIL_BACKEND is set, seeding writes them to var/mail/ instead of
# printing hundreds of them on the console.
SEED := EMAIL_BACKEND="$${EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend}" $(MANAGE) seed_demo

.DEFAULT_GOAL := help
.PHONY: help install run serve migrate seed test lint format worker beat clean bench soak audit replica replica-stop

help:  ## List the targets (the default: it changes nothing)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev,bench]'
	touch $@

install: $(INSTALLED)  ## Create .venv and install the project with its dev tools (skipped if up to date)

migrate: install  ## Migrate the write database (default) and the read database (read)
	$(MANAGE) migrate
	$(MANAGE) migrate --database=read

seed: migrate  ## Add demo products, customers and orders (SEED_ARGS="--orders 500 --seed 1")
	$(SEED) $(SEED_ARGS)

run: migrate  ## Migrate, seed an empty shop with 90 days of demo orders (DEMO_DAYS=...), serve http://127.0.0.1:8000 (ADDRESS=...)
	$(SEED) --if-empty --days $(DEMO_DAYS) $(SEED_ARGS)
	$(MANAGE) runserver $(ADDRESS)

serve: migrate  ## Serve as in production (DEBUG=0 and SECRET_KEY set): collect static files, scripts/serve (ADDRESS=...)
	$(MANAGE) collectstatic --noinput -v 0
	PATH="$(abspath $(BIN)):$$PATH" scripts/serve $(ADDRESS)

# The suite runs in TEST_PROCESSES processes at once (pytest-xdist; tests/parallel.py keeps them apart), then
# the few tests that pause or stop the streaming replica every process reads from run alone. Exit status 5
# is pytest's "no test selected": a PYTEST_ARGS="-k ..." may select tests of one phase only.
TEST_PROCESSES ?= 2

test: install  ## Run the tests, TEST_PROCESSES (2) at a time (PYTEST_ARGS="-k seed -x")
	$(BIN)/pytest -n $(TEST_PROCESSES) -m "not exclusive" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m exclusive $(PYTEST_ARGS) || [ $$? -eq 5 ]

bench: install  ## Benchmarks against baselines on PostgreSQL + Redis (own databases), ~10 min; writes bench/results/
	$(BIN)/python -m bench $(BENCH_ARGS)

soak: install  ## Chaos soak: load while processes die every 20-40 s, then the checks; writes soak/results/ (SOAK_ARGS="--minutes 2")
	$(BIN)/python -m soak $(SOAK_ARGS)

audit: install  ## Known vulnerabilities in the installed dependencies (pip-audit; passes, saying so, when offline)
	bash .ci/audit

lint: install  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install  ## Fix what ruff can fix, and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Four workers of one process each, as docker-compose.yml runs them: the projections queue on its own, so
# that the read models never wait behind e-mail or cache runs (a second process often found the checkpoint
# it needed held by the first); the side effects on another; the operators' rebuilds, which take
# minutes, on a third that is idle the rest of the time; and asynchronous commands (Prefer: respond-async)
# on a fourth, so that they wait neither behind the read models nor the other way round.
PROJECTIONS_WORKER := $(BIN)/celery -A config worker -Q projections -c 1 -n projections@%h -l info
SIDE_EFFECTS_WORKER := $(BIN)/celery -A config worker -Q notifications,cache -c 1 -n side-effects@%h -l info
REBUILDS_WORKER := $(BIN)/celery -A config worker -Q rebuilds -c 1 -n rebuilds@%h -l info
COMMANDS_WORKER := $(BIN)/celery -A config worker -Q commands -c 1 -n commands@%h -l info

worker: install  ## Celery workers for the projections, the side effects (notifications, cache), rebuilds and async commands (needs REDIS_URL)
	$(SIDE_EFFECTS_WORKER) & side_effects=$$!; $(REBUILDS_WORKER) & rebuilds=$$!; $(COMMANDS_WORKER) & commands=$$!; \
	trap 'kill $$side_effects $$rebuilds $$commands 2>/dev/null' EXIT INT TERM; \
	$(PROJECTIONS_WORKER)

beat: install  ## The Celery beat scheduler (needs REDIS_URL)
	$(BIN)/celery -A config beat -l info

replica:  ## A local streaming replica of PostgreSQL on 127.0.0.1:5433, in var/replica (scripts/replica)
	scripts/replica start

replica-stop:  ## Stop the local replica (`make replica` starts it again; `scripts/replica destroy` deletes it)
	scripts/replica stop

clean:  ## Remove caches and build leftovers (keeps .venv and the databases in var/)
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache build *.egg-info
