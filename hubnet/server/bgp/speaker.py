"""The BGP speaker: gobgpd as the controller's child, driven over its gRPC API (GoBGP 3.10, Debian's).

Lifecycle: `start()` spawns gobgpd (no config file: everything goes through the API), waits for the API, starts
BGP with graceful restart for both families. gobgpd dies with the controller (PR_SET_PDEATHSIG, see child.py) and
`stop()` kills it the same way, with SIGKILL: it never sends a NOTIFICATION, so every peer keeps our routes for
the graceful-restart time and the next speaker re-announces them (its first peers set the Restart State and
Forwarding State bits; see sessions.peer_message). Nothing survives a controller: a restarted one binds at once.

The API listens on a unix socket in a private directory (mode 0700), not on a TCP port: gobgpd's API has no
authentication, and a loopback port would let any local user change the routes; a socket path also reaches a
gobgpd that runs in another network namespace (tests, the lab). `api_port` > 0 asks for TCP 127.0.0.1 instead.

The speaker takes no route from its peers (sessions.ONLY_OURS): it announces hubnet's routes and nothing else.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

import grpc

from hubnet.net import Network
from hubnet.server.bgp.child import Child
from hubnet.server.bgp.gobgpapi import gobgp_pb2 as api
from hubnet.server.bgp.gobgpapi import gobgp_pb2_grpc as rpc
from hubnet.server.bgp.gobgplog import GobgpLog
from hubnet.server.bgp.paths import FAMILIES, PathDecoder, PathEncoder, request
from hubnet.server.bgp.peers import PeerSpec
from hubnet.server.bgp.sessions import IMPORT_ONLY_OURS, ONLY_OURS, PeerStatus, md5_drops, peer_message, status_of
from hubnet.server.domain.routes import Route

__all__ = ["PeerStatus", "Speaker", "SpeakerConfig", "SpeakerError"]

log = logging.getLogger("hubnet.bgp")

BATCH = 2000  # paths per AddPathStream message: 65,536 load in ~1 s from 500 up; one per message took 10 s
START_TIMEOUT = 15.0  # for gobgpd's API to answer and for its BGP port to be free (a killed predecessor's)
CALL_TIMEOUT = 60.0  # any single API call (a full table is ~1 s)
# The API's own limit (gobgpd allows 256 MiB): a table snapshot of 65,536 paths is ~14 MB, gRPC's default 4 MB.
MAX_MESSAGE = 256 << 20
# gobgpd's heap at 65,536 paths is ~60-90 MB live; Go's default GC lets the process grow to ~220 MB RSS. A soft
# limit keeps it near 130 MB at a little GC CPU. An operator's own GOMEMLIMIT/GOGC in the environment wins.
GO_MEMORY_LIMIT = "128MiB"
DIR_PREFIX = "hubnet-bgp-"  # + our pid: the private directory of gobgpd's API socket, under the temp dir


class SpeakerError(RuntimeError):
    """gobgpd is not running, did not start, or refused a call; the message says which and why."""


@dataclass(frozen=True)
class SpeakerConfig:
    asn: int
    router_id: IPv4Address
    # HUBNET_BGP_LISTEN's host: one address, one family ("0.0.0.0" accepts IPv4 sessions only, "::" IPv6 only).
    # gobgpd also connects out to every peer, so a peer of the other family still comes up, from our side.
    listen_address: str = "0.0.0.0"
    listen_port: int = 179  # 0 = do not listen (gobgpd's -1): sessions are only connected out
    gr_restart_seconds: int = 120
    gobgpd: str = "gobgpd"
    api_port: int = 0  # 0 = a unix socket in a private directory (see the module docstring)
    netns: str | None = None  # run gobgpd inside this named netns (tests/lab); None = our own namespace


class Speaker:
    """One gobgpd. Thread-safe: calls may come from the reconciler, the API's threads and the peer sync loop."""

    def __init__(self, config: SpeakerConfig, *, batch: int = BATCH) -> None:
        self.config, self.batch = config, batch
        self._lock = threading.RLock()
        self._child: Child | None = None
        self._channel: grpc.Channel | None = None
        self._stub: Any = None
        self._dir: str | None = None
        self._peers: dict[str, PeerSpec] = {}  # configured in this gobgpd
        self._refused: dict[str, str] = {}  # peers gobgpd would not take → its reason (shown as last_error)
        self._fresh = True  # no peer added since the last start: the next ones are told we restarted
        self._log = GobgpLog()
        self._on_change: Callable[[str, str], None] | None = None
        self._watch: Any = None  # the running WatchEvent call
        self._encoder = PathEncoder()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn gobgpd and start BGP (idempotent while it runs). Raises SpeakerError with gobgpd's last words."""
        with self._lock:
            if self._child is not None and self._child.alive:
                return
            self._discard()
            _sweep_dirs()
            self._dir = tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-")
            try:
                target = self._spawn()
                self._channel = grpc.insecure_channel(
                    target,
                    options=[
                        ("grpc.max_receive_message_length", MAX_MESSAGE),
                        ("grpc.max_send_message_length", MAX_MESSAGE),
                    ],
                )
                self._stub = rpc.GobgpApiStub(self._channel)  # type: ignore[no-untyped-call]
                self._start_bgp(time.monotonic() + START_TIMEOUT)
            except BaseException:
                self._discard()
                raise
            self._peers, self._fresh, self._refused = {}, True, {}
            if self._on_change is not None:
                self._start_watch()
            assert self._child is not None
            log.info(
                "BGP speaker started (gobgpd pid %d, AS %d, router id %s)",
                self._child.pid,
                self.config.asn,
                self.config.router_id,
            )

    def stop(self) -> None:
        """SIGKILL gobgpd (never a NOTIFICATION: peers keep our routes under graceful restart) and reap it."""
        with self._lock:
            self._discard()

    @property
    def running(self) -> bool:
        """gobgpd is alive and its API answers."""
        with self._lock:
            if self._child is None or not self._child.alive:
                return False
            try:
                self._stub.GetBgp(api.GetBgpRequest(), timeout=5)
            except grpc.RpcError:
                return False
            return True

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.pid if child is not None and child.alive else None

    # -- routes ------------------------------------------------------------------------------------------------
    def add(self, routes: Sequence[Route]) -> dict[Network, str]:
        """Announce `routes` (explicit NEXT_HOP = route.next_hop, never ourselves). A prefix announced again with
        another next hop replaces the old path: one UPDATE, no withdraw. Returns the prefixes that failed."""
        failed = {
            r.prefix: "prefix and next hop of different families" for r in routes if r.family != r.next_hop.version
        }
        good = [r for r in routes if r.prefix not in failed] if failed else list(routes)
        return {**failed, **self._stream(good, withdraw=False)}

    def delete(self, routes: Sequence[Route]) -> dict[Network, str]:
        """Withdraw the prefixes of `routes` (a missing one is fine). Returns the prefixes that failed."""
        return self._stream(list(routes), withdraw=True)

    def paths(self) -> list[Route]:
        """Our paths in gobgpd's global RIB (both families): the best path of each prefix that we originated.

        A snapshot from a best-path watch with `init` (one message for the whole table, ~0.6 s at 65,536), not
        ListPath, which streams one message per prefix and costs Python ~9 s at that size."""
        table = api.WatchEventRequest.Table(
            filters=[api.WatchEventRequest.Table.Filter(type=api.WatchEventRequest.Table.Filter.BEST, init=True)]
        )
        call = self._api().WatchEvent(api.WatchEventRequest(table=table), timeout=CALL_TIMEOUT)
        try:
            first = next(call)
        except grpc.RpcError as exc:
            raise SpeakerError(f"failed to list gobgpd's paths: {_why(exc)}") from None
        finally:
            call.cancel()
        return PathDecoder().routes(first.table.paths)

    def _stream(self, routes: list[Route], *, withdraw: bool) -> dict[Network, str]:
        if not routes:
            return {}
        stub = self._api()
        try:
            stub.AddPathStream(self._encoder.batches(routes, self.batch, withdraw=withdraw), timeout=CALL_TIMEOUT)
            return {}
        except grpc.RpcError as exc:
            if not self.running:
                raise SpeakerError(f"gobgpd stopped while taking paths: {_why(exc)}") from None
            log.warning("gobgpd refused a batch of paths (%s); retrying them one by one", _why(exc))
        return self._one_by_one(stub, routes, withdraw=withdraw)

    def _one_by_one(self, stub: Any, routes: list[Route], *, withdraw: bool) -> dict[Network, str]:
        failed = {}
        for route in routes:
            try:
                if withdraw:
                    path = request(route, withdraw=True).path
                    stub.DeletePath(api.DeletePathRequest(family=FAMILIES[route.family], path=path), timeout=10)
                else:
                    stub.AddPath(request(route), timeout=10)
            except grpc.RpcError as exc:
                failed[route.prefix] = f"gobgpd refused the path: {_why(exc)}"
        return failed

    # -- peers -------------------------------------------------------------------------------------------------
    def set_peers(self, peers: Sequence[PeerSpec]) -> None:
        """Make gobgpd's peers exactly `peers`: add missing, delete gone, delete and re-add changed ones.

        Each peer on its own: one that gobgpd refuses (e.g. a link-local address whose zone names no interface in
        its namespace) is left out and shown with gobgpd's reason (`peers()`), the others are configured. A peer
        gobgpd already has (an earlier add that timed out on our side) counts as added. Raises SpeakerError only
        when gobgpd itself is gone. The first peers after a start are added as "restarting" (see
        sessions.peer_message); later ones are not."""
        with self._lock:
            stub = self._api()
            wanted = {str(p.address): p for p in peers}
            refused: dict[str, str] = {}
            for address, spec in list(self._peers.items()):
                if wanted.get(address) != spec:
                    try:
                        self._call(stub.DeletePeer, api.DeletePeerRequest(address=address), f"delete peer {address}")
                    except SpeakerError as exc:
                        if "not found" not in str(exc).lower():
                            self._still_alive(exc)
                            refused[address] = str(exc)
                            continue
                    del self._peers[address]
                    self._log.forget(address)
            restarting = self._fresh
            for address, spec in wanted.items():
                if address in self._peers or address in refused:
                    continue
                message = peer_message(spec, gr_seconds=self.config.gr_restart_seconds, restarting=restarting)
                try:
                    self._call(stub.AddPeer, api.AddPeerRequest(peer=message), f"add peer {address}")
                except SpeakerError as exc:
                    if "existing peer" not in str(exc):  # GoBGP: "can't overwrite the existing peer"
                        self._still_alive(exc)
                        refused[address] = str(exc)
                        log.warning("BGP peer %s left out: %s", address, exc)
                        continue
                self._peers[address] = spec
                self._fresh = False
            self._refused = refused

    def _still_alive(self, exc: SpeakerError) -> None:
        """Re-raise `exc` when gobgpd is gone (the caller restarts it), rather than blame one peer."""
        if self._child is None or not self._child.alive:
            raise exc

    def peers(self, *, counters: bool = True) -> list[PeerStatus]:
        """Every configured peer's session, live from gobgpd. `counters=False` leaves prefixes_sent at 0: GoBGP
        counts them by walking the table for each peer (~0.25 s at 65,536 routes)."""
        stub = self._api()
        try:
            question = api.ListPeerRequest(enableAdvertised=counters)
            answers = list(stub.ListPeer(question, timeout=CALL_TIMEOUT))
        except grpc.RpcError as exc:
            raise SpeakerError(f"failed to list gobgpd's peers: {_why(exc)}") from None
        drops = self._md5_drops()
        refused = [PeerStatus(address, "idle", None, 0, 0, why) for address, why in self._refused.items()]
        return sorted(
            (
                *(
                    status_of(a.peer, logged=self._log.reason(a.peer.conf.neighbor_address), md5_drops=drops)
                    for a in answers
                ),
                *refused,
            ),
            key=lambda s: s.address,
        )

    def watch_peers(self, on_change: Callable[[str, str], None]) -> None:
        """Call `on_change(address, state)` on every session state change, from a daemon thread; the watch
        follows the speaker across restarts."""
        with self._lock:
            self._on_change = on_change
            if self._child is not None and self._child.alive:
                self._start_watch()

    # -- internals ---------------------------------------------------------------------------------------------
    def _spawn(self) -> str:
        assert self._dir is not None
        if self.config.api_port:
            if self.config.netns:
                raise SpeakerError("api_port needs gobgpd in our own namespace (netns is set): use the unix socket")
            target = hosts = f"127.0.0.1:{self.config.api_port}"
        else:
            path = os.path.join(self._dir, "api.sock")
            target, hosts = f"unix:{path}", f"unix://{path}"
        binary = shutil.which(self.config.gobgpd)
        if binary is None:
            raise SpeakerError(f"gobgpd not found: {self.config.gobgpd!r} (apt-get install gobgpd)")
        env = dict(os.environ)
        if "GOMEMLIMIT" not in env and "GOGC" not in env:
            env["GOMEMLIMIT"] = GO_MEMORY_LIMIT
        # -l info: "Peer Down" reasons are logged at info (gobgplog keeps them and forwards the warnings).
        argv = [binary, "--api-hosts", hosts, "--pprof-disable", "-l", "info"]
        self._child = Child(argv, lines=self._log.line, netns=self.config.netns, env=env)
        return target

    def _start_bgp(self, deadline: float) -> None:
        """Wait for the API, then StartBgp; a listen port still held by a dying predecessor is retried."""
        listen = self.config.listen_port or -1
        addresses = [self.config.listen_address] if listen > 0 else []
        request_ = api.StartBgpRequest(
            **{
                "global": api.Global(
                    asn=self.config.asn,
                    router_id=str(self.config.router_id),
                    listen_port=listen,
                    listen_addresses=addresses,
                    families=[0, 1],  # ipv4-unicast, ipv6-unicast (GoBGP's AfiSafiType numbers)
                    graceful_restart=api.GracefulRestart(
                        enabled=True, restart_time=self.config.gr_restart_seconds, notification_enabled=True
                    ),
                )
            }
        )
        while True:
            assert self._child is not None
            if not self._child.alive:
                raise SpeakerError(
                    f"gobgpd exited at start (code {self._child.process.returncode}): {self._log.last_words}"
                )
            try:
                self._stub.StartBgp(request_, timeout=5)
                break
            except grpc.RpcError as exc:
                unready = exc.code() == grpc.StatusCode.UNAVAILABLE  # the API is not listening yet
                if not unready and "address already in use" not in _why(exc):
                    raise SpeakerError(f"gobgpd refused to start BGP: {_why(exc)}") from None
                if time.monotonic() > deadline:
                    raise SpeakerError(f"gobgpd did not start BGP within {START_TIMEOUT:.0f}s: {_why(exc)}") from None
            time.sleep(0.05)
        self._call(self._stub.AddPolicy, api.AddPolicyRequest(policy=ONLY_OURS), "add the import policy")
        self._call(
            self._stub.AddPolicyAssignment,
            api.AddPolicyAssignmentRequest(assignment=IMPORT_ONLY_OURS),
            "assign the import policy",
        )

    def _start_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        call = self._stub.WatchEvent(api.WatchEventRequest(peer=api.WatchEventRequest.Peer()))
        self._watch = call
        on_change = self._on_change
        assert on_change is not None
        threading.Thread(target=_follow, args=(call, on_change), name="hubnet-bgp-watch", daemon=True).start()

    def _discard(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._channel is not None:
            self._channel.close()
            self._channel = self._stub = None
        if self._child is not None:
            self._child.kill()
            log.info("BGP speaker stopped (gobgpd pid %d killed)", self._child.pid)
            self._child = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _api(self) -> Any:
        stub = self._stub
        if stub is None:
            raise SpeakerError("the BGP speaker is not running")
        return stub

    def _call(self, method: Callable[..., Any], message: Any, what: str) -> None:
        try:
            method(message, timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            raise SpeakerError(f"gobgpd failed to {what}: {_why(exc)}") from None

    def _md5_drops(self) -> int:
        pid = self.pid
        try:
            with open(f"/proc/{pid}/net/netstat") as f:
                return md5_drops(f.read())
        except OSError:
            return 0


def _sweep_dirs() -> None:
    """Remove the API directories of controllers that died without cleaning up (kill -9): named by their pid."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        if not name.startswith(DIR_PREFIX):
            continue
        pid = name[len(DIR_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def _why(exc: grpc.RpcError) -> str:
    details = exc.details() if hasattr(exc, "details") else None
    return str(details or exc)


def _follow(call: Iterator[api.WatchEventResponse], on_change: Callable[[str, str], None]) -> None:
    """The peer watch thread: hands every session state change on, until the call ends (gobgpd stopped)."""
    names = {v: k.lower() for k, v in api.PeerState.SessionState.items()}
    try:
        for event in call:
            peer = event.peer
            if event.WhichOneof("event") == "peer" and peer.type == api.WatchEventResponse.PeerEvent.STATE:
                state = peer.peer.state
                try:
                    on_change(state.neighbor_address, names.get(state.session_state, "unknown"))
                except Exception:
                    log.exception("BGP peer state callback failed")
    except grpc.RpcError:
        return  # cancelled, or gobgpd went away: the next start() watches again
