# One command per job. `make test` is what CI runs (through .ci/run).
.PHONY: bootstrap check test lab lab-down bench

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

bench: bootstrap
	./scripts/start-postgres.sh
	$(VENV)/python -m bench
