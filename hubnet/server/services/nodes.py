"""Node use cases that write: register / re-join, heartbeat, delete. One transaction each; keyword-only args."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Network
from typing import Any

from hubnet.server import faults
from hubnet.server.domain.allocator import PoolSpace, SubnetView, allocate
from hubnet.server.domain.errors import (
    AddressTaken,
    LeaseReleased,
    NameTaken,
    PoolExhausted,
    SubnetReissued,
)
from hubnet.server.domain.lease import LeaseState, expiry, released_values
from hubnet.server.domain.records import NodeRecord, PoolRecord
from hubnet.server.domain.validation import check_address, check_name, check_secret
from hubnet.server.services import tokens
from hubnet.server.services.auth import authorize_node, require_registrar
from hubnet.server.services.context import Controller, hash_secret, same_hash
from hubnet.server.services.ports import UnitOfWork
from hubnet.server.services.views import node_view
from hubnet.wire import Node

ACTIVE, STALE, RELEASED = LeaseState.ACTIVE.value, LeaseState.STALE.value, LeaseState.RELEASED.value


def register(
    ctl: Controller, *, token: str | None, name: str, address: str, secret: str, machine_id: str | None
) -> tuple[Node, bool]:
    """Register or re-join; idempotent for the same name + secret. Returns the record and whether it is new.

    Raises NameTaken (another secret, record not released), SubnetReissued, AddressTaken, PoolExhausted.
    """
    job = register_job(ctl, token=token, name=name, address=address, secret=secret, machine_id=machine_id)
    return ctl.write(job)


def register_job(
    ctl: Controller, *, token: str | None, name: str, address: str, secret: str, machine_id: str | None
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
        check_address(
            address, pools=ctl.networks(pools), service_cidr=settings.service_cidr, router=settings.router_address
        )
        node = uow.repo.node(name, lock=True)
        if node is not None and node.state != RELEASED:
            return _rejoin(ctl, uow, node, pools, digest=digest, address=address, machine_id=machine_id), False
        _address_free(uow, address, name)
        if stored_token is not None:  # only a registration that takes a subnet costs a use of a stored token
            tokens.consume(uow, stored_token)
        if node is not None:
            return _reclaim(ctl, uow, node, pools, digest=digest, address=address, machine_id=machine_id)
        return _allocate(ctl, uow, pools, name=name, digest=digest, address=address, machine_id=machine_id), True

    return use_case


def _address_free(uow: UnitOfWork, address: str, name: str) -> None:
    holder = uow.repo.address_holder(address)
    if holder is not None and holder != name:
        raise AddressTaken(f"address {address} is already used by another node", field="address")


def _rejoin(
    ctl: Controller,
    uow: UnitOfWork,
    node: NodeRecord,
    pools: list[PoolRecord],
    *,
    digest: str,
    address: str,
    machine_id: str | None,
) -> Node:
    if not same_hash(node.secret_hash, digest):
        raise NameTaken(f"node name {node.name!r} is held by another secret (another machine?)", field="name")
    changes: dict[str, Any] = {"expires_at": expiry(uow.now, ctl.settings.lease_ttl_seconds)}
    if address != node.address:
        _address_free(uow, address, node.name)
        # The route goes via the new address now: not programmed until the reconciler says so.
        changes.update(address=address, route_state="pending", route_error=None)
        uow.emit("node.address_changed", node.name, old=node.address, new=address, subnet=node.subnet)
    if node.state == STALE:
        changes["state"] = ACTIVE
        uow.emit("node.renewed", node.name, subnet=node.subnet)
    if machine_id is not None and machine_id != node.machine_id:
        changes["machine_id"] = machine_id
    uow.repo.update_node(node.id, updated_at=uow.now, **changes)
    return node_view(ctl, replace(node, **changes), pools)


def _reclaim(
    ctl: Controller,
    uow: UnitOfWork,
    node: NodeRecord,
    pools: list[PoolRecord],
    *,
    digest: str,
    address: str,
    machine_id: str | None,
) -> tuple[Node, bool]:
    """A released node comes back: it gets its previous subnet unless someone else holds it now."""
    if node.reissued or uow.repo.subnet_in_use(node.subnet):
        where = "its pool was deleted" if node.pool_id is None else "now belongs to another node"
        raise SubnetReissued(
            f"node {node.name!r} was released and its subnet {node.subnet} {where}; "
            "reset the node's pods and delete the record (admin) to register it afresh",
            field="name",
            extra={"subnet": node.subnet, "state": node.state},
        )
    changes: dict[str, Any] = {
        "state": ACTIVE,
        "address": address,
        "secret_hash": digest,
        "generation": node.generation + 1,
        "expires_at": expiry(uow.now, ctl.settings.lease_ttl_seconds),
        "released_at": None,
        "route_state": "pending",
        "route_error": None,
        "machine_id": machine_id if machine_id is not None else node.machine_id,
    }
    uow.repo.update_node(node.id, updated_at=uow.now, **changes)
    uow.emit("node.registered", node.name, subnet=node.subnet, address=address, generation=node.generation + 1)
    uow.after_commit(ctl.metrics.allocated)
    new_identity = not same_hash(node.secret_hash, digest)
    return node_view(ctl, replace(node, **changes), pools), new_identity


class _FreshOnly:
    """The database as a SubnetView for the first pass: fresh subnets of every pool before any released one."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def in_use(self, subnet: IPv4Network) -> bool:
        return self.uow.repo.subnet_in_use(str(subnet))

    def oldest_released(self) -> IPv4Network | None:
        return None


def _allocate(
    ctl: Controller,
    uow: UnitOfWork,
    pools: list[PoolRecord],
    *,
    name: str,
    digest: str,
    address: str,
    machine_id: str | None,
) -> Node:
    subnet, pool = _pick(ctl, uow, pools)
    faults.hit("register:after-choose")
    now = uow.now
    record = NodeRecord(
        id=0,
        name=name,
        address=address,
        machine_id=machine_id,
        subnet=subnet,
        pool_id=pool.id,
        state=ACTIVE,
        generation=1,
        secret_hash=digest,
        expires_at=expiry(now, ctl.settings.lease_ttl_seconds),
        released_at=None,
        reissued=False,
        route_state="pending",
        route_error=None,
    )
    values = {k: v for k, v in record.__dict__.items() if k != "id"}
    uow.repo.insert_node(created_at=now, updated_at=now, **values)
    faults.hit("register:after-insert")
    uow.emit("node.registered", name, subnet=subnet, address=address, generation=1)
    uow.after_commit(ctl.metrics.allocated)
    return node_view(ctl, record, pools)


def _pick(ctl: Controller, uow: UnitOfWork, pools: list[PoolRecord]) -> tuple[str, PoolRecord]:
    """Never-used subnets of every pool first, then the longest-released subnet of any pool."""
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
    for pool in pools:
        while (old := uow.repo.oldest_released(pool.id)) is not None:
            uow.repo.mark_reissued(old.subnet)
            if _allocatable(ctl.space(pool), old.subnet) and not uow.repo.subnet_in_use(old.subnet):
                return old.subnet, pool
    total = sum(ctl.space(p).total for p in pools)
    raise PoolExhausted(f"every pool is full ({total} subnets allocated); delete a node or add a pool (POST /v1/pools)")


def _allocatable(space: PoolSpace, text: str) -> bool:
    try:
        return space.allocatable(IPv4Network(text))
    except ValueError:
        return False


def heartbeat(ctl: Controller, *, token: str | None, name: str) -> Node:
    """Renew the lease (stale -> active). A released lease answers LeaseReleased: register again."""
    return ctl.write(heartbeat_job(ctl, token=token, name=name))


def heartbeat_job(ctl: Controller, *, token: str | None, name: str) -> Callable[[UnitOfWork], Node]:
    """The heartbeat use case for `ctl.write` / `ctl.write_async`."""

    def use_case(uow: UnitOfWork) -> Node:
        node = authorize_node(ctl, uow, token, name, lock=True)
        if node.state == RELEASED:
            raise LeaseReleased(f"the lease of node {name!r} was released; register again", field="name")
        changes: dict[str, Any] = {"expires_at": expiry(uow.now, ctl.settings.lease_ttl_seconds)}
        if node.state == STALE:
            changes["state"] = ACTIVE
            uow.emit("node.renewed", name, subnet=node.subnet)
        uow.repo.update_node(node.id, updated_at=uow.now, **changes)
        return node_view(ctl, replace(node, **changes), uow.repo.pools())

    return use_case


def delete(ctl: Controller, *, token: str | None, name: str) -> None:
    """Release at once (route withdrawn, subnet quarantined). Idempotent on a released record; a released record
    whose subnet was re-issued is removed, so the name can register afresh."""

    def use_case(uow: UnitOfWork) -> None:
        node = authorize_node(ctl, uow, token, name, lock=True)
        if node.state != RELEASED:
            uow.repo.update_node(node.id, updated_at=uow.now, **released_values(uow.now))
            uow.emit("node.released", name, subnet=node.subnet, reason="deleted")
            uow.after_commit(ctl.metrics.released)
        elif node.reissued:
            uow.repo.delete_node(node.id)
            uow.emit("node.deleted", name, subnet=node.subnet)

    ctl.write(use_case)
