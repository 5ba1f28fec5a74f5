"""Lab benchmark: pod→pod across the router vs node→node through the same router, in the same run.

    sudo .venv/bin/python -m bench.lab [--seconds 3] [--rounds 9] [--skip-scale] [--json PATH]

Throughput: iperf3 TCP, 1 and 4 streams, pod n1-pod-1 → n2-pod-1 vs node-1 → node-2 (the nodes' underlay
addresses: their traffic crosses the router namespace's bridge, the pods' is routed by it on top). Rounds
measure both paths back to back (alternating which goes first); the ratio is the median of per-round ratios.
RTT: ICMP echo over a raw socket (median of 200) for both paths. CPU: sender + receiver CPU % that iperf3 reports
at a fixed 3 Gbit/s, both paths (a per-byte cost, steadier than a ceiling on a shared machine). Scale: wall time
of `lab up` for 2x10 and 8x20. Prints a table and writes the figures as JSON (`--json PATH`).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hubnet.lab import icmp, lifecycle
from hubnet.lab.plan import make_plan
from hubnet.lab.state import LabState
from hubnet.linux.labnet import socket_in

NAME = "bench"


def iperf(client_ns: str, server_ns: str, server_ip: str, streams: int, seconds: int) -> float:
    """Gbit/s received by an iperf3 server in `server_ns` from a client in `client_ns`."""
    bits: float = iperf_json(client_ns, server_ns, server_ip, ["-P", str(streams), "-t", str(seconds)])["end"][
        "sum_received"
    ]["bits_per_second"]
    return bits / 1e9


def cpu_at_rate(client_ns: str, server_ns: str, server_ip: str, rate: str, seconds: int) -> float:
    """CPU % (sender + receiver process, as iperf3 reports it) to carry a fixed `rate`: a cost per byte that
    load from elsewhere on a shared machine disturbs far less than a throughput ceiling."""
    end = iperf_json(client_ns, server_ns, server_ip, ["-b", rate, "-t", str(seconds)])["end"]
    cpu = end["cpu_utilization_percent"]
    return float(cpu["host_total"] + cpu["remote_total"])


def iperf_json(client_ns: str, server_ns: str, server_ip: str, args: list[str]) -> Any:
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", server_ip],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        out = subprocess.run(
            ["ip", "netns", "exec", client_ns, "iperf3", "-c", server_ip, *args, "-J"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    finally:
        server.wait(timeout=10)
    return json.loads(out)


def rtt_us(netns: str, address: str, count: int = 200) -> float:
    sock = socket_in(netns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        samples = [icmp.ping(sock, address, seq, 1.0) for seq in range(1, count + 1)]
    finally:
        sock.close()
    ok = [s for s in samples if s is not None]
    if len(ok) < count // 2:
        raise RuntimeError(f"ping {address} from {netns}: {count - len(ok)}/{count} lost")
    return statistics.median(ok) * 1e6


def paths(state: LabState) -> dict[str, tuple[str, str, str]]:
    """(client netns, server netns, server address) for the pod path and the node path."""
    plan = make_plan(state.name, state.nodes, 0, tuple(state.families))
    src, dst = state.node_pods["node-1"][0], state.node_pods["node-2"][0]
    return {
        "pod": (src.netns, dst.netns, str(dst.ip)),
        "node": (plan.nodes[0].netns, plan.nodes[1].netns, str(plan.nodes[1].address)),
    }


def throughput(state: LabState, seconds: int, rounds: int) -> dict[str, Any]:
    """Per stream count: median Gbit/s of each path and the median of the per-round pod/node ratios.

    A round measures both paths back to back (which goes first alternates), so a burst of load from elsewhere
    on a shared machine skews one round's pair, not the ratio's median.
    """
    result: dict[str, Any] = {}
    kinds = paths(state)
    for streams in (1, 4):
        runs: dict[str, list[float]] = {"pod": [], "node": []}
        for i in range(rounds):
            order = ("pod", "node") if i % 2 == 0 else ("node", "pod")
            for kind in order:
                client, server, address = kinds[kind]
                runs[kind].append(iperf(client, server, address, streams, seconds))
        ratios = [p / n for p, n in zip(runs["pod"], runs["node"], strict=True)]
        result[f"{streams}_stream"] = {
            "pod_gbps": statistics.median(runs["pod"]),
            "node_gbps": statistics.median(runs["node"]),
            "ratio": statistics.median(ratios),
            "runs": runs,
        }
    return result


def cpu_cost(state: LabState, rounds: int, rate: str = "3G") -> dict[str, Any]:
    runs: dict[str, list[float]] = {"pod": [], "node": []}
    for _ in range(rounds):
        for kind, (client, server, address) in paths(state).items():
            runs[kind].append(cpu_at_rate(client, server, address, rate, 3))
    pod, node = statistics.median(runs["pod"]), statistics.median(runs["node"])
    return {"rate": rate, "pod_cpu_pct": pod, "node_cpu_pct": node, "ratio": pod / node}


def rtts(state: LabState) -> dict[str, float]:
    return {kind: rtt_us(client, address) for kind, (client, _server, address) in paths(state).items()}


def up_time(nodes: int, pods: int) -> float:
    lifecycle.down(NAME)
    started = time.monotonic()
    try:
        lifecycle.up(NAME, nodes, pods)
        return time.monotonic() - started
    finally:
        lifecycle.down(NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--skip-scale", action="store_true", help="Skip the `lab up` wall-time runs.")
    parser.add_argument("--only-scale", action="store_true", help="Only the `lab up` wall-time runs.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args(argv)
    lifecycle.down(NAME)
    figures: dict[str, Any] = {}
    if not args.only_scale:
        try:
            state = lifecycle.up(NAME, 2, 1)
            figures["throughput"] = throughput(state, args.seconds, args.rounds)
            figures["rtt_us"] = rtts(state)
            figures["cpu_at_fixed_rate"] = cpu_cost(state, max(3, args.rounds // 3))
        finally:
            lifecycle.down(NAME)
    if not args.skip_scale:
        figures["up_seconds"] = {"2x10": up_time(2, 10), "8x20": up_time(8, 20)}
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def report(figures: dict[str, Any]) -> None:
    if "throughput" not in figures:
        _report_up(figures)
        return
    for key, row in figures["throughput"].items():
        print(
            f"{key:9} pod→pod {row['pod_gbps']:6.2f} Gbit/s  node→node {row['node_gbps']:6.2f} Gbit/s"
            f"  ratio {row['ratio']:.3f}"
        )
    cpu = figures["cpu_at_fixed_rate"]
    print(
        f"CPU at {cpu['rate']}bit/s pod→pod {cpu['pod_cpu_pct']:.1f} %  node→node {cpu['node_cpu_pct']:.1f} %"
        f"  ratio {cpu['ratio']:.3f}"
    )
    rtt = figures["rtt_us"]
    print(f"RTT       pod→pod {rtt['pod']:6.1f} µs      node→node {rtt['node']:6.1f} µs")
    _report_up(figures)


def _report_up(figures: dict[str, Any]) -> None:
    for key, seconds in figures.get("up_seconds", {}).items():
        print(f"lab up {key}: {seconds:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
