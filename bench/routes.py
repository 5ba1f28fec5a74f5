"""Route programming benchmark: the kernel backend's reconcile vs iproute2, in the same run.

    .venv/bin/python bench/routes.py [--routes 65536] [--ipv6-routes 65536] [--next-hops 256] [--runs 3]

Everything happens in a throwaway, anonymous network namespace held by a `sleep` process (a veth pair
`hnt-lan0/1` with an on-link 192.168.0.0/16 LAN and an on-link fd7a:1ab::/64 one); it vanishes with that process at
the end. The measurements, each the median of `--runs` runs, alternating order:

1. full reconcile of N routes (10.0.0.0/8 cut into /24s, next hops spread over `--next-hops` LAN addresses)
   into an empty table  vs  `ip -batch` adding the same N routes;
2. start-up sweep of N stale routes of ours (desired set empty)  vs  `ip route flush proto <ours>`;
3. the same two for IPv6 (`--ipv6-routes`, 0 skips): N /64s of fd00:10::/48 via `--next-hops` addresses of
   fd7a:1ab::/64  vs  `ip -6 -batch` adding the same routes, and the sweep  vs  `ip -6 route flush proto <ours>`;
4. registration → route in the router's table: a real `hubnet server` (kernel backend, SQLite), 64 concurrent
   clients, latency from the POST to the route's netlink notification (p50 / p99).

Why a few hundred next hops and not one per route: the kernel keeps one fib_info per distinct next hop and its
insert cost grows with their number; at 65,536 distinct next hops both sides spend ~60 s in the kernel alone
(measured: `ip -batch` ~1,000 routes/s), which measures the kernel, not the programming path.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from pathlib import Path

from hubnet.net import Network, network4, network6
from hubnet.server.domain.routes import DesiredRoute, Route
from hubnet.server.routing.kernel import KernelBackend
from hubnet.server.routing.reconciler import Reconciler

PROTO = 44


def ip(ns: str, *args: str) -> str:
    """`ip` inside the benchmark's namespace (`ns` is a /proc/PID/ns/net path)."""
    done = subprocess.run(["nsenter", f"--net={ns}", "ip", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[:300]}")
    return done.stdout


@contextmanager
def router_netns() -> Iterator[str]:
    """An anonymous namespace held by a `sleep` process: no name under /run/netns, so nothing can sweep it
    mid-run, and it disappears with its holder even if this script is killed."""
    holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
    path = f"/proc/{holder.pid}/ns/net"
    try:
        deadline = time.monotonic() + 5
        while os.readlink(path) == os.readlink("/proc/self/ns/net"):  # until unshare has happened
            if time.monotonic() > deadline:
                raise RuntimeError("unshare --net did not create a namespace")
            time.sleep(0.01)
        ip(path, "link", "set", "lo", "up")
        ip(path, "link", "add", "hnt-lan0", "type", "veth", "peer", "name", "hnt-lan1")
        ip(path, "link", "set", "hnt-lan0", "up")
        ip(path, "link", "set", "hnt-lan1", "up")
        ip(path, "addr", "add", "192.168.0.1/16", "dev", "hnt-lan0")
        # IPv6 next hops must be on-link: an address on the LAN, usable at once (no duplicate address detection)
        subprocess.run(["nsenter", f"--net={path}", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"], check=True)
        ip(path, "addr", "add", "fd7a:1ab::1/64", "dev", "hnt-lan0", "nodad")
        yield path
    finally:
        holder.kill()
        holder.wait()


def make_routes(count: int, next_hops: int) -> list[DesiredRoute]:
    """`count` /24s of 10.0.0.0/8 via `next_hops` LAN addresses, each carrying its node's address as text, as the
    controller's desired set does (the row's `primary_address`; prefixes that keep their hash, as `parse_network`
    builds them)."""
    base = int(IPv4Address("10.0.0.0"))
    hops = [IPv4Address(int(IPv4Address("192.168.1.0")) + i) for i in range(next_hops)]
    texts = [str(hop) for hop in hops]
    pick = hop_picks(count, next_hops)
    return [
        DesiredRoute(f"n{i}", Route(network4(base + (i << 8), 24), hops[pick[i]]), address=texts[pick[i]])
        for i in range(count)
    ]


def hop_picks(count: int, next_hops: int) -> list[int]:
    """Which next hop each route takes: drawn at random (seeded: every run programs the same table), not `i %
    next_hops` — there, bit-reversed order lines up every route of a next hop, which the kernel adds ~2.5x faster
    (its fib_info reuse), and no real table has its next hops in that pattern."""
    draw = random.Random(44).randrange
    return [draw(next_hops) for _ in range(count)]


def make_routes6(count: int, next_hops: int) -> list[DesiredRoute]:
    """`count` /64s of fd00:10::/48 via `next_hops` addresses of the on-link fd7a:1ab::/64. Each carries its node's
    address as text, as the controller's desired set does (the row's `primary_address`)."""
    base = int(IPv6Address("fd00:10::"))
    hops = [IPv6Address(int(IPv6Address("fd7a:1ab::100")) + i) for i in range(next_hops)]
    texts = [str(hop) for hop in hops]
    pick = hop_picks(count, next_hops)
    return [
        DesiredRoute(f"n{i}", Route(network6(base + (i << 64), 64), hops[pick[i]]), address=texts[pick[i]])
        for i in range(count)
    ]


def batch_file(routes: list[DesiredRoute], directory: Path, name: str = "routes.batch") -> Path:
    path = directory / name
    lines = (f"route add {d.route.prefix} via {d.route.next_hop} proto {PROTO}\n" for d in routes)
    path.write_text("".join(lines))
    return path


def count_ours(ns: str, family: str = "-4") -> int:
    return len(ip(ns, family, "route", "show", "proto", str(PROTO)).splitlines())


def cpu_seconds() -> float:
    """CPU (user + system) of this process and its finished children (`ip`): what a loaded, shared machine cannot
    inflate the way it inflates wall time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(times: dict[str, list[float]], cpu: dict[str, list[float]], who: str, fn: Callable[[], float]) -> None:
    """Run `fn` (which returns its wall seconds) and record them and the CPU seconds it took under `who`."""
    start = cpu_seconds()
    times[who].append(fn())
    cpu.setdefault(who, []).append(cpu_seconds() - start)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def reconcile(ns: str, desired: list[DesiredRoute]) -> float:
    """One reconcile as the controller runs it (load desired, list owned, plan, batched apply)."""
    backend = KernelBackend(proto=PROTO, netns=ns)
    try:
        rec = Reconciler(backend, load_desired=lambda: desired, report=lambda _states: None)
        seconds = timed(lambda: rec.reconcile_now("startup"))
        result = rec.last
        assert result is not None and not result.failed, f"{len(result.failed) if result else '?'} routes failed"
        return seconds
    finally:
        backend.close()


def pyroute2_one_by_one(ns: str, desired: list[DesiredRoute]) -> float:
    """Context only: pyroute2's `IPRoute.route("add")`, one acknowledged call per route (seconds for `desired`)."""
    from hubnet.linux.netns import handle

    with handle(ns) as h:
        start = time.perf_counter()
        for d in desired:
            h.route("add", dst=str(d.route.prefix), gateway=str(d.route.next_hop), proto=PROTO)
        seconds = time.perf_counter() - start
    ip(ns, "route", "flush", "proto", str(PROTO))
    return seconds


def run(args: argparse.Namespace) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall seconds and CPU seconds of every measurement, per run."""
    desired = make_routes(args.routes, args.next_hops)
    desired6 = make_routes6(args.ipv6_routes, args.next_hops)
    times: dict[str, list[float]] = {"reconcile": [], "ip -batch": [], "sweep": [], "ip flush": [], "one-by-one": []}
    cpu: dict[str, list[float]] = {}
    if desired6:
        times |= {"reconcile6": [], "ip -6 -batch": [], "sweep6": [], "ip -6 flush": []}
    with router_netns() as ns, tempfile.TemporaryDirectory(prefix="hnt-bench-") as tmp:
        batch = batch_file(desired, Path(tmp))
        batch6 = batch_file(desired6, Path(tmp), "routes6.batch")
        for run_no in range(args.runs):
            # full programming into an empty table, alternating who goes first
            order = ["reconcile", "ip -batch"] if run_no % 2 == 0 else ["ip -batch", "reconcile"]
            for who in order:
                if who == "reconcile":
                    measure(times, cpu, who, lambda: reconcile(ns, desired))
                else:
                    measure(times, cpu, who, lambda: timed(lambda: ip(ns, "-batch", str(batch))))
                assert count_ours(ns) == args.routes, f"{who} did not program {args.routes} routes"
                ip(ns, "route", "flush", "proto", str(PROTO))
            # start-up sweep of stale routes of ours (desired set is empty) vs ip route flush
            for who in ("sweep", "ip flush"):
                ip(ns, "-batch", str(batch))
                if who == "sweep":
                    measure(times, cpu, who, lambda: reconcile(ns, []))
                else:
                    measure(times, cpu, who, lambda: timed(lambda: ip(ns, "route", "flush", "proto", str(PROTO))))
                assert count_ours(ns) == 0, f"{who} left routes behind"
            if desired6:
                run_ipv6(ns, desired6, batch6, run_no, times, cpu)
            sample = desired[: args.one_by_one]
            times["one-by-one"].append(pyroute2_one_by_one(ns, sample) * len(desired) / len(sample))
            line = ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items())
            print(f"run {run_no + 1}: {line}", file=sys.stderr)
    return times, cpu


def run_ipv6(
    ns: str,
    desired6: list[DesiredRoute],
    batch6: Path,
    run_no: int,
    times: dict[str, list[float]],
    cpu: dict[str, list[float]],
) -> None:
    """The IPv6 table: full reconcile vs `ip -6 -batch` (alternating who goes first), then the sweep vs flush."""
    count = len(desired6)
    order = ["reconcile6", "ip -6 -batch"] if run_no % 2 == 0 else ["ip -6 -batch", "reconcile6"]
    for who in order:
        if who == "reconcile6":
            measure(times, cpu, who, lambda: reconcile(ns, desired6))
        else:
            measure(times, cpu, who, lambda: timed(lambda: ip(ns, "-6", "-batch", str(batch6))))
        assert count_ours(ns, "-6") == count, f"{who} did not program {count} IPv6 routes"
        ip(ns, "-6", "route", "flush", "proto", str(PROTO))
    for who in ("sweep6", "ip -6 flush"):
        ip(ns, "-6", "-batch", str(batch6))
        if who == "sweep6":
            measure(times, cpu, who, lambda: reconcile(ns, []))
        else:
            measure(times, cpu, who, lambda: timed(lambda: ip(ns, "-6", "route", "flush", "proto", str(PROTO))))
        assert count_ours(ns, "-6") == 0, f"{who} left IPv6 routes behind"


def registration_latency(count: int, concurrency: int) -> tuple[list[float], list[float]]:
    """For `count` registrations from `concurrency` clients against a real `hubnet server`: seconds from sending
    `POST /v1/nodes` to the node's route appearing in the router's table (as a netlink monitor sees it), and
    from the 201 reply to the route (0 when the route was already there)."""
    import httpx

    from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor

    seen: dict[Network, float] = {}

    def on_event(event: RouteEvent, route: KernelRoute | None) -> None:
        if route is not None and event != "delete" and route.protocol == PROTO:
            seen.setdefault(route.prefix, time.perf_counter())

    clients = threading.local()

    def register(i: int) -> tuple[float, float, str]:
        if not hasattr(clients, "c"):
            clients.c = httpx.Client(base_url=url, headers={"Authorization": "Bearer boot"}, timeout=30)
        body = {"name": f"lat-{i}", "address": str(IPv4Address("192.168.2.0") + i), "secret": secrets.token_hex(32)}
        start = time.perf_counter()
        resp = clients.c.post("/v1/nodes", json=body)
        resp.raise_for_status()
        return start, time.perf_counter(), str(resp.json()["subnet"])

    with router_netns() as ns, tempfile.TemporaryDirectory(prefix="hnt-bench-") as tmp:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBNET_")}
        env |= {
            "HUBNET_DATABASE_URL": f"sqlite:///{tmp}/hubnet.db",
            "HUBNET_STATE_DIR": tmp,
            "HUBNET_LISTEN": f"127.0.0.1:{port}",
            "HUBNET_BOOTSTRAP_TOKENS": "boot",
            "HUBNET_ADMIN_TOKENS": "admin",
            "HUBNET_CLUSTER_CIDR": "10.0.0.0/8",
            "HUBNET_ROUTER_ADDRESS": "192.168.0.1",
            "HUBNET_ROUTE_BACKEND": "kernel",
            "HUBNET_ROUTER_NETNS": ns,
            "HUBNET_LOG_LEVEL": "warning",
        }
        hubnet = str(Path(sys.executable).with_name("hubnet"))
        with open(f"{tmp}/server.log", "wb") as log:
            server = subprocess.Popen([hubnet, "server"], env=env, stdout=log, stderr=subprocess.STDOUT)
        monitor = RouteMonitor(table=254, netns=ns, on_event=on_event)
        monitor.start()
        try:
            _wait_ready(url, server)
            with ThreadPoolExecutor(concurrency) as pool:
                started = list(pool.map(register, range(count)))
            deadline = time.monotonic() + 10
            while len(seen) < count and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            monitor.stop()
            server.terminate()
            server.wait(timeout=15)
    missing = [subnet for _, _, subnet in started if IPv4Network(subnet) not in seen]
    assert not missing, f"{len(missing)} routes never appeared, e.g. {missing[:3]}"
    from_post = sorted(seen[IPv4Network(subnet)] - start for start, _, subnet in started)
    after_reply = sorted(max(0.0, seen[IPv4Network(subnet)] - done) for _, done, subnet in started)
    return from_post, after_reply


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"hubnet server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("hubnet server not ready within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=65536)
    parser.add_argument("--ipv6-routes", type=int, default=65536, help="IPv6 /64 routes (0: skip the IPv6 runs)")
    parser.add_argument("--next-hops", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one-by-one", type=int, default=2048, help="routes for the per-call pyroute2 sample")
    parser.add_argument("--registrations", type=int, default=512, help="registrations for the latency run (0: skip)")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    if args.routes > 65536 or args.ipv6_routes > 65536 or args.next_hops > 65000:
        parser.error("at most 65,536 routes per family (10.0.0.0/8 in /24s, fd00:10::/48 in /64s), 65,000 next hops")
    times, cpu = run(args)
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}

    def table(count: int, rows: list[tuple[str, str, str]]) -> None:
        print(f"{'measurement':<34}{'median s':>10}{'routes/s':>12}{'ratio':>8}{'cpu s':>9}{'cpu ratio':>11}")
        for label, key, peer in rows:
            line = f"{label:<34}{med[key]:>10.3f}{count / med[key]:>12,.0f}{med[key] / med[peer]:>7.2f}x"
            if key in cpu_med:
                line += f"{cpu_med[key]:>9.3f}{cpu_med[key] / cpu_med[peer]:>10.2f}x"
            print(line)

    print(f"\n{args.routes} routes, {args.next_hops} next hops, median of {args.runs} runs, same namespace\n")
    table(
        args.routes,
        [
            ("full reconcile (hubnet, batched)", "reconcile", "ip -batch"),
            ("ip -batch route add", "ip -batch", "ip -batch"),
            ("pyroute2, 1 ack'd call/route *", "one-by-one", "ip -batch"),
            ("start-up sweep (hubnet)", "sweep", "ip flush"),
            ("ip route flush proto 44", "ip flush", "ip flush"),
        ],
    )
    print(f"\n* extrapolated from {args.one_by_one} routes; context for why batching matters, not a peer")
    print("cpu s: user + system seconds of hubnet's process, or of `ip` (a loaded machine inflates wall time)")
    if args.ipv6_routes:
        count = args.ipv6_routes
        print(f"\n{count} IPv6 /64 routes, {args.next_hops} next hops, median of {args.runs} runs, same namespace\n")
        table(
            count,
            [
                ("full reconcile (hubnet, batched)", "reconcile6", "ip -6 -batch"),
                ("ip -6 -batch route add", "ip -6 -batch", "ip -6 -batch"),
                ("start-up sweep (hubnet)", "sweep6", "ip -6 flush"),
                ("ip -6 route flush proto 44", "ip -6 flush", "ip -6 flush"),
            ],
        )
    if args.registrations:
        print(f"\nregistration -> route in the kernel ({args.registrations} nodes, {args.concurrency} clients, SQLite)")
        latencies = registration_latency(args.registrations, args.concurrency)
        for label, lat in zip(("from POST", "after reply"), latencies, strict=True):
            p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"  {label:<12} p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   max {lat[-1] * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
