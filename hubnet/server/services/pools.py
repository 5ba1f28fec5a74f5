"""Pool use cases: ensure the configured pool, add pools at run time, usage figures, flagged rows, lookup."""

from __future__ import annotations

import logging
from ipaddress import IPv4Network

from hubnet.net import Network, parse_network
from hubnet.server.domain.allocator import PoolSpace
from hubnet.server.domain.errors import HubnetError, InvalidInput, NotFound, PoolInUse, PoolOverlaps
from hubnet.server.domain.validation import check_pool_range, check_pool_underlay, parse_address
from hubnet.server.services.auth import require_admin
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork
from hubnet.server.services.views import node_view, row_flags
from hubnet.wire import Flagged, Node, Pool

log = logging.getLogger("hubnet.server")


def is_low(free: int, total: int, percent: float) -> bool:
    """Exhausted, or free below `percent` of total: the operator should add a pool before registrations fail."""
    return free <= 0 or free * 100 < total * percent


def warning(pool: Pool, percent: float) -> str:
    return f"pool {pool.cidr}: {pool.free} of {pool.total} subnets free (warning below {percent:g}%)"


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


def add_pool(ctl: Controller, *, token: str | None, cidr: str, node_prefix: int) -> Pool:
    """Add a pool at run time. Raises InvalidInput (bad CIDR / prefix) or PoolOverlaps."""
    network = _parse(cidr)
    check_pool_range(network)
    if not network.prefixlen <= node_prefix <= 30:
        raise InvalidInput(f"node_prefix /{node_prefix} must lie in /{network.prefixlen}../30", field="node_prefix")

    def use_case(uow: UnitOfWork) -> Pool:
        require_admin(ctl, uow, token, "add a pool")
        clash = [p.cidr for p in uow.repo.pools(lock=True) if parse_network(p.cidr).overlaps(network)]
        if clash:
            raise PoolOverlaps(f"pool {network} overlaps existing pool(s) {', '.join(clash)}", field="cidr")
        service = ctl.settings.service_cidr
        if service is not None and network.subnet_of(service):
            raise InvalidInput(f"pool {network} lies inside the service CIDR {service}", field="cidr")
        _check_underlay(ctl, uow, network)
        space = _insert(ctl, uow, network, node_prefix)
        low = is_low(space.total, space.total, ctl.settings.pool_warn_free)
        return Pool(str(network), node_prefix, space.total, 0, space.total, low=low)

    return ctl.write(use_case)


def delete_pool(ctl: Controller, *, token: str | None, cidr: str) -> None:
    """Delete a pool that no live node holds a subnet of. Raises NotFound, PoolInUse (live nodes in it, or it is
    the configured HUBNET_CLUSTER_CIDR, which the next start would add again). Released nodes of the pool can no
    longer reclaim their subnet: a returning one is refused (409 subnet-reissued), never silently moved."""
    network = _parse(cidr)

    def use_case(uow: UnitOfWork) -> None:
        require_admin(ctl, uow, token, "delete a pool")
        pool = next((p for p in uow.repo.pools(lock=True) if p.cidr == str(network)), None)
        if pool is None:
            raise NotFound(f"no pool {network}", field="cidr")
        if network == ctl.settings.cluster_cidr:
            raise PoolInUse(
                f"pool {network} is the configured HUBNET_CLUSTER_CIDR (it would come back at the next start); "
                "configure another cluster CIDR first",
                field="cidr",
            )
        # By subnet and by row: a flagged live row (subnet edited by hand) may still point at the pool.
        holders = sum(1 for n in uow.repo.live_nodes() if n.pool_id == pool.id or _holds(n.subnet, network))
        if holders:
            raise PoolInUse(
                f"pool {network} still holds the subnets of {holders} live node(s); delete them first",
                field="cidr",
                extra={"live_nodes": holders},
            )
        detached = uow.repo.delete_pool(pool.id)
        uow.emit("pool.deleted", None, cidr=str(network), released_nodes=detached)

    ctl.write(use_case)


def _parse(cidr: str) -> IPv4Network:
    try:
        return parse_network(cidr)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="cidr") from None


def _holds(subnet: str, network: IPv4Network) -> bool:
    try:
        return IPv4Network(subnet).overlaps(network)
    except ValueError:
        return False


def _check_underlay(ctl: Controller, uow: UnitOfWork, network: Network) -> None:
    addresses = (n.address for n in uow.repo.live_nodes())
    check_pool_underlay(network, router=ctl.settings.router_address, node_addresses=addresses)


def _insert(ctl: Controller, uow: UnitOfWork, cidr: Network, node_prefix: int) -> PoolSpace:
    uow.repo.add_pool(cidr=str(cidr), node_prefix=node_prefix, now=uow.now)
    uow.emit("pool.added", None, cidr=str(cidr), node_prefix=node_prefix)
    exclude = [ctl.settings.service_cidr] if ctl.settings.service_cidr else []
    return PoolSpace.build(cidr, node_prefix, exclude=exclude, router=ctl.settings.router_address)


def usage(ctl: Controller, uow: UnitOfWork) -> list[Pool]:
    """Per pool: allocatable total, live allocations, free (allocated + free = total)."""
    counts = uow.repo.allocated_per_pool()
    cooling = uow.repo.quarantined_per_pool(since=uow.now - ctl.settings.quarantine_seconds)
    result = []
    for pool in uow.repo.pools():
        total = ctl.space(pool).total
        allocated = counts.get(pool.id, 0)
        free = max(total - allocated, 0)
        low = is_low(free, total, ctl.settings.pool_warn_free)
        result.append(Pool(pool.cidr, pool.node_prefix, total, allocated, free, cooling.get(pool.id, 0), low))
    return result


def warnings(ctl: Controller, uow: UnitOfWork) -> list[str]:
    """One line per pool that is low on free subnets (readiness, `hubnet pools`)."""
    return [warning(u, ctl.settings.pool_warn_free) for u in usage(ctl, uow) if u.low]


def flagged(ctl: Controller, uow: UnitOfWork) -> list[Flagged]:
    """Live rows that are not a well-formed subnet of some pool: served as they are, reported here and in logs."""
    pools = uow.repo.pools()
    result = []
    for node in uow.repo.live_nodes():
        _, flags = row_flags(ctl, node, pools)
        if flags:
            result.append(Flagged(node.name, node.subnet, node.address, flags))
    return result


def list_pools(ctl: Controller, *, token: str | None) -> tuple[list[Pool], list[Flagged]]:
    def use_case(uow: UnitOfWork) -> tuple[list[Pool], list[Flagged]]:
        require_admin(ctl, uow, token, "list pools")
        return usage(ctl, uow), flagged(ctl, uow)

    return ctl.read(use_case)


def scan(ctl: Controller) -> list[Flagged]:
    """Start-up check of every stored row: never fatal, every bad row logged (a bad row must not crash-loop us)."""
    filled = ctl.write(lambda uow: uow.repo.backfill_ranges())  # overlap checks need every row's integer range
    if filled:
        log.info("filled in the address range of %d node rows", filled)
    bad = ctl.read(lambda uow: flagged(ctl, uow))
    for row in bad:
        log.warning("node %r has subnet %r address %r flagged %s", row.name, row.subnet, row.address, row.flags)
    return bad


def lookup(ctl: Controller, *, token: str | None, ip: str) -> Node:
    """The live node whose subnet holds `ip`, or NotFound."""
    address = parse_address(ip, field="ip")

    def use_case(uow: UnitOfWork) -> Node:
        require_admin(ctl, uow, token, "look up addresses")
        pools = uow.repo.pools()
        nodes = uow.repo.nodes_containing(str(address), [p.node_prefix for p in pools])
        if not nodes:
            raise NotFound(f"no node's subnet holds {ip}")
        return node_view(ctl, nodes[0], pools)

    return ctl.read(use_case)
