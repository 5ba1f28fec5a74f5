"""Per-pool and per-state node counts kept by the database itself (migration 0012), so `GET /v1/pools`, `/metrics`
and `/readyz` read a few rows instead of counting every node.

Triggers on `nodes`, on SQLite and PostgreSQL alike, whoever writes (the controller, another replica, a hand edit):

- `pools.allocated`: the live rows (state <> 'released') holding a subnet of the pool, both families (a row counts
  once for `pool_id` when `subnet` is set, once for `pool6_id` when `subnet6` is set). An update touches the counter
  only when the row's contribution moves (a heartbeat, stale -> active, touches nothing).
- `node_state_counts`: rows per `state`.
- `nodes.vetted`: false once a row's subnets, addresses or pools change, or it comes back from `released`. The
  controller inserts its rows vetted (the allocator's own output); anything else is
  re-checked (`hubnet.server.services.pools.flagged`) until a pass finds it well formed. A hand edit therefore shows
  up in `GET /v1/pools` at once, and the flagged rows are found among the few unvetted ones, not among all.

A counter changes in the writing transaction: a rolled-back write leaves it as it was. On PostgreSQL every write
batch locks the pool rows first (hubnet.server.db.uow), so the counter rows add no new lock order. The start-up scan
compares the counters with a real COUNT and repairs drift (`Repository.count_drift`). A table rebuild of `nodes`
(a future migration) must create the triggers again (`create_statements`).
"""

from __future__ import annotations

FUNCTIONS = ("hubnet_nodes_counts", "hubnet_nodes_unvet")
TRIGGERS = ("tr_nodes_counts_insert", "tr_nodes_counts_delete", "tr_nodes_counts_update", "tr_nodes_unvet")
FAMILIES = (("subnet", "pool_id"), ("subnet6", "pool6_id"))
WATCHED = ("subnet", "subnet6", "pool_id", "pool6_id", "address", "address6")


def _key(row: str, subnet: str, pool: str) -> str:
    """The pool a row counts in for one family, NULL when it counts in none."""
    return f"(CASE WHEN {row}.state <> 'released' AND {row}.{subnet} IS NOT NULL THEN {row}.{pool} END)"


def _differs(a: str, b: str, *, pg: bool) -> str:
    return f"{a} IS DISTINCT FROM {b}" if pg else f"{a} IS NOT {b}"


def _count_change(pg: bool) -> str:
    """WHEN an update may move a count: the state, a subnet or a pool column changed."""
    columns = ("state", "subnet", "subnet6", "pool_id", "pool6_id")
    return " OR ".join(_differs(f"OLD.{c}", f"NEW.{c}", pg=pg) for c in columns)


def _unvet_when(pg: bool) -> str:
    changed = " OR ".join(_differs(f"OLD.{c}", f"NEW.{c}", pg=pg) for c in WATCHED)
    back = "(OLD.state = 'released' AND NEW.state <> 'released')"
    return f"NEW.vetted AND ({changed} OR {back})"


def _sqlite_statements() -> list[str]:
    def dec(row: str, moved: str) -> list[str]:
        return [
            f"UPDATE pools SET allocated = allocated - 1 WHERE id = {_key(row, s, p)}{moved.format(s=s, p=p)};"
            for s, p in FAMILIES
        ]

    def inc(row: str, moved: str) -> list[str]:
        return [
            f"UPDATE pools SET allocated = allocated + 1 WHERE id = {_key(row, s, p)}{moved.format(s=s, p=p)};"
            for s, p in FAMILIES
        ]

    moved = " AND " + _key("OLD", "{s}", "{p}") + " IS NOT " + _key("NEW", "{s}", "{p}")
    up = "INSERT INTO node_state_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;"
    down = "UPDATE node_state_counts SET n = n - 1 WHERE state = OLD.state;"
    state_moved = "OLD.state IS NOT NEW.state"
    update_body = [
        *dec("OLD", moved),
        *inc("NEW", moved),
        f"UPDATE node_state_counts SET n = n - 1 WHERE state = OLD.state AND {state_moved};",
        f"INSERT INTO node_state_counts (state, n) SELECT NEW.state, 1 WHERE {state_moved} "
        "ON CONFLICT (state) DO UPDATE SET n = n + 1;",
    ]
    watched = ", ".join((*WATCHED, "state"))
    return [
        f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON nodes BEGIN\n" + "\n".join([*inc("NEW", ""), up]) + "\nEND",
        f"CREATE TRIGGER {TRIGGERS[1]} AFTER DELETE ON nodes BEGIN\n" + "\n".join([*dec("OLD", ""), down]) + "\nEND",
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER UPDATE OF state, subnet, subnet6, pool_id, pool6_id ON nodes "
        f"WHEN {_count_change(pg=False)} BEGIN\n" + "\n".join(update_body) + "\nEND",
        f"CREATE TRIGGER {TRIGGERS[3]} AFTER UPDATE OF {watched} ON nodes WHEN {_unvet_when(pg=False)} BEGIN\n"
        "UPDATE nodes SET vetted = 0 WHERE id = NEW.id;\nEND",
    ]


def _pg_statements() -> list[str]:
    lines = []
    for s, p in FAMILIES:
        old, new = _key("OLD", s, p), _key("NEW", s, p)
        lines.append(
            f"  IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR {old} IS DISTINCT FROM {new}) AND {old} IS NOT NULL"
            f" THEN\n    UPDATE pools SET allocated = allocated - 1 WHERE id = {old};\n  END IF;"
        )
        lines.append(
            f"  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR {old} IS DISTINCT FROM {new}) AND {new} IS NOT NULL"
            f" THEN\n    UPDATE pools SET allocated = allocated + 1 WHERE id = {new};\n  END IF;"
        )
    # OLD is NULL in an INSERT trigger and NEW in a DELETE one (PostgreSQL 11+), so the keys above read as NULL.
    lines.append(
        "  IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR OLD.state IS DISTINCT FROM NEW.state) THEN\n"
        "    UPDATE node_state_counts SET n = n - 1 WHERE state = OLD.state;\n  END IF;"
    )
    lines.append(
        "  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM NEW.state) THEN\n"
        "    INSERT INTO node_state_counts (state, n) VALUES (NEW.state, 1)\n"
        "      ON CONFLICT (state) DO UPDATE SET n = node_state_counts.n + 1;\n  END IF;"
    )
    body = "\n".join(lines)
    counts = (
        f"CREATE FUNCTION {FUNCTIONS[0]}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\n  RETURN NULL;\nEND\n$$"
    )
    unvet = (
        f"CREATE FUNCTION {FUNCTIONS[1]}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n  NEW.vetted := false;\n  RETURN NEW;\nEND\n$$"
    )
    run = f"FOR EACH ROW EXECUTE FUNCTION {FUNCTIONS[0]}()"
    return [
        counts,
        unvet,
        f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON nodes {run}",
        f"CREATE TRIGGER {TRIGGERS[1]} AFTER DELETE ON nodes {run}",
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER UPDATE ON nodes FOR EACH ROW WHEN ({_count_change(pg=True)}) "
        f"EXECUTE FUNCTION {FUNCTIONS[0]}()",
        f"CREATE TRIGGER {TRIGGERS[3]} BEFORE UPDATE ON nodes FOR EACH ROW WHEN ({_unvet_when(pg=True)}) "
        f"EXECUTE FUNCTION {FUNCTIONS[1]}()",
    ]


def create_statements(dialect: str) -> list[str]:
    """The DDL creating the triggers (and PostgreSQL's trigger functions)."""
    return _pg_statements() if dialect == "postgresql" else _sqlite_statements()


def drop_statements(dialect: str) -> list[str]:
    on = " ON nodes" if dialect == "postgresql" else ""
    found = [f"DROP TRIGGER IF EXISTS {name}{on}" for name in TRIGGERS]
    if dialect == "postgresql":
        found += [f"DROP FUNCTION IF EXISTS {name}()" for name in FUNCTIONS]
    return found


BACKFILL = [
    "UPDATE pools SET allocated = (SELECT count(*) FROM nodes WHERE state <> 'released' AND ("
    "(subnet IS NOT NULL AND pool_id = pools.id) OR (subnet6 IS NOT NULL AND pool6_id = pools.id)))",
    "DELETE FROM node_state_counts",
    "INSERT INTO node_state_counts (state, n) SELECT state, count(*) FROM nodes GROUP BY state",
]
