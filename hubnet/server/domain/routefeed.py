"""The desired-route feed (`GET /v1/routes?since=REV`), pure: whether an answer is the full table or a delta, and
which nodes a delta names.

A delta names the nodes of the route-moving events after `since`; the router agent then replaces what it holds for
each of them with the node's current routes (none for a released or deleted node). When the events after `since`
are not all there any more (or `since` lies in the future: another database), or there are more than `cap` of them
(reading the whole table is then cheaper than replaying), the answer is the full table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The events after which a node's desired routes differ (`services.routes.ROUTE_MOVES`), plus the removal of a
# released record whose subnet was re-issued.
FEED_MOVES = frozenset(
    {"node.registered", "node.address_changed", "node.subnet_added", "node.released", "node.deleted"}
)
MAX_DELTA_EVENTS = 5000


@dataclass(frozen=True)
class FeedPlan:
    full: bool
    nodes: tuple[str, ...] = ()  # a delta's nodes, by name, each once


def needs_full(since: int, revision: int, first_retained: int | None) -> bool:
    """`since` 0, ahead of the log (`revision`), or older than the oldest event kept (None: none is kept)."""
    if since == 0 or since > revision:
        return True
    kept_from = first_retained if first_retained is not None else revision + 1
    return since < kept_from - 1


def plan_feed(
    since: int, revision: int, first_retained: int | None, moved: Sequence[str | None], *, cap: int = MAX_DELTA_EVENTS
) -> FeedPlan:
    """Full or delta. `moved`: the `node` of each route-moving event in (since, revision], oldest first, read with a
    limit of `cap + 1` (more than `cap` of them: full)."""
    if needs_full(since, revision, first_retained) or len(moved) > cap:
        return FeedPlan(full=True)
    return FeedPlan(full=False, nodes=tuple(sorted({name for name in moved if name})))
