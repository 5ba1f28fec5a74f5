"""The node agent: the composition root of the node side (`hubnet node join`).

Start-up: secret, last known record (rebuild the node network from it so running pods keep working), sweep leaked
veths, open the CNI socket (ADD answers 11 until ready), then register and heartbeat. Ready — and only then the
plugin and conflist are written — once the controller reports the node's route `programmed` (fail closed).
SIGTERM stops the process and leaves the network in place; `leave()` deregisters and tears it down.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
from collections.abc import Callable, Sequence
from typing import Any

from hubnet.linux.errors import LinuxError
from hubnet.net import Network, gateway
from hubnet.node.agent import cniconf, netsetup, podnet
from hubnet.node.agent.client import ControllerClient, ControllerError, Unreachable, UntrustedController
from hubnet.node.agent.commands import Commands
from hubnet.node.agent.config import AgentConfig
from hubnet.node.agent.peers import PeerFactory, PeerRoutes
from hubnet.node.agent.secret import SecretError, load_or_create
from hubnet.node.agent.server import AgentSocketServer, lock_state_dir
from hubnet.node.agent.state import NodeNetwork, NodeState, load_record, save_record
from hubnet.node.cnilib import ipam
from hubnet.wire import Node, RouteState

log = logging.getLogger(__name__)
ClientFactory = Callable[[Sequence[str]], ControllerClient]  # controller URLs → client


HEARTBEAT_MAX = 10.0  # seconds: the longest regular heartbeat interval
RETRY_CAP = HEARTBEAT_MAX
RETRY_NOTE = "node keeps running, retry in"  # logged with every attempt that got no answer (tests count them)


def backoff(failures: int, *, base: float = 0.5, cap: float = RETRY_CAP) -> float:
    """Jittered exponential back-off: a random delay in [d/2, d], d = min(cap, base * 2**failures).

    The cap is the longest regular heartbeat interval: once capped, a node out of touch asks about as often as it
    heartbeats (every 5-10 s instead of 8-10 s), so a recovering controller sees roughly its usual load, and once it
    is back the node is `active` again within about one interval (the partition test asks for 15 s)."""
    delay = min(cap, base * 2 ** min(failures, 16))
    return random.uniform(delay / 2, delay)


def heartbeat_interval(record: Node, waiting: int = 0) -> float:
    """A third of the lease, between 1 and 10 s (jittered). While waiting for the route (`waiting` answers in a row
    said not programmed) 0.5 s doubling up to that: readiness comes soon after the reconciler's pass, yet a node
    that never becomes ready (route backend `none`, a failing router) does not poll at 2 Hz forever."""
    ttl = record.lease_ttl_seconds if record.lease_ttl_seconds > 0 else 30.0
    regular = max(1.0, min(HEARTBEAT_MAX, ttl / 3))
    if record.route_state is not RouteState.PROGRAMMED:
        return min(regular, 0.5 * 2.0 ** min(waiting, 16))
    return regular * random.uniform(0.8, 1.0)


def refused(exc: ControllerError) -> bool:
    """A 4xx other than 429: the controller no longer vouches for this node (released, unknown, name or subnet
    taken), so its pods must not get addresses until it does again. 429 (rate limit) and 5xx only delay us."""
    return exc.status is not None and 400 <= exc.status < 500 and exc.status != 429


class Agent:
    def __init__(
        self, config: AgentConfig, client_factory: ClientFactory | None = None, peers: PeerFactory | None = None
    ) -> None:
        self.config = config
        self.state = NodeState()
        self.commands = Commands(config, self.state)
        self._client_factory = client_factory or functools.partial(ControllerClient, ca_file=config.ca_file)
        self._installed: tuple[Network, ...] | None = None  # the subnets the written conflist describes
        self._applied: NodeNetwork | None = None
        # Direct mode (docs/routing.md): the routes to the other nodes, from the route feed. `peers` makes them
        # (hubnet.router.direct, handed over by the CLI); without it a direct-mode record keeps the node not ready.
        self._peer_factory = peers
        self._peers: PeerRoutes | None = None
        self._secret = ""
        self._lock = threading.RLock()  # _apply_network: the sync loop and the peer routes' readiness callback
        self._last: tuple[NodeNetwork, Node | None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set. The node network stays in place afterwards."""
        os.makedirs(self.config.state_dir, mode=0o700, exist_ok=True)
        lock = lock_state_dir(self.config.state_dir)  # raises AlreadyRunning before anything is touched
        try:
            self._run(stop)
        finally:
            os.close(lock)

    def _run(self, stop: threading.Event) -> None:
        secret = self._secret = load_or_create(self.config.secret_path)
        if self.config.fixed_subnets:
            self._apply_fixed()
        else:
            cached = load_record(self.config.record_path)  # route state `pending`: network back up, not ready yet
            if cached is not None:
                try:
                    self._apply(cached)
                except ValueError as exc:
                    log.error("ignoring unusable %s: %s", self.config.record_path, exc)
        self._sweep()
        server = AgentSocketServer(self.config.socket_path, self.commands.dispatch)
        server.start()
        try:
            if not self.config.fixed_subnets:
                self._sync_loop(secret, stop)
            else:
                self._hold_fixed(stop)
        finally:
            server.stop()
            if self._peers is not None:
                self._peers.stop()  # the routes stay: the next start reconciles

    def _hold_fixed(self, stop: threading.Event) -> None:
        """Fixed subnet (test seam): retry a failed setup with back-off until ready, then wait for `stop`."""
        failures = 0
        while not self.state.snapshot()[1]:
            failures += 1
            if stop.wait(backoff(failures, cap=5.0)):
                return
            self._apply_fixed()
        stop.wait()

    def leave(self, *, force: bool = False) -> str:
        """Deregister from the controller, then remove the conflist, plugin and node network.

        A record the controller no longer knows (401, 404, `lease-released`) counts as deregistered. Any other
        failure raises before anything is torn down, unless `force` (controller gone for good). Returns what
        happened with the controller, for the operator.

        Raises AlreadyRunning, with nothing done, while an agent holds the state dir's lock: it would register
        again at once and rebuild the bridge, without the conflist and plugin this removes. Holds the lock itself,
        so no agent starts on the state dir halfway through.
        """
        lock = lock_state_dir(self.config.state_dir)
        try:
            return self._leave(force)
        finally:
            os.close(lock)

    def _leave(self, force: bool) -> str:
        record = load_record(self.config.record_path)
        outcome = "no controller configured"
        if self.config.controller:
            outcome = self._deregister(force)
        cniconf.remove(self.config)
        network = NodeNetwork.from_record(record, self.config.routers) if record else None
        netsetup.teardown(network, self.config.bridge)
        if os.path.exists(self.config.record_path):
            os.unlink(self.config.record_path)
        return outcome

    def _deregister(self, force: bool) -> str:
        try:
            load_or_create(self.config.secret_path)
        except SecretError as exc:
            if not force:
                raise
            return f"not deregistered, torn down anyway (--force): {exc}"
        client = self._client_factory(self.config.controller_urls)
        try:
            client.deregister(name=self.config.name, secret=load_or_create(self.config.secret_path))
            return "deregistered"
        except ControllerError as exc:
            if exc.status in (401, 404) or exc.problem == "lease-released":
                return f"already gone from the controller ({exc})"
            if not force:
                raise
            log.warning("deregistration failed, tearing down anyway (--force): %s", exc)
            return f"not deregistered, torn down anyway (--force): {exc}"
        finally:
            client.close()

    # -- controller --------------------------------------------------------------------------------------------
    def _sync_loop(self, secret: str, stop: threading.Event) -> None:
        client = self._client_factory(self.config.controller_urls)
        registered, failures, waiting, delay = False, 0, 0, 0.0
        try:
            while not stop.wait(delay):
                try:
                    if registered:
                        record = client.heartbeat(name=self.config.name, secret=secret, bridge=self._report())
                    else:
                        record = client.register(
                            token=self.config.token,
                            name=self.config.name,
                            address=str(self.config.address),
                            addresses=[str(a) for a in self.config.addresses],
                            secret=secret,
                        )
                        registered = True
                    self._apply(record)
                    failures, delay = 0, heartbeat_interval(record, waiting)
                    waiting = 0 if record.route_state is RouteState.PROGRAMMED else waiting + 1
                except Unreachable as exc:
                    failures += 1
                    delay = backoff(failures)
                    log.warning("%s; %s %.1fs", exc, RETRY_NOTE, delay)
                except UntrustedController as exc:
                    # An impostor or the wrong CA: nothing was sent. The node keeps running on what it knows (a
                    # man in the middle must not be able to take its pods down) and says so loudly every time.
                    failures += 1
                    delay = backoff(failures)
                    log.error("%s; %s %.1fs", exc, RETRY_NOTE, delay)
                except ControllerError as exc:
                    if exc.status in (401, 403, 404) or exc.problem == "lease-released":
                        registered = False  # record gone, released or secret no longer accepted: register again
                    if refused(exc):  # fail closed until the controller accepts the node again
                        self.state.not_ready(f"controller refused the node: {exc}")
                    failures += 1
                    delay = backoff(failures)
                    log.error("controller: %s; retry in %.1fs", exc, delay)
                except ValueError as exc:  # WireError: the answer has not the contract's shape; or its values
                    self.state.not_ready(f"invalid answer from the controller: {exc}")
                    failures += 1
                    delay = backoff(failures)
                    log.error("controller: invalid answer: %s; retry in %.1fs", exc, delay)
        finally:
            client.close()

    def _apply_fixed(self) -> None:
        """Fixed subnet (test seam): no controller, ready as soon as the node network is up."""
        config = self.config
        network = NodeNetwork.build(config.fixed_subnets, config.fixed_cluster_cidrs, config.routers)
        self._apply_network(network, None, route="programmed")

    def _apply(self, record: Node) -> None:
        """Bring the node network in line with the controller's record (saved for the next start); ready iff the
        route is programmed (hub mode) or every peer route is in place (direct mode). Raises ValueError for a record
        whose values make no sense (nothing applied)."""
        network = NodeNetwork.from_record(record, self.config.routers)
        with self._lock:
            self._switch(network)
            self._apply_network(network, record, route=self._route(network, record))

    def _route(self, network: NodeNetwork, record: Node | None) -> str:
        """The readiness input: the controller's route state (hub), or ours (direct: `programmed` once the peers'
        routes match the feed)."""
        if not network.direct:
            return record.route_state.value if record is not None else RouteState.PENDING.value
        if self._peers is None:
            return "pending (direct mode needs the peer routes, which this agent cannot program)"
        ready, reason = self._peers.ready()
        return RouteState.PROGRAMMED.value if ready else reason

    def _switch(self, network: NodeNetwork) -> None:
        """Start or stop the peer routes as the mode says (docs/routing.md, switching modes).

        hub → direct: the peer routes start with the cluster route kept in their desired set; once every peer route
        is in place it is dropped, and deleted (peers first, then the cluster route). direct → hub: stop following,
        install the cluster route (`netsetup.ensure`, in `_apply_network`), then delete the peer routes."""
        if network.direct and self._peers is None and self._peer_factory is not None:
            was_hub = self._applied is not None and not self._applied.direct
            keep = network.cluster_routes() if was_hub else []
            if was_hub:
                log.info("mode: hub -> direct; keeping the cluster route until every peer route is in place")
            self._peers = self._peer_factory(
                name=self.config.name, secret=self._secret, proto=network.proto, keep=keep, on_change=self._changed
            )
            self._peers.start()
        elif not network.direct and self._peers is not None:
            log.info("mode: direct -> hub; adding the cluster route, then removing the peer routes")
            peers, self._peers = self._peers, None
            peers.stop()
            try:
                netsetup.ensure(network, self.config.bridge)  # the cluster route first
            except (LinuxError, OSError) as exc:
                log.error("node network setup failed: %s", exc)
            kept = [cidr for cidr, _ in network.cluster_routes()]
            failed = peers.withdraw(kept)
            if failed:
                log.error("direct -> hub: %d peer route(s) could not be removed", failed)

    def _changed(self) -> None:
        """The peer routes' readiness flipped (their reconcile thread): re-evaluate at once, not at the next
        heartbeat. Gives up after a second: the sync loop may hold the lock while it stops the peer routes (which
        waits for this thread); the next heartbeat re-evaluates then."""
        if not self._lock.acquire(timeout=1.0):
            return
        try:
            if self._last is None or not self._last[0].direct:
                return
            network, record = self._last
            self._apply_network(network, record, route=self._route(network, record))
        finally:
            self._lock.release()

    def _report(self) -> dict[str, Any] | None:
        """The heartbeat's bridge report, with direct mode's peer-route summary (`direct`)."""
        bridge = self._bridge()
        peers = self._peers
        summary = peers.report() if peers is not None else None
        if bridge is not None and summary is not None:
            bridge["direct"] = summary
        return bridge

    def _apply_network(self, network: NodeNetwork, record: Node | None, *, route: str) -> None:
        """Never raises for a kernel or file-system failure (full disk, read-only CNI dir): the node is marked not
        ready with the reason, and the next tick tries again."""
        self._last = (network, record)
        try:
            if record is not None:
                save_record(self.config.record_path, record)
            netsetup.ensure(network, self.config.bridge)
        except (LinuxError, OSError) as exc:  # keep running (pods may still work); not ready until a retry works
            log.error("node network setup failed: %s", exc)
            self.state.update(network, ready=False, reason=f"node network setup failed: {exc}", record=record)
            return
        if network != self._applied:
            log.info(
                "node network: subnet %s gateway %s bridge %s",
                ",".join(str(s) for s in network.subnets),
                ",".join(str(gateway(s)) for s in network.subnets),
                self.config.bridge,
            )
            self._applied = network
        ready = route == RouteState.PROGRAMMED
        subnets = ",".join(str(s) for s in network.subnets)
        reason = "ready" if ready else f"route to {subnets} is {route!r}, not programmed"
        if network.direct and not ready:
            reason = route
        if ready and self._installed != network.subnets:  # first time, or the controller moved us
            try:
                cniconf.install_plugin(self.config)
                cniconf.write_conflist(self.config, network.subnets)
            except OSError as exc:
                log.error("cannot install the CNI plugin or conflist: %s; retrying", exc)
                reason = f"cannot install the CNI plugin or conflist: {exc}"
                self.state.update(network, ready=False, reason=reason, record=record)
                return
            self._installed = network.subnets
            log.info("node ready: plugin and %s written", self.config.conflist_path)
        self.state.update(network, ready=ready, reason=reason, record=record)

    def _bridge(self) -> dict[str, Any] | None:
        """The bridge as the kernel has it now (for the controller's integrity check); None if unreadable."""
        try:
            return netsetup.bridge_state(self.config.bridge)
        except (LinuxError, OSError) as exc:
            log.warning("cannot read bridge %s for the heartbeat: %s", self.config.bridge, exc)
            return None

    def _sweep(self) -> None:
        """Remove bridge ports whose attachment holds no reservation (left by a DEL done while we were down)."""
        network, _, _ = self.state.snapshot()
        if network is None:
            return
        keep = {
            podnet.host_veth(r.container_id, r.ifname)
            for subnet in network.subnets
            for r in ipam.Store(self.config.ipam_dir(subnet), subnet).reservations()
        }
        swept = podnet.sweep(self.config.bridge, keep)
        if swept.removed:
            log.warning("removed %d leaked veth(s): %s", len(swept.removed), ", ".join(swept.removed))
        for error in swept.errors:
            log.error("sweep: %s", error)
