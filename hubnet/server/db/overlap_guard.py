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

The range is never taken from the writer on trust. Parsing the text in SQL is the expensive part (a third of the
controller's registration time, issue 14), so since migration 0013 an IPv4 range the writer supplied is *checked*
instead: when the text is exactly the canonical spelling of net_lo with a prefix length whose host bits net_lo
leaves clear and net_hi sets — formatting four integers and comparing text, no parsing — the supplied range is
the one the parse would find, and neither the parse nor the range-setting UPDATE runs. Anything else (no range, a
wrong one, host bits set, leading zeros, any IPv6 subnet) takes the full path as before.

A table rebuild (a future migration that copies `nodes`) drops triggers: it must create them again
(`create_statements`).
"""

from __future__ import annotations

HEX = "'0123456789abcdef'"
TRIGGERS = (
    "tr_nodes_no_overlap_insert",
    "tr_nodes_no_overlap_update",
    "tr_nodes_ranges_insert",
    "tr_nodes_ranges_update",
    "tr_nodes_no_overlap_insert_v4",  # since 0013: an IPv4-only row with its range vouched for
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


def _v4_range(text: str, unless: str | None = None) -> str:
    """A derived table (columns lo, hi, plen) of the IPv4 network `text`; no row when it does not parse (or when
    the condition `unless` holds: nothing is parsed then). Few steps: SQLite's parser stack is shallow, and a
    trigger nests this inside more."""
    ip, plen = _split(text, 32)
    split = _level(f"{ip} AS ip, {plen} AS plen", where=f"NOT ({unless})" if unless else None)
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


def supplied_v4(row: str = "NEW") -> str:
    """True when `row`'s IPv4 range columns are exactly its subnet text's range: the text is the canonical spelling
    (no leading zeros, no host bits) of net_lo and a prefix length, and net_hi is net_lo with the host bits set.
    Only formats integers (no parsing); NULL-safe (false for a missing subnet or range)."""
    lo, hi, text = f"{row}.net_lo", f"{row}.net_hi", f"{row}.subnet"
    plen = f"substr({text}, instr({text}, '/') + 1)"
    p = f"CAST({plen} AS INTEGER)"
    host = f"((1 << (32 - {p})) - 1)"
    dotted = " || '.' || ".join(f"(({lo} >> {shift}) & 255)" for shift in (24, 16, 8, 0))
    return (
        f"(typeof({lo}) = 'integer' AND typeof({hi}) = 'integer' AND {lo} BETWEEN 0 AND 4294967295 "
        f"AND instr({text}, '/') > 0 AND {_digits(plen, 2)} AND {p} <= 32 "
        f"AND ({lo} & {host}) = 0 AND {hi} = ({lo} | {host}) AND {text} = {dotted} || '/' || {plen})"
    )


def _no_subnet(family: int, row: str = "NEW") -> str:
    """`row` has no subnet of `family` and no range of it (nothing to set)."""
    subnet, lo, hi = ("subnet", "net_lo", "net_hi") if family == 4 else ("subnet6", "net6_lo", "net6_hi")
    return f"({row}.{subnet} IS NULL AND {row}.{lo} IS NULL AND {row}.{hi} IS NULL)"


def _supernets_v4(lo: str = "r.lo") -> str:
    """Where a network containing lo/plen starts, for every shorter prefix (and its own start)."""
    return ", ".join(f"(({lo} >> {32 - k}) << {32 - k})" for k in range(0, 33))


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


def _v4_claim(fast: bool) -> str:
    """The derived table (lo, hi) of NEW's IPv4 range: the supplied columns when `supplied_v4` vouches for them
    (`fast`), else (or always, without `fast`) parsed from the text."""
    if not fast:
        return _v4_range("NEW.subnet")
    check = supplied_v4()
    return (
        f"SELECT NEW.net_lo AS lo, NEW.net_hi AS hi WHERE {check} "
        f"UNION ALL SELECT lo, hi FROM ({_v4_range('NEW.subnet', unless=check)})"
    )


def _overlap_check(family: int, *, update: bool, fast: bool = True) -> str:
    """`SELECT RAISE(...)` when NEW's subnet of `family` overlaps another live row's (NEW is live). On an update only
    a new claim is checked (the subnet changed, or a released row comes back): a stale node renewing its lease is
    never refused over an overlap written before the guard existed (the integrity check reports those)."""
    subnet, lo, hi = ("subnet", "net_lo", "net_hi") if family == 4 else ("subnet6", "net6_lo", "net6_hi")
    table = _v4_claim(fast) if family == 4 else _v6_range(f"NEW.{subnet}")
    starts = _supernets_v4() if family == 4 else _supernets_v6()
    live = "o.state <> 'released' AND o.id IS NOT NEW.id"
    inside = f"SELECT 1 FROM nodes o WHERE {live} AND o.{lo} BETWEEN r.lo AND r.hi"
    around = f"SELECT 1 FROM nodes o WHERE {live} AND o.{lo} IN ({starts}) AND o.{hi} >= r.lo"
    claim = f" AND (OLD.state = 'released' OR NEW.{subnet} IS NOT OLD.{subnet})" if update else ""
    return (
        f"SELECT RAISE(ABORT, '{MESSAGE.replace(chr(39), chr(39) * 2)}') FROM ({table}) AS r "
        f"WHERE NEW.state <> 'released'{claim} AND (EXISTS ({inside}) OR EXISTS ({around}));"
    )


def _vouched_insert_check() -> str:
    """The overlap check of an IPv4-only row whose range `supplied_v4` vouches for: the two index searches on
    NEW's own columns, nothing derived."""
    live = "o.state <> 'released'"
    inside = f"SELECT 1 FROM nodes o WHERE {live} AND o.net_lo BETWEEN NEW.net_lo AND NEW.net_hi"
    around = (
        f"SELECT 1 FROM nodes o WHERE {live} AND o.net_lo IN ({_supernets_v4('NEW.net_lo')}) AND o.net_hi >= NEW.net_lo"
    )
    return (
        f"SELECT RAISE(ABORT, '{MESSAGE.replace(chr(39), chr(39) * 2)}') WHERE EXISTS ({inside}) OR EXISTS ({around});"
    )


def _set_ranges() -> str:
    """Set the range columns of NEW's row from its subnets' text (NULL for text that does not parse)."""
    v4 = f"(SELECT lo, hi FROM ({_v4_range('NEW.subnet')}))"
    v6 = f"(SELECT lo, hi FROM ({_v6_range('NEW.subnet6')}))"
    # a row value from a subquery that yields no row (text that does not parse) sets NULLs
    return f"UPDATE nodes SET (net_lo, net_hi) = {v4}, (net6_lo, net6_hi) = {v6} WHERE id = NEW.id;"


def create_statements(*, fast: bool = True) -> list[str]:
    """The DDL creating the guard (SQLite only). `fast` (migration 0013): supplied IPv4 ranges are checked, not
    recomputed, and each trigger says in its WHEN clause when it has work (SQLite then skips its program, and a
    trigger program costs tens of microseconds per row even when its statements find nothing); without `fast`, the
    guard exactly as migration 0011b created it."""
    ranges = "subnet, subnet6, net_lo, net_hi, net6_lo, net6_hi"
    insert = f"{_overlap_check(4, update=False, fast=fast)}\n{_overlap_check(6, update=False)}"
    update = f"{_overlap_check(4, update=True, fast=fast)}\n{_overlap_check(6, update=True)}"
    if not fast:
        return [
            f"CREATE TRIGGER {TRIGGERS[0]} BEFORE INSERT ON nodes BEGIN\n{insert}\nEND",
            f"CREATE TRIGGER {TRIGGERS[1]} BEFORE UPDATE OF subnet, subnet6, state ON nodes BEGIN\n{update}\nEND",
            f"CREATE TRIGGER {TRIGGERS[2]} AFTER INSERT ON nodes BEGIN\n{_set_ranges()}\nEND",
            f"CREATE TRIGGER {TRIGGERS[3]} AFTER UPDATE OF {ranges} ON nodes BEGIN\n{_set_ranges()}\nEND",
        ]
    vouched = f"({supplied_v4()} AND NEW.subnet6 IS NULL)"
    live = "NEW.state <> 'released'"
    has_subnet = "(NEW.subnet IS NOT NULL OR NEW.subnet6 IS NOT NULL)"
    claims = "(OLD.state = 'released' OR NEW.subnet IS NOT OLD.subnet OR NEW.subnet6 IS NOT OLD.subnet6)"
    # The range columns need setting unless the IPv4 ones are vouched for (or absent with their subnet) and the
    # row has no IPv6 subnet.
    set_when = f"NOT (({supplied_v4()} OR {_no_subnet(4)}) AND {_no_subnet(6)})"
    return [
        f"CREATE TRIGGER {TRIGGERS[0]} BEFORE INSERT ON nodes WHEN {live} AND {has_subnet} AND NOT {vouched} "
        f"BEGIN\n{insert}\nEND",
        f"CREATE TRIGGER {TRIGGERS[4]} BEFORE INSERT ON nodes WHEN {live} AND {vouched} "
        f"BEGIN\n{_vouched_insert_check()}\nEND",
        f"CREATE TRIGGER {TRIGGERS[1]} BEFORE UPDATE OF subnet, subnet6, state ON nodes WHEN {live} AND {claims} "
        f"BEGIN\n{update}\nEND",
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER INSERT ON nodes WHEN {set_when} BEGIN\n{_set_ranges()}\nEND",
        f"CREATE TRIGGER {TRIGGERS[3]} AFTER UPDATE OF {ranges} ON nodes WHEN {set_when} BEGIN\n{_set_ranges()}\nEND",
    ]


def drop_statements() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]
