# Rostering Portal: `make demo` runs the whole product locally, `make test` proves it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# pytest-xdist workers gw0, gw1, ... use database test_gw0, test_gw1, ... (made if missing) and Redis db 14, 15, ...
REDIS_TEST_URL ?= redis://127.0.0.1:6379/13
PYTEST_WORKERS ?= 2

.PHONY: venv demo test test-fast services chromium bench bench-district bench-csv bench-csv-source load clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# Redis and PostgreSQL run on this machine; start them if they are down.
services:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
		redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && exit 0; sleep 1; done; \
		echo "Redis or PostgreSQL did not come up" >&2; exit 1

# Browser tests drive Debian's Chromium; never a browser download.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

test: venv services chromium
	TEST_DATABASE_URL=$(PG_TEST_URL) TEST_REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup
	mkdir -p instance && rm -f instance/test-smoke.db
	TEST_DATABASE_URL=sqlite:///$(CURDIR)/instance/test-smoke.db TEST_REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -m smoke -q

test-fast: venv services
	TEST_DATABASE_URL=$(PG_TEST_URL) TEST_REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -m "not browser" -q \
		-n $(PYTEST_WORKERS) --dist loadgroup

# The whole loop on one machine: embedded Redis, sandbox SIS, mail sink, web, worker, scheduler (honcho).
demo: export REDIS_URL = unix://$(CURDIR)/instance/redis.sock
demo: export DEMO_SANDBOX_URL = http://127.0.0.1:8800/_sandbox/admin
demo: venv
	mkdir -p instance && rm -f instance/sandbox.json
	$(BIN)/flask --app wsgi db upgrade heads
	$(BIN)/flask --app wsgi seed-demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

bench: venv services
	$(BIN)/python benchmarks/sync_bench.py

# A district night on PostgreSQL: 8 schools / ~36,000 people and 100 schools / ~1,000,000 (SIZE=small|large|both).
SIZE ?= both
bench-district: venv services
	$(BIN)/python benchmarks/district_bench.py --size $(SIZE)

# A OneRoster CSV bundle of 1,000,000 users: csv module alone vs validate (+ read) through connectors.csvbundle.
bench-csv: venv services
	$(BIN)/python benchmarks/csv_bench.py

bench-csv-source: venv
	$(BIN)/python benchmarks/csv_source_bench.py

# 50 signed-in owners on People Manager and the progress partial during a 100,000-person sync (database test_load).
load: venv services
	$(BIN)/pip install --quiet -e '.[load]'
	$(BIN)/python benchmarks/load_test.py

clean:
	rm -rf $(VENV) instance test-artifacts
