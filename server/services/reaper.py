"""Lease expiry: active -> stale after the TTL (route kept), stale -> released once it has been stale for the
grace period (so two passes, at least the grace apart, must have seen it expired).

Safe with several controller processes: each transition is one conditional UPDATE, so a row moves (and gets its
event) exactly once whoever runs it.
"""

from __future__ import annotations

import logging
import threading

from server.db.uow import UnitOfWork
from server.domain.lease import LeaseState, release_cutoff, stale_cutoff
from server.services.context import Controller

log = logging.getLogger("hubnet.server")


def reap(ctl: Controller) -> tuple[int, int]:
    """One pass; returns (newly stale, newly released)."""

    def use_case(uow: UnitOfWork) -> tuple[int, int]:
        stale = uow.repo.expire(
            state=LeaseState.ACTIVE, new_state=LeaseState.STALE, before=stale_cutoff(uow.now), now=uow.now
        )
        for node in stale:
            uow.emit("node.stale", node.name, subnet=node.subnet, expired_at=node.expires_at)
        # Two observations across the grace: released only if it was marked stale at least the grace ago (by an
        # earlier pass: a pass that runs late must not mark and release at once) and, re-checked in this same
        # conditional UPDATE, its lease is still expired past the grace.
        cutoff = release_cutoff(uow.now, ctl.settings.release_grace_seconds)
        released = uow.repo.expire(
            state=LeaseState.STALE, new_state=LeaseState.RELEASED, before=cutoff, now=uow.now, marked_before=cutoff
        )
        for node in released:
            uow.emit("node.released", node.name, subnet=node.subnet, reason="lease expired")
        if released:
            ctl.metrics.released(len(released))
        return len(stale), len(released)

    return ctl.write(use_case)


def resume_leases(ctl: Controller) -> int:
    """At start-up, leases that ran out while no controller was running get one fresh TTL before the reaper may
    act: nodes could not heartbeat to a controller that was down, and releasing them all at once (withdrawing
    every route) after a long outage would turn a controller hiccup into a cluster outage."""

    def use_case(uow: UnitOfWork) -> int:
        return uow.repo.extend_expired(until=uow.now + ctl.settings.lease_ttl_seconds)

    resumed = ctl.write(use_case)
    if resumed:
        log.info("start-up: %d expired lease(s) get one TTL to heartbeat before expiry resumes", resumed)
    return resumed


class Reaper:
    """Runs `reap` every interval on a daemon thread until `stop()`; errors are logged, never fatal."""

    def __init__(self, ctl: Controller, interval: float) -> None:
        self.ctl, self.interval = ctl, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hubnet-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                stale, released = reap(self.ctl)
                if stale or released:
                    log.info("leases: %d went stale, %d released", stale, released)
            except Exception:
                log.exception("lease reaper pass failed; retrying in %.0fs", self.interval)
