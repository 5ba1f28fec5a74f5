# One command per job. `make test` is what CI runs (through .ci/run).
.PHONY: bootstrap check test lab lab-down bench bench-registrations bench-routes bench-cni bench-lab

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
