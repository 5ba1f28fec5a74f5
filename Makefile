# One command per job. `make test` is what CI runs (through .ci/run).
.PHONY: bootstrap check test test-chaos test-long lab lab-down bench bench-registrations bench-routes bench-cni bench-lab bench-bgp \
	bench-ha bench-openloop bench-scale bench-perf bench-batchcost

VENV := .venv/bin

bootstrap:
	./scripts/bootstrap.sh

check: bootstrap
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

# Chaos sizes: the issue's counts (kill -9 at each registration point x 20 on SQLite, x 5 on PostgreSQL to keep CI
# within its time; kill -9 at each CNI ADD point x 20; the reaper against live nodes for 3 minutes). Override them
# on the command line (`make test HUBNET_CHAOS_KILL_RUNS=3`) for a quicker local run.
CHAOS_SIZES := HUBNET_CHAOS_KILL_RUNS=$(or $(HUBNET_CHAOS_KILL_RUNS),20) \
	HUBNET_CHAOS_KILL_RUNS_POSTGRES=$(or $(HUBNET_CHAOS_KILL_RUNS_POSTGRES),5) \
	HUBNET_CRASH_RUNS=$(or $(HUBNET_CRASH_RUNS),20) \
	HUBNET_CHAOS_REAPER_SECONDS=$(or $(HUBNET_CHAOS_REAPER_SECONDS),180)

# Every tier, the chaos tier included, at the sizes above: what CI runs. Two passes: everything not marked `serial`
# on two pytest-xdist workers (a test file stays on one worker: module fixtures such as a lab are built once), then
# the `serial` tests alone — those whose figures are time-sensitive (pods pinging at 10/s with at most 0.5 s between
# two requests, controller restarts inside a lease window) and must not share the CPU with another worker. Both
# passes always run; the target fails if either did.
test: check
	./scripts/start-postgres.sh
	@status=0; \
	$(CHAOS_SIZES) $(VENV)/pytest -q -p no:cacheprovider -n 2 --dist loadfile -m "not serial" --durations=15 \
		$(PYTEST_ARGS) || status=$$?; \
	$(CHAOS_SIZES) $(VENV)/pytest -q -p no:cacheprovider -m serial --durations=10 $(PYTEST_ARGS) || \
		{ rc=$$?; [ $$rc -eq 5 ] || status=$$rc; }; \
	exit $$status

# The chaos tier (with the lab chaos tests) and the CNI crash test alone, at the same sizes.
test-chaos: bootstrap
	./scripts/start-postgres.sh
	$(CHAOS_SIZES) $(VENV)/pytest -q -p no:cacheprovider --durations=15 tests/chaos tests/netns/node/test_crash.py

# Nightly, not part of `make test`: the allocator state machines (the pure allocator, and the service layer on SQLite:
# register / re-join / delete / return / lease expiry / restart) at LONG_EXAMPLES examples of 50 steps each.
LONG_EXAMPLES ?= 2000
test-long: bootstrap
	HUBNET_LONG_EXAMPLES=$(LONG_EXAMPLES) $(VENV)/pytest -q -p no:cacheprovider --durations=10 -n 2 --timeout=0 \
		tests/unit/server/test_allocator.py tests/integration/test_state_machine.py -k Machine

lab: bootstrap
	$(VENV)/hubnet lab up $(if $(ROUTER),--router $(ROUTER)) $(if $(ROUTERS),--routers $(ROUTERS)) \
		$(if $(CONTROLLERS),--controllers $(CONTROLLERS)) && $(VENV)/hubnet lab check

lab-down:
	$(VENV)/hubnet lab down

bench: bench-registrations bench-routes bench-openloop bench-cni bench-lab bench-bgp bench-ha bench-scale bench-batchcost

# Issue 14's set (the performance goals): registrations, the router table, the open loop, CNI, the reads and the
# memory at 65,536 nodes, and `lab up`'s wall time — without the lab's iperf runs, BGP and HA.
bench-perf: bench-registrations bench-routes bench-openloop bench-cni bench-scale bench-batchcost
	$(VENV)/python -m bench.lab --only-scale

bench-registrations: bootstrap
	./scripts/start-postgres.sh
	$(VENV)/python -m bench.registrations

# GET /v1/pools, /metrics, /readyz at 0 and at 65,536 nodes, and the controller's RSS (issue 14).
bench-scale: bootstrap
	./scripts/start-postgres.sh
	$(VENV)/python -m bench.scale

bench-routes: bootstrap
	$(VENV)/python -m bench.routes --runs 5

# A write batch of registrations by batch size (1, 4, 16, 64), no HTTP: CPU and wall per registration (issue 14).
bench-batchcost: bootstrap
	./scripts/start-postgres.sh
	$(VENV)/python -m bench.batchcost

# Registration -> route in the kernel, OPEN loop (issue 14): per database the closed-loop maximum (64 clients, 3 s),
# then POSTs at fixed intervals at half that rate for 5 s, each timed from its send to its route's netlink
# notification; the trivial endpoint under the same schedule as the peer. Needs root (a network namespace).
bench-openloop: bootstrap
	./scripts/start-postgres.sh
	$(VENV)/python -m bench.openloop --db both --seconds 5

bench-cni: bootstrap
	$(VENV)/python -m bench.cni
	$(VENV)/python -m bench.cni --stack dual

bench-bgp: bootstrap
	$(VENV)/python -m bench.bgp

bench-lab: bootstrap
	$(VENV)/python -m bench.lab --seconds 3 --rounds 11

# The HA lab (issue 11): 5 VRRP failovers with pods pinging at 10/s and 100/s; then registration → route in router
# r2's kernel, open loop through each replica (50/s for 10 s, 200/s for 20 s, 50/s again on the table that left),
# with the plain lab's embedded kernel backend as the same-run peer. `python -m bench.ha --quick` is a smoke run.
bench-ha: bootstrap
	$(VENV)/python -m bench.ha
