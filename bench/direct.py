"""Direct mode vs hub mode (issue 19): routes per table, registration → every table that needs it, netlink route
messages per registration, and iperf3 pod→pod vs node→node, in the same run.

    sudo .venv/bin/python -m bench.direct [--full 4] [--sizes 8,32,64] [--seconds 2] [--rounds 3] [--json PATH]

For each mode a plain IPv4 lab of `--full` real nodes (1 pod each) is built (`hubnet lab up [--mode direct]`); the
cluster then grows to each size N by registrations only (admin API, addresses on the lab underlay; the machine does
not host N full nodes). Every registration is timed from just before its POST until every table that needs the new
route holds it — hub: the router's kernel; direct: every full node's kernel (each polled through netlink every few
ms) — p50/p99 over the registrations that brought the cluster to N. Routes per table are read from the kernels at N:
a full node's own routes (protocol 44) and the router's. Netlink route messages per registration are counted: a
netlink monitor (RTNLGRP_IPV4_ROUTE) in every full node's namespace and the router's counts each RTM_NEWROUTE /
RTM_DELROUTE of protocol 44 the kernels announce while the cluster grows (one per route op that took effect). A
registered-only node has no kernel: cluster-wide, each of them counts at the full nodes' measured rate, and the new
node's own first table (N-1 routes in direct mode, its cluster route in hub mode) is added.
Throughput: `bench.lab.throughput` (node-1 → node-2, pods vs nodes, 1 and 4 streams).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from bench.lab import throughput
from hubnet.lab import lifecycle
from hubnet.lab.controller import LabController
from hubnet.lab.plan import UNDERLAY, make_plan
from hubnet.lab.state import LabState
from hubnet.linux import ROUTE_PROTO
from hubnet.linux.routes import RouteTable, _messages, open_socket, parse_route

NAME = "bdirect"
POLL = 0.002


def owned(netns: str) -> set[tuple[str, str]]:
    table = RouteTable(proto=ROUTE_PROTO, netns=netns)
    try:
        return {(str(r.prefix), str(r.next_hop)) for r in table.owned()}
    finally:
        table.close()


RTMGRP_IPV4_ROUTE = 0x40
RTM_NEWROUTE, RTM_DELROUTE = 24, 25


def monitor(netns: str) -> socket.socket:
    """A netlink socket in `netns` that receives every IPv4 route change the kernel announces there."""
    return open_socket(netns, groups=RTMGRP_IPV4_ROUTE)


def drain(sock: socket.socket) -> int:
    """Our route changes (protocol 44) announced on `sock` since the last call."""
    count = 0
    while True:
        try:
            data = sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return count
        for offset, kind, _, _ in _messages(data, len(data)):
            if kind in (RTM_NEWROUTE, RTM_DELROUTE):
                route = parse_route(data, offset)
                count += route is not None and route.protocol == ROUTE_PROTO


def tables_needing(state: LabState, mode: str) -> list[str]:
    plan = make_plan(state.name, state.nodes, 0, tuple(state.families))
    return [n.netns for n in plan.nodes] if mode == "direct" else [plan.router_netns]


def grow(state: LabState, mode: str, sizes: list[int], full: int) -> dict[str, Any]:
    plan = make_plan(state.name, state.nodes, 0, tuple(state.families))
    client = LabController.of(plan, state.admin_token, timeout=30)
    tables = tables_needing(state, mode)
    monitors = {n.netns: monitor(n.netns) for n in plan.nodes} | {plan.router_netns: monitor(plan.router_netns)}
    for sock in monitors.values():
        drain(sock)  # what the lab's start announced
    out: dict[str, Any] = {}
    count = full
    for size in sizes:
        latencies = []
        first = count + 1
        while count < size:
            count += 1
            address = str(UNDERLAY.network_address + 10 + count)
            t0 = time.perf_counter()
            record = client.post(
                "/v1/nodes", {"name": f"reg-{count}", "address": address, "secret": "s" * 43 + f"{count:03d}"}
            )
            want = (str(IPv4Network(record["subnet"])), str(IPv4Address(address)))
            left = list(tables)
            while left:
                left = [t for t in left if want not in owned(t)]
                if left:
                    time.sleep(POLL)
            latencies.append(time.perf_counter() - t0)
        time.sleep(0.5)  # a late or repeated op would show up here
        counted = {netns: drain(sock) for netns, sock in monitors.items()}
        regs = max(1, count - first + 1)
        router_msgs = counted.pop(plan.router_netns) / regs
        per_node = statistics.mean(counted.values()) / regs  # per full node's table, per registration
        node_routes = len(owned(plan.nodes[0].netns))
        router_routes = len(owned(plan.router_netns))
        # cluster-wide at N: every other node's table at the full nodes' measured rate, the router's, and the new
        # node's first table (N-1 routes in direct mode; its one cluster route in hub mode)
        own_first = size - 1 if mode == "direct" else 1
        latencies.sort()
        out[str(size)] = {
            "registrations": len(latencies),
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "routes_per_node": node_routes,
            "routes_on_router": router_routes,
            "counted_msgs_per_full_node": per_node,
            "counted_msgs_on_router": router_msgs,
            "route_msgs_per_registration": round(per_node * (size - 1) + router_msgs + own_first, 1),
        }
    for sock in monitors.values():
        sock.close()
    return out


def run_mode(mode: str, full: int, sizes: list[int], seconds: int, rounds: int) -> dict[str, Any]:
    lifecycle.down(NAME)
    try:
        state = lifecycle.up(NAME, full, 1, families=(4,), mode=mode)
        figures = {"throughput": throughput(state, seconds, rounds)}
        figures["growth"] = grow(state, mode, sizes, full)
        return figures
    finally:
        lifecycle.down(NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", type=int, default=4)
    parser.add_argument("--sizes", default="8,32,64")
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    figures = {mode: run_mode(mode, args.full, sizes, args.seconds, args.rounds) for mode in ("hub", "direct")}
    for mode, f in figures.items():
        t1, t4 = f["throughput"]["1_stream"], f["throughput"]["4_stream"]
        print(f"{mode}: pod/node 1 stream {t1['pod_gbps']:.2f}/{t1['node_gbps']:.2f} Gbit/s = {t1['ratio']:.2f}x; "
              f"4 streams {t4['pod_gbps']:.2f}/{t4['node_gbps']:.2f} = {t4['ratio']:.2f}x")  # fmt: skip
        for size, g in f["growth"].items():
            print(f"  N={size}: routes/node {g['routes_per_node']} router {g['routes_on_router']}  "
                  f"reg->all tables p50 {g['p50_ms']:.1f} ms p99 {g['p99_ms']:.1f} ms  "
                  f"route msgs/reg {g['route_msgs_per_registration']}")  # fmt: skip
            print(f"    counted per registration: {g['counted_msgs_per_full_node']:.2f} per full node's table, "
                  f"{g['counted_msgs_on_router']:.2f} on the router")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
