"""The `bgp` route backend: the reconciler's routes announced by a BGP speaker (gobgpd) instead of a kernel table.

- Owned routes are the speaker's own paths; there are no foreign ones (the speaker holds nothing but ours).
- Start order: the peers wait until the complete table is in the speaker — `set_peers` only stores them, and they
  reach the speaker at the first `synced()` (the reconciler's "the table is complete") after each speaker start.
  So End-of-RIB always follows a full table, and a restarted speaker never makes a router drop what it kept.
- A dead speaker is restarted on the next `list_owned` (the reconciler's next run, at most an interval later);
  `watch`'s callback runs then and whenever a session reaches Established, so the table is re-loaded at once.
- Readiness (`undelivered`): a route is delivered once it was in the speaker's table at a moment when at least
  one session was Established and sending (GoBGP sends a session the whole table when it comes up, and every new
  path to every such session). Delivered stays delivered across session flaps and speaker restarts: the routers
  keep it under graceful restart. Deleting or moving the route forgets it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Container, Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hubnet.net import Network
from hubnet.server.bgp.peers import PeerSpec
from hubnet.server.bgp.sessions import DEFERRAL_SECONDS, PeerStatus
from hubnet.server.domain.routes import ApplyResult, Route, RoutePlan

log = logging.getLogger("hubnet.bgp")
# After a speaker start, how long peers wait for a table in which every route was accepted before they are added
# anyway (some route keeps failing): well inside the graceful-restart time the routers give us.
INCOMPLETE_WAIT = 30.0


class SpeakerPort(Protocol):
    """What the backend needs of a speaker (hubnet.server.bgp.speaker.Speaker; FakeSpeaker in tests)."""

    @property
    def running(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def add(self, routes: Sequence[Route]) -> dict[Network, str]: ...
    def delete(self, routes: Sequence[Route]) -> dict[Network, str]: ...
    def paths(self) -> list[Route]: ...
    def set_peers(self, peers: Sequence[PeerSpec]) -> None: ...
    def peers(self, *, counters: bool = True) -> list[PeerStatus]: ...
    def watch_peers(self, on_change: Callable[[str, str], None]) -> None: ...


class BgpBackend:
    """RouteBackend over a SpeakerPort, plus `synced`, `undelivered`, `set_peers` and `peers`. Thread-safe."""

    name = "bgp"

    def __init__(self, speaker: SpeakerPort, *, registry: CollectorRegistry | None = None) -> None:
        self.speaker = speaker
        self._lock = threading.RLock()
        self._starts = 0  # speaker starts by this backend
        self._synced = False  # the table was complete at least once since the speaker's last start
        self._wanted: list[PeerSpec] = []
        self._table: dict[Network, Route] = {}  # what the speaker holds: last listed, then applied
        self._listed = False  # `_table` was read from the running gobgpd (and kept up to date by apply since)
        self._started = 0.0  # monotonic time of the speaker's last start
        self._delivered: set[Route] = set()
        self._on_drift: Callable[[], None] | None = None
        self._timers: set[threading.Timer] = set()
        if registry is not None:
            registry.register(PeerMetrics(self))

    # -- RouteBackend ------------------------------------------------------------------------------------------
    def list_owned(self, *, fresh: bool = True, keep: Container[Network] | None = None) -> list[Route]:
        """The speaker's paths; (re)starts the speaker first when it is not running (its peers then wait for the
        next `synced()`). `fresh=False` (a run for a database change) answers from the record of what was listed
        and applied since: reading gobgpd's table costs ~30 µs a path, and a change must reach the routers in
        milliseconds. Start-up, periodic and drift runs read it in full, so a path changed behind our back is
        repaired within the reconcile interval."""
        with self._lock:
            restarted = self._ensure_running()
            if not (fresh or restarted or not self._listed):
                return list(self._table.values())
            routes = self.speaker.paths()
            self._table = {r.prefix: r for r in routes}
            self._listed = True
        if restarted and self._on_drift is not None:
            self._on_drift()
        return routes

    def owned_at(self, prefixes: Collection[Network]) -> list[Route] | None:
        """From the record of what was listed and applied (as `list_owned(fresh=False)`); None while the speaker
        is not running or nothing was read from this gobgpd yet (the run then reads in full and restarts it)."""
        with self._lock:
            if not (self._listed and self.speaker.running):
                return None
            table = self._table
            return [table[p] for p in prefixes if p in table]

    def apply(self, plan: RoutePlan, meanwhile: Callable[[], object] | None = None) -> ApplyResult:
        """Withdraw, then announce (a replace is an announce: one UPDATE moves the next hop)."""
        if meanwhile is not None:
            meanwhile()
        with self._lock:
            failed = self.speaker.delete(plan.delete)
            failed.update(self.speaker.add([*plan.add, *plan.replace]))
            for route in plan.delete:
                if route.prefix not in failed:
                    self._forget(route.prefix)
            for route in (*plan.add, *plan.replace):
                if route.prefix not in failed:
                    self._forget(route.prefix)
                    self._table[route.prefix] = route
            return ApplyResult(failed=failed)

    def foreign(self, prefixes: Collection[Network]) -> dict[Network, str]:
        return {}  # the speaker's table holds only what we put there

    def watch(self, on_drift: Callable[[], None]) -> None:
        """`on_drift` when a session reaches Established (and once more when GoBGP's graceful-restart deferral has
        passed, so readiness is re-read) and when the speaker was restarted."""
        self._on_drift = on_drift
        self.speaker.watch_peers(self._peer_changed)

    def close(self) -> None:
        """Stop the speaker (SIGKILL: the routers keep our routes under graceful restart)."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self.speaker.stop()

    # -- the BGP part ------------------------------------------------------------------------------------------
    def set_peers(self, peers: Sequence[PeerSpec]) -> None:
        """The peers we want (from the database). They reach the speaker now if the table is complete, else at
        the next `synced()`."""
        with self._lock:
            self._wanted = list(peers)
            if self._synced and self.speaker.running:  # a dead speaker gets them after its restart's synced()
                self.speaker.set_peers(self._wanted)

    def synced(self, complete: bool = True) -> None:
        """The reconciler loaded the table: hand the peers to the speaker (idempotent). After a speaker start they
        wait for a complete table (no route failed: a restarting speaker's End-of-RIB makes the routers drop what
        it did not re-send), or, if some route keeps failing, until INCOMPLETE_WAIT has passed (well inside the
        graceful-restart time, after which the routers drop everything anyway). Never raises: a speaker that
        fails here is restarted by the next `list_owned`, and the peer sync retries on its own."""
        with self._lock:
            if not self.speaker.running:
                return  # the next list_owned restarts it; the peers wait for the synced() after that
            if not (complete or self._synced or time.monotonic() - self._started >= INCOMPLETE_WAIT):
                return
            self._synced = True
            try:
                self.speaker.set_peers(self._wanted)
            except Exception as exc:  # the routes must still be reported: never fail the reconcile run
                log.warning("BGP peers not configured yet: %s", exc)

    def undelivered(self, routes: Collection[Route]) -> dict[Network, str]:
        """Of `routes`, those not yet delivered to a BGP peer, each with the reason. A route is delivered once it
        was in the speaker's table while a session that carries its family was Established and sending."""
        with self._lock:
            waiting = [r for r in routes if r not in self._delivered]
            if not waiting:
                return {}
            out: dict[Network, str] = {}
            sessions: list[PeerStatus] | None = None
            for family in sorted({r.family for r in waiting}):
                if sessions is None and self._wanted and self._synced:
                    sessions = self._sessions()
                reason = self._why_not_delivering(family, sessions or [])
                if reason is None:  # such a session takes everything of this family the speaker holds now
                    self._delivered.update(r for r in self._table.values() if r.family == family)
                    reason = "not in the BGP speaker's table"
                out.update((r.prefix, reason) for r in waiting if r.family == family and r not in self._delivered)
            return out

    def peers(self) -> list[PeerStatus]:
        """The live sessions (for `GET /v1/bgp/peers` and the metrics); empty while the speaker is not running."""
        try:
            return self.speaker.peers()
        except Exception as exc:  # the speaker is down or restarting: there is no live session to show
            log.debug("BGP peer status unavailable: %s", exc)
            return []

    def wanted_addresses(self) -> set[str]:
        return {str(p.address) for p in self._wanted}

    # -- internals ---------------------------------------------------------------------------------------------
    def _ensure_running(self) -> bool:
        if self.speaker.running:
            return False
        if self._starts:
            log.warning("the BGP speaker is not running: restarting it (routers keep our routes meanwhile)")
            self.speaker.stop()  # reaps what is left of it (a hung gobgpd is killed)
        self.speaker.start()
        self._started = time.monotonic()
        self._starts += 1
        self._synced = False
        self._listed = False  # nothing read from this gobgpd yet
        # What an earlier gobgpd delivered says nothing about this one's table (a route deleted meanwhile and
        # registered again must be delivered again); nodes stored `programmed` stay so (the reconciler asks only
        # about the others), as the routers keep those routes under graceful restart.
        self._delivered.clear()
        return self._starts > 1

    def _forget(self, prefix: Network) -> None:
        old = self._table.pop(prefix, None)
        if old is not None:
            self._delivered.discard(old)

    def _why_not_delivering(self, family: int, sessions: list[PeerStatus]) -> str | None:
        if not self._wanted:
            return "no BGP peer configured (add one: POST /v1/bgp/peers)"
        if not self._synced:
            return "the BGP speaker is loading the table; peers are added once it is complete"
        name = f"ipv{family}-unicast"
        # A peer that announced no multiprotocol capability speaks IPv4 unicast only (RFC 4760).
        carrying = [s for s in sessions if name in s.families or (not s.families and family == 4)]
        if any(s.delivering for s in carrying):
            return None
        if any(s.state == "established" for s in carrying):
            return "BGP sessions are Established; the speaker holds UPDATEs back briefly after a restart"
        if any(s.state == "established" for s in sessions):
            return f"no Established BGP session carries {name} (activate it on the router)"
        return f"no Established BGP peer ({len(self._wanted)} configured)"

    def _sessions(self) -> list[PeerStatus]:
        """The sessions without GoBGP's per-peer prefix counts (which cost a table walk per peer)."""
        try:
            return self.speaker.peers(counters=False)
        except Exception:
            return []

    def _peer_changed(self, address: str, state: str) -> None:
        on_drift = self._on_drift
        if state != "established" or on_drift is None:
            return
        on_drift()
        timer = threading.Timer(DEFERRAL_SECONDS + 1.0, self._after_deferral, args=(on_drift,))
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _after_deferral(self, on_drift: Callable[[], None]) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
        on_drift()


class PeerMetrics(Collector):
    """`hubnet_bgp_session_up{peer}` and `hubnet_bgp_prefixes_advertised{peer}`, read from the speaker when
    scraped (nothing is kept between scrapes)."""

    def __init__(self, backend: BgpBackend) -> None:
        self.backend = backend

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hubnet_bgp_session_up", "1 while the BGP session is Established", labels=["peer"])
        sent = GaugeMetricFamily(
            "hubnet_bgp_prefixes_advertised", "Prefixes the speaker advertises to the peer", labels=["peer"]
        )
        seen = set()
        for status in self.backend.peers():
            seen.add(status.address)
            up.add_metric([status.address], 1.0 if status.state == "established" else 0.0)
            sent.add_metric([status.address], float(status.prefixes_sent))
        for address in self.backend.wanted_addresses() - seen:  # configured, but the speaker does not have it (yet)
            up.add_metric([address], 0.0)
            sent.add_metric([address], 0.0)
        yield up
        yield sent

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected live: registering must not call the speaker
