"""Lease expiry: active -> stale after the TTL (route kept), stale -> released once it has been stale for the
grace period (so two passes, at least the grace apart, must have seen it expired). Each pass also takes router
agents that stopped reporting down (`services.routers.mark_down`).

Safe with several controller processes: each transition is one conditional UPDATE, so a row moves (and gets its
event) exactly once whoever runs it.

The lease clock stops while no controller runs: every pass stamps the controller clock, and a starting controller
gives the live leases back the time since the last stamp, less one interval, when no controller was alive
(`resume_leases`). The first pass runs right at start, so a controller that crash-loops faster than one interval
still reaps once per start.
"""

from __future__ import annotations

import logging
import time

from hubnet.loop import SupervisedLoop
from hubnet.server.domain.lease import LeaseState, Resume, ResumePlan, release_cutoff, resume_plan, stale_cutoff
from hubnet.server.services import pools, routers
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork

log = logging.getLogger("hubnet.server")


def reap(ctl: Controller) -> tuple[int, int]:
    """One pass; returns (newly stale, newly released)."""

    def use_case(uow: UnitOfWork) -> tuple[int, int]:
        # Lock order is not what keeps this deadlock-free: a heartbeat earlier in this same group-commit batch may
        # already hold a node row when this takes the clock row, while resume_leases takes the clock, then node
        # rows. Every write batch first locks all pool rows (hubnet.server.db.uow, PostgreSQL; on SQLite one writer at a
        # time), so write batches of all processes run one after another.
        uow.repo.stamp_alive(now=uow.now)
        stale = uow.repo.expire(
            state=LeaseState.ACTIVE, new_state=LeaseState.STALE, before=stale_cutoff(uow.now), now=uow.now
        )
        for node in stale:
            uow.emit(
                "node.stale", node.name, subnet=node.primary_subnet, subnets=node.subnets, expired_at=node.expires_at
            )
        # Two observations across the grace: released only if it was marked stale at least the grace ago (by an
        # earlier pass: a pass that runs late must not mark and release at once) and, re-checked in this same
        # conditional UPDATE, its lease is still expired past the grace.
        cutoff = release_cutoff(uow.now, ctl.settings.release_grace_seconds)
        released = uow.repo.expire(
            state=LeaseState.STALE, new_state=LeaseState.RELEASED, before=cutoff, now=uow.now, marked_before=cutoff
        )
        for node in released:
            uow.emit(
                "node.released", node.name, subnet=node.primary_subnet, subnets=node.subnets, reason="lease expired"
            )
        if released:
            ctl.metrics.released(len(released))
        # Rows changed behind our back (or re-joined) since the last pass: check them once, so `GET /v1/pools`
        # keeps checking only the few that are really flagged.
        pools.vet(ctl, uow)
        return len(stale), len(released)

    return ctl.write(use_case)


def resume_leases(ctl: Controller) -> tuple[ResumePlan, int]:
    """At start-up, give the live leases back the time no controller ran: nodes could not heartbeat to a stopped
    controller, and releasing them all at once (withdrawing every route) after an outage would turn a controller
    hiccup into a cluster outage. Only that time, less the one interval the last controller may have lived after its
    last stamp: a controller that crash-loops still ages leases by at least one interval per start and releases dead
    nodes, and restarting one of several controllers gives nothing back. See
    `hubnet.server.domain.lease.resume_plan`; returns the plan applied and how many leases it changed."""

    def use_case(uow: UnitOfWork) -> tuple[ResumePlan, int]:
        alive_at = uow.repo.alive_at(lock=True)
        plan = resume_plan(alive_at, uow.now, ctl.settings.reaper_interval_seconds)
        count = 0
        if plan.action is Resume.ONE_TTL:
            count = uow.repo.extend_expired(until=uow.now + ctl.settings.lease_ttl_seconds)
        elif plan.action is Resume.SHIFT:
            count = uow.repo.shift_live_leases(by=plan.shift)
        uow.repo.stamp_alive(now=uow.now)
        return plan, count

    plan, count = ctl.write(use_case)
    if plan.action is Resume.ONE_TTL:
        log.info("start-up: lease clock never stamped; %d expired lease(s) get one TTL to heartbeat", count)
    elif plan.action is Resume.SHIFT:
        log.info(
            "start-up: no controller ran for up to %.1fs; %d live lease(s) shifted by %.1fs (one reaper interval less)",
            plan.shift + ctl.settings.reaper_interval_seconds,
            count,
            plan.shift,
        )
    else:
        log.info("start-up: a controller was alive until just now; leases unchanged")
    return plan, count


def stamp_alive(ctl: Controller) -> None:
    """Stamp the controller clock once more (a graceful stop): the time until the next start is then all given
    back. Best effort: a stop must not fail because the database is gone."""
    try:
        ctl.write(lambda uow: uow.repo.stamp_alive(now=uow.now))
    except Exception:
        log.warning("could not stamp the controller clock on stop", exc_info=True)


class Reaper:
    """Runs `reap` right at start, then every interval, on a supervised daemon thread until `stop()`; errors are
    logged, never fatal, and the pass is retried at the next interval. The pass at start: a controller that lives
    shorter than one interval (a crash loop) still reaps, and stamps the clock, once per start."""

    def __init__(self, ctl: Controller, interval: float) -> None:
        self.ctl, self.interval = ctl, interval
        self._started = time.monotonic()
        self._loop = SupervisedLoop("hubnet-reaper", self._pass, interval=interval, log=log, what="lease reaper pass")

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(timeout=5)

    def _pass(self, _cause: object) -> None:
        stale, released = reap(self.ctl)
        if stale or released:
            log.info("leases: %d went stale, %d released", stale, released)
        # Router agents that stopped reporting (their own transaction) — once this process has listened for as long
        # as the timeout: while no controller ran (all of them restarted) no router could report, and taking every
        # router down at the first pass would turn every ready node pending until the routers report again.
        if time.monotonic() - self._started >= self.ctl.settings.router_down_seconds:
            routers.mark_down(self.ctl)
