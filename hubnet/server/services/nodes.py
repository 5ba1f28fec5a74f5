"""Node use cases that write: register / re-join, heartbeat, delete. One transaction each; keyword-only args."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from ipaddress import ip_address, ip_network
from typing import Any

from hubnet.net import Network, family_of
from hubnet.server import faults
from hubnet.server.domain.allocator import PoolSpace, SubnetView, allocate
from hubnet.server.domain.errors import (
    AddressTaken,
    InvalidInput,
    LeaseReleased,
    NameTaken,
    PoolExhausted,
    SubnetReissued,
)
from hubnet.server.domain.lease import LeaseState, expiry, released_values, withdrawal
from hubnet.server.domain.records import NodeRecord, PoolRecord
from hubnet.server.domain.validation import check_addresses, check_name, check_secret
from hubnet.server.services import tokens
from hubnet.server.services.auth import authorize_node, require_registrar
from hubnet.server.services.context import Controller, hash_secret, same_hash
from hubnet.server.services.ports import Hints, UnitOfWork
from hubnet.server.services.views import node_view_of
from hubnet.wire import Node

ACTIVE, STALE, RELEASED = LeaseState.ACTIVE.value, LeaseState.STALE.value, LeaseState.RELEASED.value
FAMILIES = (4, 6)
# A row's columns per family (docs/dual-stack.md): address, subnet, pool id, re-issued flag.
COLUMNS = {4: ("address", "subnet", "pool_id", "reissued"), 6: ("address6", "subnet6", "pool6_id", "reissued6")}


def _address_of(node: NodeRecord, family: int) -> str | None:
    return node.address6 if family == 6 else node.address


def _subnet_of(node: NodeRecord, family: int) -> str | None:
    return node.subnet6 if family == 6 else node.subnet


def _reissued(node: NodeRecord, family: int) -> bool:
    return node.reissued6 if family == 6 else node.reissued


def register(
    ctl: Controller,
    *,
    token: str | None,
    name: str,
    address: str,
    secret: str,
    machine_id: str | None,
    addresses: list[str] | None = None,
) -> tuple[Node, bool]:
    """Register or re-join; idempotent for the same name + secret. Returns the record and whether it is new.

    Raises NameTaken (another secret, record not released), SubnetReissued, AddressTaken, PoolExhausted,
    InvalidInput (`addresses`: a re-join dropping a family the node holds a subnet of).
    """
    job = register_job(
        ctl, token=token, name=name, address=address, secret=secret, machine_id=machine_id, addresses=addresses
    )
    return ctl.write(job)


def register_job(
    ctl: Controller,
    *,
    token: str | None,
    name: str,
    address: str,
    secret: str,
    machine_id: str | None,
    addresses: list[str] | None = None,
) -> Callable[[UnitOfWork], tuple[Node, bool]]:
    """The registration use case, input already checked, ready for `ctl.write` or `ctl.write_async`."""
    check_name(name)
    check_secret(secret)
    digest = hash_secret(secret)

    def use_case(uow: UnitOfWork) -> tuple[Node, bool]:
        stored_token = require_registrar(ctl, uow, token)
        # Lock first (PostgreSQL: the pool rows; SQLite: BEGIN IMMEDIATE already serialized us): allocations are
        # serialized per pool across controller processes, and under READ COMMITTED every later statement sees
        # what the previous lock holder committed, so the name lookup below cannot miss a concurrent twin.
        pools = uow.repo.pools(lock=True)
        settings = ctl.settings
        found = check_addresses(
            address,
            addresses,
            pools=ctl.networks(pools),
            service_cidrs=settings.service_cidrs,
            routers=settings.router_addresses,
        )
        for found_address in found.values():
            if not settings.on_underlay(found_address):
                raise InvalidInput(
                    f"address {found_address} is outside HUBNET_DIRECT_UNDERLAY "
                    f"({', '.join(map(str, settings.direct_underlay))}): in direct mode every node must be on-link "
                    "with the others",
                    field="address" if str(found_address) == str(found[family_of(address)]) else "addresses",
                )
        wanted = {family: str(a) for family, a in found.items()}
        join = _Join(ctl, uow, pools, wanted, str(found[family_of(address)]), digest, machine_id)
        node = uow.repo.node(name, lock=True)
        if node is not None and node.state != RELEASED:
            return join.rejoin(node), False
        join.addresses_free(name)
        if stored_token is not None:  # only a registration that takes a subnet costs a use of a stored token
            tokens.consume(uow, stored_token)
        if node is not None:
            return join.reclaim(node)
        return join.allocate(name), True

    use_case.hints = Hints(names=(name,), addresses=_canonical([address, *(addresses or ())]))  # type: ignore[attr-defined]
    return use_case


def _canonical(texts: list[str]) -> tuple[str, ...]:
    """Addresses as the use case will look them up (`str(ip_address(...))`); text that does not parse is left out
    (the use case refuses it before any lookup)."""
    found: list[str] = []
    for text in texts:
        try:
            found.append(str(ip_address(text)))
        except ValueError:
            continue
    return tuple(found)


def _address_free(uow: UnitOfWork, address: str, name: str, *, field: str = "address") -> None:
    holder = uow.repo.address_holder(address)
    if holder is not None and holder != name:
        raise AddressTaken(f"address {address} is already used by another node", field=field)


class _Join:
    """One registration's input (underlay address per family, already checked) and its three outcomes."""

    def __init__(
        self,
        ctl: Controller,
        uow: UnitOfWork,
        pools: list[PoolRecord],
        wanted: dict[int, str],
        primary: str,
        digest: str,
        machine_id: str | None,
    ) -> None:
        self.ctl, self.uow, self.pools, self.wanted, self.primary = ctl, uow, pools, wanted, primary
        self.digest, self.machine_id = digest, machine_id
        # A subnet of a family needs a pool of it and a next hop (the node's address) of it.
        self.families = [f for f in FAMILIES if f in wanted and any(p.family == f for p in pools)]

    def addresses_free(self, name: str) -> None:
        for family in FAMILIES:
            if (text := self.wanted.get(family)) is not None:
                self._address_free(text, name)

    def _address_free(self, address: str, name: str) -> None:
        _address_free(self.uow, address, name, field="address" if address == self.primary else "addresses")

    def _keeps_families(self, node: NodeRecord) -> None:
        """Refuse dropping the address of a family the node holds a subnet of: its pods could not be reached."""
        for family in FAMILIES:
            subnet = _subnet_of(node, family)
            if subnet is not None and family not in self.wanted:
                raise InvalidInput(
                    f"node {node.name!r} holds the IPv{family} subnet {subnet} but registered no IPv{family} "
                    "address: that subnet's pods could no longer be reached (delete the node to drop the family)",
                    field="addresses",
                )

    def _new_subnets(self, node: NodeRecord | None, *, partial: bool = False) -> dict[str, Any]:
        """A subnet of every family the node should have and has not (all of them for a new node). `partial`: a
        family whose pools are full is left out (and reported) instead of failing the whole registration — for a
        running node that re-joins, which must keep working with the families it has."""
        changes: dict[str, Any] = {}
        for family in self.families:
            if node is None or _subnet_of(node, family) is None:
                try:
                    subnet, pool = _pick(self.ctl, self.uow, [p for p in self.pools if p.family == family])
                except PoolExhausted as exc:
                    if not partial or node is None:
                        raise
                    self.uow.emit("node.subnet_unavailable", node.name, family=family, reason=str(exc))
                    continue
                _, subnet_col, pool_col, reissued_col = COLUMNS[family]
                changes.update({subnet_col: subnet, pool_col: pool.id, reissued_col: False})
        return changes

    def _address_columns(self) -> dict[str, Any]:
        return {COLUMNS[f][0]: self.wanted.get(f) for f in FAMILIES}

    def rejoin(self, node: NodeRecord) -> Node:
        ctl, uow = self.ctl, self.uow
        if not same_hash(node.secret_hash, self.digest):
            raise NameTaken(f"node name {node.name!r} is held by another secret (another machine?)", field="name")
        self._keeps_families(node)
        changes: dict[str, Any] = {"expires_at": expiry(uow.now, ctl.settings.lease_ttl_seconds)}
        for family in FAMILIES:
            old, new = _address_of(node, family), self.wanted.get(family)
            if new == old:
                continue
            if new is not None:
                self._address_free(new, node.name)
            changes[COLUMNS[family][0]] = new
            subnet = _subnet_of(node, family)
            if subnet is None:  # no route of that family goes via this address (yet: see the new subnets below)
                continue
            # The route goes via the new address now: not programmed until the reconciler says so.
            changes.update(route_state="pending", route_error=None)
            uow.emit("node.address_changed", node.name, old=old, new=new, subnet=subnet)
        added = self._new_subnets(node, partial=True)
        if added:
            changes.update(added, route_state="pending", route_error=None)
        if "route_state" in changes:  # its routes moved, same generation: what router agents said is about the old
            uow.repo.routers.forget_node(node.id)
        if node.state == STALE:
            changes["state"] = ACTIVE
            uow.emit("node.renewed", node.name, subnet=node.primary_subnet, subnets=node.subnets)
        if self.machine_id is not None and self.machine_id != node.machine_id:
            changes["machine_id"] = self.machine_id
        uow.repo.update_node(node.id, updated_at=uow.now, **changes)
        record = replace(node, **changes)
        for family in FAMILIES:
            if COLUMNS[family][1] in added:
                uow.emit("node.subnet_added", node.name, subnet=_subnet_of(record, family), subnets=record.subnets)
        uow.moved(record)
        return node_view_of(ctl, uow, record, self.pools)

    def reclaim(self, node: NodeRecord) -> tuple[Node, bool]:
        """A released node comes back: it gets its previous subnets (all of them) unless one was re-issued or is
        held by someone else now; a family it had no subnet of gets a fresh one."""
        ctl, uow = self.ctl, self.uow
        for family in FAMILIES:
            subnet = _subnet_of(node, family)
            if subnet is not None and (_reissued(node, family) or uow.repo.subnet_in_use(subnet)):
                pool_id = node.pool6_id if family == 6 else node.pool_id
                where = "its pool was deleted" if pool_id is None else "now belongs to another node"
                raise SubnetReissued(
                    f"node {node.name!r} was released and its subnet {subnet} {where}: its pods' addresses are "
                    f"no longer its own. Drain the node (remove its pods), then delete its record (admin: "
                    f"`hubnet nodes delete {node.name}`); its agent then registers afresh and gets a new subnet",
                    field="name",
                    extra={"subnet": subnet, "state": node.state},
                )
        self._keeps_families(node)
        changes: dict[str, Any] = {
            **self._address_columns(),
            **self._new_subnets(node, partial=True),
            "state": ACTIVE,
            "secret_hash": self.digest,
            "generation": node.generation + 1,
            "expires_at": expiry(uow.now, ctl.settings.lease_ttl_seconds),
            "released_at": None,
            "route_state": "pending",
            "route_error": None,
            "machine_id": self.machine_id if self.machine_id is not None else node.machine_id,
        }
        uow.repo.update_node(node.id, updated_at=uow.now, **changes)
        record = replace(node, **changes)
        _registered(uow, record)
        uow.after_commit(ctl.metrics.allocated)
        new_identity = not same_hash(node.secret_hash, self.digest)
        return node_view_of(ctl, uow, record, self.pools), new_identity

    def allocate(self, name: str) -> Node:
        ctl, uow = self.ctl, self.uow
        if not self.families:
            raise PoolExhausted("there is no pool to allocate from; add a pool (POST /v1/pools)")
        subnets = self._new_subnets(None)  # every family or PoolExhausted: never a row with only some of them
        faults.hit("register:after-choose")
        now = uow.now
        record = NodeRecord(
            id=0,
            name=name,
            address=None,
            machine_id=self.machine_id,
            subnet=None,
            pool_id=None,
            state=ACTIVE,
            generation=1,
            secret_hash=self.digest,
            expires_at=expiry(now, ctl.settings.lease_ttl_seconds),
            released_at=None,
            reissued=False,
            route_state="pending",
            route_error=None,
        )
        record = replace(record, **self._address_columns(), **subnets)
        values = {k: v for k, v in record.__dict__.items() if k != "id"}
        uow.repo.insert_node(created_at=now, updated_at=now, **values)
        faults.hit("register:after-insert")
        _registered(uow, record)
        uow.after_commit(ctl.metrics.allocated)
        return node_view_of(ctl, uow, record, self.pools)


def _registered(uow: UnitOfWork, record: NodeRecord) -> None:
    """The event of a registration that took subnets, and the row as written (the reconciler need not read it)."""
    uow.emit(
        "node.registered",
        record.name,
        subnet=record.primary_subnet,
        subnets=record.subnets,
        address=record.primary_address,
        addresses=record.addresses,
        generation=record.generation,
    )
    uow.moved(record)


class _FreshOnly:
    """The database as a SubnetView for the first pass: fresh subnets of every pool before any released one."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def in_use(self, subnet: Network) -> bool:
        return self.uow.repo.subnet_in_use(str(subnet), scan=True)

    def oldest_released(self) -> Network | None:
        return None


def _pick(ctl: Controller, uow: UnitOfWork, pools: list[PoolRecord]) -> tuple[str, PoolRecord]:
    """For the pools of one family: never-used subnets of every pool first, then the longest-released subnet of
    any pool."""
    view: SubnetView = _FreshOnly(uow)
    for pool in pools:
        space = ctl.space(pool)
        try:
            subnet, high_water = allocate(space, pool.high_water, view)
        except PoolExhausted:
            if pool.high_water != space.size:
                uow.repo.set_high_water(pool.id, space.size)
            continue
        uow.repo.set_high_water(pool.id, high_water)
        return str(subnet), pool
    hold = _reuse_hold(ctl)
    for pool in pools:
        while (old := uow.repo.oldest_released(pool)) is not None:
            if hold and old.released_at is not None and uow.now - old.released_at < hold:
                break  # the longest-released one is too recent: so is every other of this pool
            text = _subnet_of(old, pool.family)
            assert text is not None  # the query only finds rows holding a subnet of the pool's family
            uow.repo.mark_reissued(text)
            if _allocatable(ctl.space(pool), text) and not uow.repo.subnet_in_use(text):
                return text, pool
    total = sum(ctl.space(p).total for p in pools)
    kind = f" IPv{pools[0].family}" if pools else ""
    raise PoolExhausted(
        f"every pool is full ({total}{kind} subnets allocated); delete a node or add a pool (POST /v1/pools)"
    )


def _reuse_hold(ctl: Controller) -> float:
    """Seconds a released subnet is never handed out again, however full the pool (0: only the quarantine's
    preference applies). With the bgp backend it is the graceful-restart time: a router may keep a route of ours
    that long after the controller stopped announcing it (docs/bgp.md)."""
    settings = ctl.settings
    return float(settings.bgp_gr_restart_seconds) if settings.route_backend == "bgp" else 0.0


def _allocatable(space: PoolSpace, text: str) -> bool:
    try:
        return space.allocatable(ip_network(text))
    except ValueError:
        return False


def heartbeat(ctl: Controller, *, token: str | None, name: str) -> Node:
    """Renew the lease (stale -> active). A released lease answers LeaseReleased: register again."""
    return ctl.write(heartbeat_job(ctl, token=token, name=name))


def heartbeat_job(
    ctl: Controller, *, token: str | None, name: str, before_write: Callable[[], object] | None = None
) -> Callable[[UnitOfWork], Node]:
    """The heartbeat use case for `ctl.write` / `ctl.write_async`. `before_write` runs once the caller is
    authorized and before anything is written (the API validates the body there: 401/403 come before 422, and a
    refused body renews nothing); whatever it raises rolls the transaction back."""

    def use_case(uow: UnitOfWork) -> Node:
        node = authorize_node(ctl, uow, token, name, lock=True)
        if before_write is not None:
            before_write()
        if node.state == RELEASED:
            raise LeaseReleased(f"the lease of node {name!r} was released; register again", field="name")
        changes: dict[str, Any] = {"expires_at": expiry(uow.now, ctl.settings.lease_ttl_seconds)}
        if node.state == STALE:
            changes["state"] = ACTIVE
            uow.emit("node.renewed", name, subnet=node.primary_subnet, subnets=node.subnets)
        uow.repo.update_node(node.id, updated_at=uow.now, **changes)
        record = replace(node, **changes)
        uow.moved(record)  # no route moves, but a row said earlier in the batch stays said
        return node_view_of(ctl, uow, record, uow.repo.pools())

    use_case.touches = (name,)  # type: ignore[attr-defined]  # its own row only (ports.touched)
    return use_case


def delete(ctl: Controller, *, token: str | None, name: str) -> None:
    """Release at once (route withdrawn, subnet quarantined). Idempotent on a released record; a released record
    whose subnet was re-issued is removed, so the name can register afresh."""
    ctl.write(delete_job(ctl, token=token, name=name))


def delete_job(ctl: Controller, *, token: str | None, name: str) -> Callable[[UnitOfWork], None]:
    """The delete use case for `ctl.write`."""

    def use_case(uow: UnitOfWork) -> None:
        node = authorize_node(ctl, uow, token, name, lock=True)
        if node.state != RELEASED:
            route = withdrawal(node.route_state, node.route_error)
            released = released_values(uow.now, route=route)
            uow.repo.update_node(node.id, updated_at=uow.now, **released)
            uow.emit("node.released", name, subnet=node.primary_subnet, subnets=node.subnets, reason="deleted")
            uow.moved(replace(node, **released))  # type: ignore[arg-type]
            uow.after_commit(ctl.metrics.released)
        else:
            if node.reissued or node.reissued6:
                uow.repo.delete_node(node.id)
                uow.emit("node.deleted", name, subnet=node.primary_subnet, subnets=node.subnets)
            uow.moved(node)  # released, as it was (or gone): no routes either way

    use_case.touches = (name,)  # type: ignore[attr-defined]  # its own row only (ports.touched)
    return use_case
