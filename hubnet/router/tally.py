"""What one reconcile left on the router, as the report's counters say it (pure)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from hubnet.net import Network
from hubnet.server.routing.reconciler import ReconcileResult

ERRORS_SHOWN = 3  # failed routes named in the report's `error` (the count says how many in all)


@dataclass(frozen=True)
class Tally:
    """The report's fields besides `states`: the feed `revision` the table reflects; `complete` when every desired
    route is in place and none failed; `route_count` routes of ours in the table; `missing` desired routes not in
    place; `unexpected` routes of ours left that nobody wants (a failed delete); `foreign` missing routes whose prefix
    a route we do not own holds; `error` why it is not complete (None when it is)."""

    revision: int
    complete: bool
    route_count: int = 0
    missing: int = 0
    unexpected: int = 0
    foreign: int = 0
    error: str | None = None

    def body(self) -> dict[str, object]:
        return {
            "revision": self.revision,
            "complete": self.complete,
            "route_count": self.route_count,
            "missing": self.missing,
            "unexpected": self.unexpected,
            "foreign": self.foreign,
            "error": self.error,
        }


def tally_of(result: ReconcileResult, *, revision: int, desired: int) -> Tally:
    """The tally after a reconcile of `desired` routes (of the table at `revision`). After a run every desired route
    is in place except the failed adds and replaces (a failed replace leaves the old route: counted, but missing),
    and no route of ours is left except the failed deletes."""
    failed = result.failed
    if not failed:
        return Tally(revision, True, route_count=desired)
    adds = sum(1 for r in result.plan.add if r.prefix in failed)
    missing = adds + sum(1 for r in result.plan.replace if r.prefix in failed)
    unexpected = sum(1 for r in result.plan.delete if r.prefix in failed)
    shown = "; ".join(f"{prefix}: {error}" for prefix, error in list(failed.items())[:ERRORS_SHOWN])
    more = f" (and {len(failed) - ERRORS_SHOWN} more)" if len(failed) > ERRORS_SHOWN else ""
    error = f"{len(failed)} route(s) failed: {shown}{more}"
    return Tally(revision, False, desired - adds + unexpected, missing, unexpected, 0, error)


def missing_prefixes(result: ReconcileResult) -> Collection[Network]:
    """The desired prefixes the run could not program (a foreign route holding one is why, often)."""
    failed = result.failed
    return {r.prefix for r in (*result.plan.add, *result.plan.replace) if r.prefix in failed}


def failed_run(previous: Tally | None, revision: int, error: Exception) -> Tally:
    """The tally after a reconcile that could not run at all (the table could not be read): the last counters, not
    complete, the reason."""
    base = previous if previous is not None else Tally(revision, False)
    return replace(base, complete=False, error=f"reconcile failed: {error}")
