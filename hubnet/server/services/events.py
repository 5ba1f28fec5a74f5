"""The event log as a watch feed: events after a revision, and the current revision."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hubnet.server.services.auth import require_admin
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork


@dataclass(frozen=True)
class EventView:
    revision: int
    created_at: str
    type: str
    node: str | None
    data: dict[str, Any]


def authorize(ctl: Controller, *, token: str | None) -> None:
    ctl.read(lambda uow: require_admin(ctl, uow, token, "read events"))


def since(ctl: Controller, *, revision: int, limit: int) -> tuple[list[EventView], int]:
    """Events with revision > `revision` (oldest first, at most `limit`) and the revision to continue from."""

    def use_case(uow: UnitOfWork) -> tuple[list[EventView], int]:
        # Counter first, then events up to it: under READ COMMITTED (PostgreSQL) each statement sees its own
        # snapshot, so reading the counter last could return a revision whose events the first read missed.
        # Every revision <= the counter read is already committed (bump and insert share one transaction).
        upto = uow.repo.revision()
        rows = uow.repo.events_since(revision, limit, upto=upto)
        items = [
            EventView(
                r.revision,
                datetime.fromtimestamp(r.created_at, UTC).isoformat(),
                r.type,
                r.node,
                json.loads(r.data),
            )
            for r in rows
        ]
        current = items[-1].revision if items else max(revision, upto)
        return items, current

    return ctl.read(use_case)
