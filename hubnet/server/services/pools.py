"""Pool use cases: ensure the configured pools, add pools at run time, usage figures, flagged rows, lookup.

Pools of both families live side by side (docs/dual-stack.md): the family is the shape of the CIDR, and every rule
(node prefix, service CIDR, underlay, router) applies within the pool's family.
"""

from __future__ import annotations

import logging

from hubnet.net import Network, contains, parse_network
from hubnet.server.domain.allocator import PoolSpace
from hubnet.server.domain.errors import HubnetError, InvalidInput, NotFound, PoolInUse, PoolOverlaps
from hubnet.server.domain.records import NodeRecord, PoolRecord
from hubnet.server.domain.validation import check_node_prefix, check_pool_range, check_pool_underlay, parse_address
from hubnet.server.services.auth import require_admin
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork
from hubnet.server.services.views import node_view_of, row_facts
from hubnet.wire import Flagged, Node, Pool

log = logging.getLogger("hubnet.server")
VET_PAGE = 4096  # rows per page of the start-up check


def is_low(free: int, total: int, percent: float) -> bool:
    """Exhausted, or free below `percent` of total: the operator should add a pool before registrations fail."""
    return free <= 0 or free * 100 < total * percent


def warning(pool: Pool, percent: float) -> str:
    return f"pool {pool.cidr}: {pool.free} of {pool.total} subnets free (warning below {percent:g}%)"


def ensure_pools(ctl: Controller) -> None:
    """Create every configured pool (HUBNET_CLUSTER_CIDR, one per family) with its family's node prefix."""
    for cidr in ctl.settings.cluster_cidrs:
        ensure_pool(ctl, cidr=cidr, node_prefix=ctl.settings.prefix_for(cidr.version))


def ensure_pool(ctl: Controller, *, cidr: Network, node_prefix: int) -> None:
    """Create the configured pool on first start (idempotent; a differing existing pool is kept and logged)."""

    def use_case(uow: UnitOfWork) -> None:
        pools = uow.repo.pools(lock=True)
        if any(p.cidr == str(cidr) for p in pools):
            return
        clash = [p.cidr for p in pools if parse_network(p.cidr).overlaps(cidr)]
        if clash:
            log.warning("configured cluster CIDR %s overlaps existing pool(s) %s; not added", cidr, clash)
            return
        try:
            _check_underlay(ctl, uow, cidr)
        except HubnetError as exc:
            log.warning("configured cluster CIDR not added: %s", exc.detail)
            return
        _insert(ctl, uow, cidr, node_prefix)

    ctl.write(use_case)


def add_pool(ctl: Controller, *, token: str | None, cidr: str, node_prefix: int | None = None) -> Pool:
    """Add a pool of either family at run time; `node_prefix` defaults to the family's (HUBNET_NODE_PREFIX or
    HUBNET_NODE_PREFIX_V6). Raises InvalidInput (bad CIDR / prefix, inside the service CIDR, holding the router),
    UnderlayInPool, PoolOverlaps."""
    network = _parse(cidr)
    check_pool_range(network)
    prefix = check_node_prefix(
        network, ctl.settings.prefix_for(network.version) if node_prefix is None else node_prefix
    )

    def use_case(uow: UnitOfWork) -> Pool:
        require_admin(ctl, uow, token, "add a pool")
        clash = [p.cidr for p in uow.repo.pools(lock=True) if parse_network(p.cidr).overlaps(network)]
        if clash:
            raise PoolOverlaps(f"pool {network} overlaps existing pool(s) {', '.join(clash)}", field="cidr")
        for service in ctl.settings.service_cidrs:
            if contains(service, network):
                raise InvalidInput(f"pool {network} lies inside the service CIDR {service}", field="cidr")
        _check_underlay(ctl, uow, network)
        pool_id = _insert(ctl, uow, network, prefix)
        space = ctl.space(PoolRecord(pool_id, str(network), prefix, 0))
        total = space.total
        low = is_low(total, total, ctl.settings.pool_warn_free)
        return Pool(str(network), prefix, total, 0, total, low=low, family=network.version, excluded=_excluded(space))

    return ctl.write(use_case)


def delete_pool(ctl: Controller, *, token: str | None, cidr: str) -> None:
    """Delete a pool that no live node holds a subnet of. Raises NotFound, PoolInUse (live nodes in it, or it is
    a configured HUBNET_CLUSTER_CIDR, which the next start would add again). Released nodes of the pool can no
    longer reclaim their subnet: a returning one is refused (409 subnet-reissued), never silently moved."""
    network = _parse(cidr)

    def use_case(uow: UnitOfWork) -> None:
        require_admin(ctl, uow, token, "delete a pool")
        pool = next((p for p in uow.repo.pools(lock=True) if p.cidr == str(network)), None)
        if pool is None:
            raise NotFound(f"no pool {network}", field="cidr")
        if network in ctl.settings.cluster_cidrs:
            raise PoolInUse(
                f"pool {network} is a configured HUBNET_CLUSTER_CIDR (it would come back at the next start); "
                "configure another cluster CIDR first",
                field="cidr",
            )
        # By subnet and by row: a flagged live row (subnet edited by hand) may still point at the pool.
        holders = sum(1 for n in uow.repo.live_nodes() if _holds(n, pool, network))
        if holders:
            raise PoolInUse(
                f"pool {network} still holds the subnets of {holders} live node(s); delete them first",
                field="cidr",
                extra={"live_nodes": holders},
            )
        detached = uow.repo.delete_pool(pool.id)
        uow.emit("pool.deleted", None, cidr=str(network), released_nodes=detached)

    ctl.write(use_case)


def _parse(cidr: str) -> Network:
    try:
        return parse_network(cidr)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="cidr") from None


def _holds(node: NodeRecord, pool: PoolRecord, network: Network) -> bool:
    """The live row references the pool, or holds a subnet overlapping it (of the pool's family)."""
    if pool.id in (node.pool_id, node.pool6_id):
        return True
    subnet = node.subnet6 if network.version == 6 else node.subnet
    try:
        return subnet is not None and parse_network(subnet, family=network.version).overlaps(network)
    except ValueError:
        return False


def _check_underlay(ctl: Controller, uow: UnitOfWork, network: Network) -> None:
    addresses = (a for n in uow.repo.live_nodes() for a in n.addresses)
    check_pool_underlay(network, router=ctl.settings.router_addresses, node_addresses=addresses)


def _insert(ctl: Controller, uow: UnitOfWork, cidr: Network, node_prefix: int) -> int:
    """Store the pool and announce it; returns its id."""
    pool_id = uow.repo.add_pool(cidr=str(cidr), node_prefix=node_prefix, now=uow.now)
    uow.emit("pool.added", None, cidr=str(cidr), node_prefix=node_prefix)
    return pool_id


def _excluded(space: PoolSpace) -> list[str]:
    return [str(n) for n in space.excluded_networks()]


def usage(ctl: Controller, uow: UnitOfWork) -> list[Pool]:
    """Per pool, IPv4 pools first: allocatable total, live allocations, free (allocated + free = total)."""
    counts = uow.repo.allocated_per_pool()
    cooling = uow.repo.quarantined_per_pool(since=uow.now - ctl.settings.quarantine_seconds)
    result = []
    for pool in sorted(uow.repo.pools(), key=lambda p: p.family):
        space = ctl.space(pool)
        total = space.total
        allocated = counts.get(pool.id, 0)
        free = max(total - allocated, 0)
        low = is_low(free, total, ctl.settings.pool_warn_free)
        cooled = cooling.get(pool.id, 0)
        excluded = _excluded(space)
        result.append(Pool(pool.cidr, pool.node_prefix, total, allocated, free, cooled, low, pool.family, excluded))
    return result


def warnings(ctl: Controller, uow: UnitOfWork, pools: list[Pool] | None = None) -> list[str]:
    """One line per pool that is low on free subnets, and per configured cluster CIDR that is not a pool (it
    overlapped a pool or held the underlay at start-up, so no node gets a subnet of its family from it): readiness,
    `GET /v1/pools`, `hubnet pools`."""
    pools = usage(ctl, uow) if pools is None else pools
    stored = {p.cidr for p in pools}
    missing = [
        f"HUBNET_CLUSTER_CIDR {cidr} is not a pool (see the start-up log): no IPv{cidr.version} subnets from it"
        for cidr in ctl.settings.cluster_cidrs
        if str(cidr) not in stored
    ]
    return missing + [warning(u, ctl.settings.pool_warn_free) for u in pools if u.low]


def flagged(ctl: Controller, uow: UnitOfWork) -> list[Flagged]:
    """Live rows that are not a well-formed subnet of some pool (either family): served as they are, reported here
    and in logs. Only rows that changed behind the controller's back since it last checked them can be flagged
    (hubnet.server.db.counts keeps `vetted`): those are checked on every call, so a hand edit shows at once."""
    return _flags(ctl, uow.repo.unvetted_nodes(), uow.repo.pools())


def _flags(ctl: Controller, rows: list[NodeRecord], pools: list[PoolRecord]) -> list[Flagged]:
    result = []
    for node in rows:
        flags = row_facts(ctl, node, pools).flags
        if flags:
            subnet, address = node.primary_subnet, node.primary_address
            result.append(Flagged(node.name, subnet, address, flags, subnets=node.subnets, addresses=node.addresses))
    return result


def vet(ctl: Controller, uow: UnitOfWork) -> list[Flagged]:
    """Check the unvetted live rows, mark the well-formed ones vetted; returns the flagged. A write use case (the
    reaper's pass): the rows are locked (PostgreSQL) or the writer is alone (SQLite), so a hand edit cannot slip
    between the check and the mark."""
    return _vet(ctl, uow, uow.repo.unvetted_nodes(lock=True), uow.repo.pools(), mark_bad=False)


def vet_all(ctl: Controller) -> list[Flagged]:
    """Check every live row (at start-up: the settings a row is checked against may have changed), a page per
    write transaction, so neither memory nor the other replicas' writes wait on all of them at once; marks each
    row vetted or not. Returns the flagged."""
    bad: list[Flagged] = []
    after = 0
    while True:

        def page(uow: UnitOfWork, after: int = after) -> tuple[list[Flagged], int | None]:
            rows = uow.repo.live_page(after=after, limit=VET_PAGE, lock=True)
            found = _vet(ctl, uow, rows, uow.repo.pools(), mark_bad=True)
            return found, rows[-1].id if rows else None

        found, last = ctl.write(page)
        bad += found
        if last is None:
            return bad
        after = last


def _vet(
    ctl: Controller, uow: UnitOfWork, rows: list[NodeRecord], pools: list[PoolRecord], *, mark_bad: bool
) -> list[Flagged]:
    bad = _flags(ctl, rows, pools)
    names = {f.name for f in bad}
    good = [n.id for n in rows if n.name not in names]
    if good:
        uow.repo.set_vetted(good, vetted=True)
    if mark_bad and bad:
        uow.repo.set_vetted([n.id for n in rows if n.name in names], vetted=False)
    return bad


def list_pools(ctl: Controller, *, token: str | None) -> tuple[list[Pool], list[Flagged], list[str]]:
    """Usage per pool, flagged rows and warnings, from one read."""

    def use_case(uow: UnitOfWork) -> tuple[list[Pool], list[Flagged], list[str]]:
        require_admin(ctl, uow, token, "list pools")
        pools = usage(ctl, uow)
        return pools, flagged(ctl, uow), warnings(ctl, uow, pools)

    return ctl.read(use_case)


def scan(ctl: Controller) -> list[Flagged]:
    """Start-up check of every stored row: never fatal, every bad row logged (a bad row must not crash-loop us).
    Also compares the kept usage counts with a real count, and repairs (and logs) any drift."""
    filled = ctl.write(lambda uow: uow.repo.backfill_ranges())  # overlap checks need every row's integer range
    if filled:
        log.info("filled in the address range of %d node rows", filled)
    drift = ctl.write(_repair_drift)
    for _, detail in drift:
        log.warning("usage counter drift, repaired from a count: %s", detail)
    bad = vet_all(ctl)
    for row in bad:
        log.warning("node %r has subnets %r addresses %r flagged %s", row.name, row.subnets, row.addresses, row.flags)
    return bad


def _repair_drift(uow: UnitOfWork) -> list[tuple[str, str]]:
    drift = uow.repo.count_drift()
    if drift:
        uow.repo.repair_counts()
    return drift


def lookup(ctl: Controller, *, token: str | None, ip: str) -> Node:
    """The live node whose subnet of the address's family holds `ip` (IPv4 or IPv6), or NotFound."""
    address = parse_address(ip, field="ip")

    def use_case(uow: UnitOfWork) -> Node:
        require_admin(ctl, uow, token, "look up addresses")
        pools = uow.repo.pools()
        prefixes = sorted({p.node_prefix for p in pools if p.family == address.version})
        nodes = uow.repo.nodes_containing(str(address), prefixes) if prefixes else []
        if not nodes:
            raise NotFound(f"no node's subnet holds {ip}")
        return node_view_of(ctl, uow, nodes[0], pools)

    return ctl.read(use_case)
