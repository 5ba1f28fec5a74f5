"""The controller's domain errors. Each carries a stable problem `slug` and HTTP status; the API maps them once."""

from __future__ import annotations


class HubnetError(Exception):
    """Base of every domain error: `slug` names the problem type, `status` the HTTP status, `field` the input."""

    slug = "error"
    title = "Error"
    status = 400

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}


class InvalidInput(HubnetError):
    slug, title, status = "invalid-input", "Invalid input", 422


class Unauthenticated(HubnetError):
    slug, title, status = "unauthenticated", "Missing or invalid credentials", 401


class Forbidden(HubnetError):
    slug, title, status = "forbidden", "Not allowed for these credentials", 403


class NotFound(HubnetError):
    slug, title, status = "not-found", "Not found", 404


class Conflict(HubnetError):
    slug, title, status = "conflict", "Conflict", 409


class NameTaken(Conflict):
    """Another machine (another secret) holds this name and its record is not released."""

    slug, title = "name-taken", "Node name held by another secret"


class AddressTaken(Conflict):
    slug, title = "address-taken", "Address used by another node"


class SubnetReissued(Conflict):
    """The node's released subnet went to another node; it is never silently handed a different one."""

    slug, title = "subnet-reissued", "Previous subnet was re-issued"


class PoolExhausted(Conflict):
    slug, title = "pool-exhausted", "No free subnet in any pool"


class PoolOverlaps(Conflict):
    slug, title = "pool-overlaps", "Pool overlaps an existing pool"


class UnderlayInPool(Conflict):
    """A pool would hold the address of a registered node."""

    slug, title = "pool-holds-nodes", "Pool holds registered node addresses"


class PoolInUse(Conflict):
    """A pool still holds subnets of live nodes and cannot be deleted."""

    slug, title = "pool-in-use", "Pool holds live nodes' subnets"


class BodyTooLarge(HubnetError):
    slug, title, status = "body-too-large", "Request body too large", 413


class Unavailable(HubnetError):
    slug, title, status = "unavailable", "Service unavailable", 503


class ConcurrentChange(Conflict):
    """A concurrent transaction won a uniqueness race; the use case is retried on fresh data."""

    slug, title = "concurrent-change", "Concurrent change, retry"


class LeaseReleased(Conflict):
    """Heartbeat for a released lease: the node must register again."""

    slug, title = "lease-released", "Lease was released"


class PeerExists(Conflict):
    """A BGP peer with this address is stored already (one session per address: delete it to change it)."""

    slug, title = "peer-exists", "BGP peer exists"


class EmbeddedRouteBackend(Conflict):
    """A router agent tried to join a controller that programs routes itself (HUBNET_ROUTE_BACKEND is not `none`)."""

    slug, title = "embedded-route-backend", "This controller programs routes itself"
