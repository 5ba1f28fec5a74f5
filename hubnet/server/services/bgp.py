"""BGP peer use cases: add / list / show / delete (admin), and the peers the speaker is told (`peer_specs`).

The peers live in the database, so every controller process configures the same ones. Each change commits one
event of kind `bgp_peers` (PEERS_CHANGED): the composition root's after-commit hook sees it in `Commit.kinds` and
wakes the peer sync. What a session is doing right now comes from the speaker, through `PeerStatusSource`.

The password is a secret: it is stored (the speaker needs it) and handed to the speaker, never returned (only
`password_set`), never part of an event, a log line or a repr.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from hubnet.server.bgp.peers import PeerRecord, PeerSpec, canonical_address, parse_peer
from hubnet.server.domain.errors import InvalidInput, NotFound, PeerExists
from hubnet.server.services.auth import require_admin
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork
from hubnet.wire import BgpPeer

log = logging.getLogger("hubnet.server")
PEERS_CHANGED = "bgp_peers"  # the event kind (and so the `Commit.kinds` member) of every peer change
UNKNOWN = "unknown"
NOT_ENABLED = "the bgp route backend is not enabled (HUBNET_ROUTE_BACKEND)"
NOT_CONFIGURED = "not configured on the speaker yet (peers are added after the first complete route sync)"


class PeerStatus(Protocol):
    """What the speaker knows about one session (the fields of `BgpPeer` that the database does not hold)."""

    @property
    def address(self) -> str: ...
    @property
    def state(self) -> str: ...  # the BGP FSM state in lower case: idle, connect, active, opensent, ...
    @property
    def uptime_seconds(self) -> float | None: ...
    @property
    def prefixes_sent(self) -> int: ...
    @property
    def prefixes_accepted(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def families(self) -> Sequence[str]: ...
    @property
    def graceful_restart(self) -> bool: ...


class PeerStatusSource(Protocol):
    """The live side of `GET /v1/bgp/peers` (the bgp backend's speaker): one status per configured session."""

    def peers(self) -> Sequence[PeerStatus]: ...


def changes_peers(kinds: Collection[str]) -> bool:
    """Whether a commit with events of these kinds changed the stored peers (so the speaker's must be synced)."""
    return PEERS_CHANGED in kinds


def add_peer(ctl: Controller, *, token: str | None, body: object) -> BgpPeer:
    """Store a peer from a `POST /v1/bgp/peers` body. Raises InvalidInput naming the field (nothing stored),
    Unauthenticated / Forbidden (not an admin), PeerExists (that address is stored, by this or another process)."""
    spec = parse_peer(body)
    address = str(spec.address)

    def use_case(uow: UnitOfWork) -> PeerRecord:
        require_admin(ctl, uow, token, "manage BGP peers")
        record = PeerRecord(address, spec.asn, spec.password, spec.multihop, spec.description, uow.now)
        if not uow.repo.bgp_peers.add(record):
            raise PeerExists(f"a BGP peer with address {address} exists; delete it first to change it", field="address")
        uow.emit(PEERS_CHANGED, None, change="added", **_facts(record))
        return record

    record = ctl.write(use_case)
    log.info("BGP peer %s (AS %d) added", record.address, record.asn)
    return _view(record, _statuses(ctl))


def delete_peer(ctl: Controller, *, token: str | None, address: str) -> None:
    """Delete the peer with this address (any spelling: `FD00::1` finds `fd00::1`). Raises InvalidInput (not an
    address), NotFound naming `address`."""
    key = str(canonical_address(address))

    def use_case(uow: UnitOfWork) -> PeerRecord:
        require_admin(ctl, uow, token, "manage BGP peers")
        record = uow.repo.bgp_peers.by_address(key)
        if record is None or not uow.repo.bgp_peers.delete(key):
            raise NotFound(f"no BGP peer with address {key}", field="address")
        uow.emit(PEERS_CHANGED, None, change="deleted", **_facts(record))
        return record

    record = ctl.write(use_case)
    log.info("BGP peer %s (AS %d) deleted", record.address, record.asn)


def list_peers(ctl: Controller, *, token: str | None) -> list[BgpPeer]:
    """Every stored peer (in the order they were added) with its session as this process's speaker sees it."""

    def use_case(uow: UnitOfWork) -> list[PeerRecord]:
        require_admin(ctl, uow, token, "read BGP peers")
        return uow.repo.bgp_peers.all()

    records = ctl.read(use_case)
    statuses = _statuses(ctl) if records else {}
    return [_view(record, statuses) for record in records]


def get_peer(ctl: Controller, *, token: str | None, address: str) -> BgpPeer:
    """One peer, or NotFound naming `address`."""
    key = str(canonical_address(address))

    def use_case(uow: UnitOfWork) -> PeerRecord | None:
        require_admin(ctl, uow, token, "read BGP peers")
        return uow.repo.bgp_peers.by_address(key)

    record = ctl.read(use_case)
    if record is None:
        raise NotFound(f"no BGP peer with address {key}", field="address")
    return _view(record, _statuses(ctl))


def peer_specs(ctl: Controller) -> list[PeerSpec]:
    """The stored peers, passwords included, for the speaker (the peer sync loop). A row that does not parse (edited
    by hand) is logged and left out rather than stopping the sync of the others."""
    specs = []
    for record in ctl.read(lambda uow: uow.repo.bgp_peers.all()):
        try:
            specs.append(record.spec())
        except ValueError:
            log.warning("stored BGP peer %r is not an IP address: not configured", record.address)
    return specs


def _facts(record: PeerRecord) -> dict[str, object]:
    """What an event says about a peer: everything but the password, of which only its presence."""
    return {
        "address": record.address,
        "asn": record.asn,
        "multihop": record.multihop,
        "password_set": record.password is not None,
    }


Statuses = Mapping[str, PeerStatus] | str  # by canonical address, or why there are none


def _statuses(ctl: Controller) -> Statuses:
    """The speaker's sessions by canonical address; or, when it cannot tell, why not (one line for `last_error`)."""
    source = ctl.bgp_status
    if source is None:
        return NOT_ENABLED
    try:
        statuses = source.peers()
    except Exception as exc:  # a speaker restarting must not turn the listing into a 500
        log.warning("BGP speaker status unavailable: %s", exc)
        return f"the BGP speaker did not answer: {exc}"
    found = {}
    for status in statuses:
        try:
            found[str(canonical_address(status.address))] = status
        except InvalidInput:
            log.warning("BGP speaker reports a session to %r, which is not an IP address", status.address)
    return found


def _view(record: PeerRecord, statuses: Statuses) -> BgpPeer:
    status = None if isinstance(statuses, str) else statuses.get(record.address)
    if status is None:
        reason = statuses if isinstance(statuses, str) else NOT_CONFIGURED
        return _peer(record, state=UNKNOWN, uptime_seconds=None, sent=0, accepted=0, last_error=reason)
    return _peer(
        record,
        state=status.state,
        uptime_seconds=status.uptime_seconds,
        sent=status.prefixes_sent,
        accepted=status.prefixes_accepted,
        last_error=status.last_error,
        families=list(status.families),
        graceful_restart=status.graceful_restart,
    )


def _peer(
    record: PeerRecord,
    *,
    state: str,
    uptime_seconds: float | None,
    sent: int,
    accepted: int,
    last_error: str | None,
    families: list[str] | None = None,
    graceful_restart: bool = False,
) -> BgpPeer:
    return BgpPeer(
        address=record.address,
        asn=record.asn,
        description=record.description,
        multihop=record.multihop,
        password_set=record.password is not None,
        state=state,
        uptime_seconds=uptime_seconds,
        prefixes_sent=sent,
        prefixes_accepted=accepted,
        last_error=last_error,
        families=families or [],
        graceful_restart=graceful_restart,
    )
