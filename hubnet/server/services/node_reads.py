"""Node reads: one record (admin or the node itself) and the paginated list (admin). Read transactions only."""

from __future__ import annotations

import base64

from hubnet.server.domain.errors import InvalidInput
from hubnet.server.domain.validation import check_name
from hubnet.server.services.auth import authorize_node, require_admin
from hubnet.server.services.context import Controller
from hubnet.server.services.ports import UnitOfWork
from hubnet.server.services.views import node_view, node_view_of, route_states
from hubnet.wire import Node


def get(ctl: Controller, *, token: str | None, name: str) -> Node:
    def use_case(uow: UnitOfWork) -> Node:
        node = authorize_node(ctl, uow, token, name)
        return node_view_of(ctl, uow, node, uow.repo.pools())

    return ctl.read(use_case)


def list_nodes(
    ctl: Controller, *, token: str | None, state: str | None, limit: int, cursor: str | None
) -> tuple[list[Node], str | None]:
    """One page ordered by name; the cursor is opaque (the last name, encoded)."""
    after = _decode_cursor(cursor) if cursor else None

    def use_case(uow: UnitOfWork) -> tuple[list[Node], str | None]:
        require_admin(ctl, uow, token, "list nodes")
        rows = uow.repo.list_nodes(state=state, after=after, limit=limit + 1)
        pools = uow.repo.pools()
        states = route_states(ctl, uow, rows[:limit])
        page = [node_view(ctl, row, pools, states.get(row.id)) for row in rows[:limit]]
        more = len(rows) > limit
        return page, (_encode_cursor(page[-1].name) if more and page else None)

    return ctl.read(use_case)


def _encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        name = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        return check_name(name)
    except (ValueError, InvalidInput):
        raise InvalidInput(f"cursor {cursor!r} is not one this server issued", field="cursor") from None
