"""How many IP datagrams a lab namespace forwarded (IPv4 `Ip: ForwDatagrams` + IPv6 `Ip6OutForwDatagrams`): `hubnet
lab check` reads the router's before and after its probes, so a direct-mode lab proves no pod packet crossed it."""

from __future__ import annotations

from hubnet.linux.netns import run_in


def forwarded(netns: str) -> int:
    """The namespace's forwarded-datagram counters, both families (read on a thread inside it)."""
    return run_in(netns, _read)


def _read() -> int:
    with open("/proc/thread-self/net/snmp") as f:  # thread-self: this thread's namespace, not the process's
        rows = [line.split() for line in f if line.startswith("Ip:")]
    total = int(rows[1][rows[0].index("ForwDatagrams")]) if len(rows) == 2 else 0
    try:
        with open("/proc/thread-self/net/snmp6") as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == "Ip6OutForwDatagrams":
                    total += int(value)
    except FileNotFoundError:  # IPv6 disabled
        pass
    return total
