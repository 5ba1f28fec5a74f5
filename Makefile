# One command per job. `make test` is what CI runs (through .ci/run).
.PHONY: bootstrap check test test-chaos lab lab-down bench bench-registrations bench-routes bench-cni bench-lab

VENV := .venv/bin

bootstrap:
	./scripts/bootstrap.sh

check: bootstrap
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

test: check
	./scripts/start-postgres.sh
	$(VENV)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The chaos tier and the CNI crash test at the issue's full counts (`make test` runs them at counts that fit CI).
test-chaos: bootstrap
	./scripts/start-postgres.sh
	HUBNET_CHAOS_KILL_RUNS=20 HUBNET_CRASH_RUNS=20 $(VENV)/pytest -q -p no:cacheprovider tests/chaos \
		tests/netns/node/test_crash.py

lab: bootstrap
	$(VENV)/hubnet lab up && $(VENV)/hubnet lab check

lab-down:
	$(VENV)/hubnet lab down

bench: bench-registrations bench-routes bench-cni bench-lab

bench-registrations: bootstrap
	./scripts/start-postgres.sh
	$(VENV)/python -m bench.registrations

bench-routes: bootstrap
	$(VENV)/python -m bench.routes --runs 5

bench-cni: bootstrap
	$(VENV)/python -m bench.cni

bench-lab: bootstrap
	$(VENV)/python -m bench.lab --seconds 3 --rounds 11
