"""SQLite's backstop against overlapping live subnets: triggers that refuse the write (migration 0011b).

PostgreSQL refuses an overlapping live subnet with its exclusion constraints (`EXCLUDE USING gist (subnet inet_ops
WITH &&)`, same on subnet6). SQLite has no inet type: its unique index only refuses the *same* text, so a live
10.244.0.0/23 written beside a live 10.244.1.0/24 by hand or by a buggy process would be stored. These triggers make
the schema refuse it too, whoever writes:

- `BEFORE INSERT` / `BEFORE UPDATE OF subnet, subnet6, state`: a live row (state <> 'released') whose subnet parses
  (IPv4 `a.b.c.d/n`, IPv6 with or without `::`, any case, host bits allowed like `inet`) is refused with
  `RAISE(ABORT)` (an IntegrityError) when another live row's range overlaps it: one that starts inside it, or one
  that starts where a network containing it starts and reaches it (rows are CIDR-aligned). Both are index searches
  on the live range indexes.
- `AFTER INSERT` / `AFTER UPDATE OF` a subnet or range column: the range columns (net_lo/net_hi, net6_lo/net6_hi)
  are set from the subnet's text, so a writer that leaves them out or gets them wrong cannot hide a row from the
  next check (text that does not parse gets no range, as in `hubnet.server.db.ranges`: a flagged row).

The range is computed in SQL from the text, never taken from the writer. A table rebuild (a future migration that
copies `nodes`) drops triggers: it must create them again (`create_statements`).
"""

from __future__ import annotations

HEX = "'0123456789abcdef'"
TRIGGERS = (
    "tr_nodes_no_overlap_insert",
    "tr_nodes_no_overlap_update",
    "tr_nodes_ranges_insert",
    "tr_nodes_ranges_update",
)
MESSAGE = "live subnet overlaps another live node's subnet (hubnet overlap guard)"


def _digits(expr: str, width: int) -> str:
    """`expr` is 1..width decimal digits."""
    return f"(length({expr}) BETWEEN 1 AND {width} AND {expr} NOT GLOB '*[^0-9]*')"


def _level(columns: str, inner: str | None = None, where: str | None = None) -> str:
    """One step of a computation: `columns` of the row `inner` yields. `LIMIT 1 OFFSET 0` keeps SQLite from
    flattening the steps into one expression, which would repeat each step's expression wherever the next uses its
    columns (the statement grew to megabytes of work per row)."""
    source = f" FROM ({inner})" if inner else ""
    condition = f" WHERE {where}" if where else ""
    return f"SELECT {columns}{source}{condition} LIMIT 1 OFFSET 0"


def _split(text: str, bits: int) -> tuple[str, str]:
    """(address part, prefix part) of `text`; without a '/', a host route (/32, /128) as `inet` reads it."""
    whole = f"(CASE WHEN instr({text}, '/') > 0 THEN {text} ELSE {text} || '/{bits}' END)"
    return f"substr({whole}, 1, instr({whole}, '/') - 1)", f"substr({whole}, instr({whole}, '/') + 1)"


def _v4_range(text: str) -> str:
    """A derived table (columns lo, hi, plen) of the IPv4 network `text`; no row when it does not parse. Few steps:
    SQLite's parser stack is shallow, and a trigger nests this inside more."""
    ip, plen = _split(text, 32)
    split = _level(f"{ip} AS ip, {plen} AS plen")
    # Only digits and exactly three dots, so the JSON array built from the text is well formed.
    shape = "ip NOT GLOB '*[^0-9.]*' AND length(ip) - length(replace(ip, '.', '')) = 3"
    arr = f"(CASE WHEN {shape} THEN '[\"' || replace(ip, '.', '\",\"') || '\"]' END)"
    octets = _level(
        ", ".join(f"json_extract({arr}, '$[{i}]') AS o{i}" for i in range(4)) + ", plen", split, f"{arr} IS NOT NULL"
    )
    valid = " AND ".join(_digits(f"o{i}", 3) + f" AND CAST(o{i} AS INTEGER) <= 255" for i in range(4))
    valid += f" AND {_digits('plen', 2)} AND CAST(plen AS INTEGER) <= 32"
    address = " | ".join(f"(CAST(o{i} AS INTEGER) << {24 - 8 * i})" for i in range(4))
    numbers = _level(f"({address}) AS a, CAST(plen AS INTEGER) AS p", octets, valid)
    lo = "((a >> (32 - p)) << (32 - p))"
    return _level(f"{lo} AS lo, {lo} | ((1 << (32 - p)) - 1) AS hi, p AS plen", numbers)


def _v6_hex(text: str) -> str:
    """A derived table (columns h: 32 lowercase hex digits of the address, plen) of the IPv6 network `text`."""
    zoned, plen = _split(f"lower({text})", 128)
    split = _level(f"substr({zoned}, 1, instr({zoned} || '%', '%') - 1) AS addr, {plen} AS plen")  # zone dropped
    colons = "(length({x}) - length(replace({x}, ':', '')))"
    groups = "(CASE WHEN {x} = '' THEN 0 ELSE " + colons + " + 1 END)"
    left, right = "substr(addr, 1, instr(addr, '::') - 1)", "substr(addr, instr(addr, '::') + 2)"
    missing = f"(8 - {groups.format(x=left)} - {groups.format(x=right)})"
    zeros = f"substr('0:0:0:0:0:0:0:0', 1, 2 * {missing} - 1)"
    once = "instr(substr(addr, instr(addr, '::') + 1), '::') = 0"  # at most one '::'
    hexits = "addr NOT GLOB '*[^0-9a-f:]*'"  # hex and colons only (no dotted IPv4 tail): the JSON below is sound
    full = (
        f"(CASE WHEN NOT ({hexits}) THEN NULL WHEN instr(addr, '::') = 0 THEN addr "
        f"WHEN {missing} >= 1 AND {once} THEN trim({left} || ':' || {zeros} || ':' || {right}, ':') END)"
    )
    expanded = _level(f"{full} AS full, plen", split)
    # CASE, not WHERE: SQLite may evaluate json_extract before a WHERE condition, and malformed JSON aborts
    arr = f"(CASE WHEN {colons.format(x='full')} = 7 THEN '[\"' || replace(full, ':', '\",\"') || '\"]' END)"
    hextets = _level(
        ", ".join(f"json_extract({arr}, '$[{i}]') AS g{i}" for i in range(8)) + ", plen", expanded, f"{arr} IS NOT NULL"
    )
    valid = " AND ".join(f"length(g{i}) BETWEEN 1 AND 4" for i in range(8))
    valid += f" AND {_digits('plen', 3)} AND CAST(plen AS INTEGER) <= 128"
    padded = " || ".join(f"substr('000' || g{i}, -4, 4)" for i in range(8))
    return _level(f"{padded} AS h, CAST(plen AS INTEGER) AS plen", hextets, valid)


def _nibble(h: str, bits: str, *, high: bool) -> str:
    """The hex digit at the cut of a prefix of `bits` bits inside address `h`, its host bits cleared or set."""
    q, r = f"({bits} / 4)", f"({bits} % 4)"
    value = f"(instr({HEX}, substr({h}, {q} + 1, 1)) - 1)"
    cut = f"((15 << (4 - {r})) & 15)"
    digit = f"(({value} & {cut}) | (15 >> {r}))" if high else f"({value} & {cut})"
    return f"(CASE WHEN {r} > 0 THEN substr({HEX}, {digit} + 1, 1) ELSE '' END)"


def _masked(h: str, bits: str, *, high: bool) -> str:
    """`h` (32 hex digits) with everything after the first `bits` bits cleared (or set, `high`)."""
    fill = "'ffffffffffffffffffffffffffffffff'" if high else "'00000000000000000000000000000000'"
    q, r = f"({bits} / 4)", f"({bits} % 4)"
    keep = f"substr({h}, 1, {q})"
    return f"({keep} || {_nibble(h, bits, high=high)} || substr({fill}, 1, 32 - {q} - ({r} > 0)))"


def _v6_range(text: str) -> str:
    """A derived table (columns lo, hi, plen: the range as net6_lo/net6_hi store it) of the IPv6 network `text`."""
    lo, hi = _masked("h", "plen", high=False), _masked("h", "plen", high=True)
    return _level(f"{lo} AS lo, {hi} AS hi, plen", _v6_hex(text))


def _supernets_v4() -> str:
    """Where a network containing r.lo/r.plen starts, for every shorter prefix (and its own start)."""
    return ", ".join(f"((r.lo >> {32 - k}) << {32 - k})" for k in range(0, 33))


def _supernets_v6() -> str:
    return ", ".join(_start6("r.lo", k) for k in range(0, 129))


def _start6(h: str, bits: int) -> str:
    """`_masked(h, bits)` for a constant `bits`, folded (129 of these go into one IN list)."""
    q, r = divmod(bits, 4)
    zeros = "'" + "0" * (32 - q - (r > 0)) + "'"
    if r == 0:
        return f"substr({h}, 1, {q}) || {zeros}"
    digit = f"substr({HEX}, ((instr({HEX}, substr({h}, {q + 1}, 1)) - 1) & {(15 << (4 - r)) & 15}) + 1, 1)"
    return f"substr({h}, 1, {q}) || {digit} || {zeros}"


def _overlap_check(family: int, *, update: bool) -> str:
    """`SELECT RAISE(...)` when NEW's subnet of `family` overlaps another live row's (NEW is live). On an update only
    a new claim is checked (the subnet changed, or a released row comes back): a stale node renewing its lease is
    never refused over an overlap written before the guard existed (the integrity check reports those)."""
    subnet, lo, hi = ("subnet", "net_lo", "net_hi") if family == 4 else ("subnet6", "net6_lo", "net6_hi")
    table = _v4_range(f"NEW.{subnet}") if family == 4 else _v6_range(f"NEW.{subnet}")
    starts = _supernets_v4() if family == 4 else _supernets_v6()
    live = "o.state <> 'released' AND o.id IS NOT NEW.id"
    inside = f"SELECT 1 FROM nodes o WHERE {live} AND o.{lo} BETWEEN r.lo AND r.hi"
    around = f"SELECT 1 FROM nodes o WHERE {live} AND o.{lo} IN ({starts}) AND o.{hi} >= r.lo"
    claim = f" AND (OLD.state = 'released' OR NEW.{subnet} IS NOT OLD.{subnet})" if update else ""
    return (
        f"SELECT RAISE(ABORT, '{MESSAGE.replace(chr(39), chr(39) * 2)}') FROM ({table}) AS r "
        f"WHERE NEW.state <> 'released'{claim} AND (EXISTS ({inside}) OR EXISTS ({around}));"
    )


def _set_ranges() -> str:
    """Set the range columns of NEW's row from its subnets' text (NULL for text that does not parse)."""
    v4 = f"(SELECT lo, hi FROM ({_v4_range('NEW.subnet')}))"
    v6 = f"(SELECT lo, hi FROM ({_v6_range('NEW.subnet6')}))"
    # a row value from a subquery that yields no row (text that does not parse) sets NULLs
    return f"UPDATE nodes SET (net_lo, net_hi) = {v4}, (net6_lo, net6_hi) = {v6} WHERE id = NEW.id;"


def create_statements() -> list[str]:
    """The DDL creating the guard (SQLite only)."""
    insert = f"{_overlap_check(4, update=False)}\n{_overlap_check(6, update=False)}"
    update = f"{_overlap_check(4, update=True)}\n{_overlap_check(6, update=True)}"
    ranges = "subnet, subnet6, net_lo, net_hi, net6_lo, net6_hi"
    return [
        f"CREATE TRIGGER {TRIGGERS[0]} BEFORE INSERT ON nodes BEGIN\n{insert}\nEND",
        f"CREATE TRIGGER {TRIGGERS[1]} BEFORE UPDATE OF subnet, subnet6, state ON nodes BEGIN\n{update}\nEND",
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER INSERT ON nodes BEGIN\n{_set_ranges()}\nEND",
        f"CREATE TRIGGER {TRIGGERS[3]} AFTER UPDATE OF {ranges} ON nodes BEGIN\n{_set_ranges()}\nEND",
    ]


def drop_statements() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]
