"""BGP benchmark: hubnet's speaker (gobgpd driven over gRPC) against BIRD 2 as the speaker, in the same run.

    .venv/bin/python -m bench.bgp [--routes 65536] [--next-hops 256] [--rounds 3] [--skip-fib] [--skip-latency]

1. Established → the receiver's BGP table holds every route: N /24s of 10.0.0.0/8 over `--next-hops` next hops,
   announced to a BIRD 2 receiver (BGP table only, no kernel export) by (a) hubnet's `Speaker` — the paths loaded
   before the peer is added, as the controller does — and (b) a BIRD 2 speaker announcing the same N routes as
   static routes. Rounds alternate; each round starts both daemons afresh. The clock starts when the receiver's
   session reads Established and stops when its protocol has imported N routes (birdc polled every 5 ms).
   Also: time to load N paths into gobgpd, gobgpd's RSS holding them.
2. `fib`: once per router kind, how long the receiver then takes to put the N routes into its kernel table (BIRD's
   kernel protocol; FRR's zebra) — the router's own install, the same for any speaker.
3. `latency`: a real `hubnet server` (bgp backend, SQLite) in its own namespace, a BIRD router namespace that learns
   the routes over BGP and installs them; registrations at a fixed rate (open loop, `--rate` per second for
   `--seconds`), each measured from the moment its POST is sent until its route is in the router's kernel table (a
   netlink monitor there). Then the controller's and its speaker's RSS once `--memory-nodes` nodes are registered.

Everything lives in namespaces named `hbb-*` and a temporary directory; both are removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from bench.common import free_port
from hubnet.linux.netns import run_in

LAN = IPv4Network("172.30.0.0/16")
RECEIVER = IPv4Address("172.30.255.254")
SPEAKER = IPv4Address("172.30.255.1")
BASELINE = IPv4Address("172.30.255.2")
HOPS = int(IPv4Address("172.30.1.0"))
ASN = 64512
NS_RCV, NS_SPK, NS_BSP = "hbb-rcv", "hbb-spk", "hbb-bsp"


def sh(*argv: str, ns: str | None = None, check: bool = True) -> str:
    cmd = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()[:300]}")
    return done.stdout


def routes(count: int, next_hops: int) -> list[tuple[IPv4Network, IPv4Address]]:
    base = int(IPv4Address("10.0.0.0"))
    return [(IPv4Network((base + (i << 8), 24)), IPv4Address(HOPS + i % next_hops)) for i in range(count)]


@contextlib.contextmanager
def lan() -> Iterator[None]:
    """Three namespaces on one bridge in the receiver's namespace: receiver, hubnet's speaker, BIRD's speaker."""
    for ns in (NS_RCV, NS_SPK, NS_BSP):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    try:
        sh("ip", "link", "add", "br0", "type", "bridge", ns=NS_RCV)
        sh("ip", "link", "set", "br0", "up", ns=NS_RCV)
        sh("ip", "addr", "add", f"{RECEIVER}/16", "dev", "br0", ns=NS_RCV)
        for ns, address in ((NS_SPK, SPEAKER), (NS_BSP, BASELINE)):
            sh("ip", "link", "add", "lan", "netns", ns, "type", "veth", "peer", "name", f"p-{ns}", "netns", NS_RCV)
            sh("ip", "link", "set", f"p-{ns}", "master", "br0", "up", ns=NS_RCV)
            sh("ip", "link", "set", "lan", "up", ns=ns)
            sh("ip", "addr", "add", f"{address}/16", "dev", "lan", ns=ns)
        yield
    finally:
        for ns in (NS_RCV, NS_SPK, NS_BSP):
            sh("ip", "netns", "del", ns, check=False)


class Bird:
    """A BIRD 2 process in a namespace with the given config; birdc over its own socket."""

    def __init__(self, ns: str, config: str, workdir: Path, name: str) -> None:
        self.ns, self.dir, self.name = ns, workdir, name
        self.conf, self.sock = workdir / f"{name}.conf", workdir / f"{name}.ctl"
        self.conf.write_text(config)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Bird:
        log = (self.dir / f"{self.name}.log").open("wb")
        argv = ["ip", "netns", "exec", self.ns, "bird", "-f", "-c", str(self.conf), "-s", str(self.sock)]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.sock.exists() or "ready" not in self.birdc("show status", check=False):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bird {self.name} did not start: {(self.dir / f'{self.name}.log').read_text()}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def birdc(self, command: str, check: bool = True) -> str:
        done = subprocess.run(["birdc", "-s", str(self.sock), *command.split()], capture_output=True, text=True)
        if check and done.returncode:
            raise RuntimeError(f"birdc {command}: {done.stdout} {done.stderr}")
        return done.stdout

    def session(self, protocol: str) -> tuple[str, int]:
        """(BGP state, routes imported) of one protocol."""
        out = self.birdc(f"show protocols all {protocol}")
        state = re.search(r"BGP state:\s+(\w+)", out)
        imported = re.search(r"Routes:\s+(\d+) imported", out)
        return (state.group(1) if state else "?"), (int(imported.group(1)) if imported else 0)


def receiver_config(neighbor: IPv4Address) -> str:
    return f"""router id {RECEIVER};
protocol device {{ }}
protocol bgp peer {{
  local as {ASN}; neighbor {neighbor} as {ASN}; direct;
  graceful restart on;  # as a router pointed at hubnet is configured (docs/bgp.md)
  ipv4 {{ import all; export none; gateway direct; }};
  ipv6 {{ import all; export none; gateway direct; }};
}}
"""


def baseline_config(table: list[tuple[IPv4Network, IPv4Address]]) -> str:
    statics = "\n".join(f"  route {net} via {hop};" for net, hop in table)
    return f"""router id {BASELINE};
protocol device {{ }}
protocol static hubnet_static {{
  ipv4;
{statics}
}}
protocol bgp peer {{
  disabled;  # enabled once the static routes are in the table: both speakers start with a full table
  local as {ASN}; neighbor {RECEIVER} as {ASN}; direct;
  ipv4 {{ import none; export all; next hop keep; }};
  ipv6 {{ import none; export none; }};
}}
"""


def until_full(receiver: Bird, count: int, timeout: float = 300.0) -> tuple[float, float]:
    """Wait for Established, then for `count` imported routes: (seconds from Established until 99 % of them,
    seconds from Established until all). Why both: BIRD 2.0.12 as the speaker often sends its last few hundred
    routes only ~3 s after the rest (an idle tick of its event loop), which the 99 % figure leaves out."""
    deadline = time.monotonic() + timeout
    established = most = None
    while True:
        state, imported = receiver.session("peer")
        now = time.perf_counter()
        if established is None and state == "Established":
            established = now
        if established is not None and most is None and imported >= 0.99 * count:
            most = now
        if established is not None and most is not None and imported >= count:
            return most - established, now - established
        if time.monotonic() > deadline:
            raise RuntimeError(f"receiver: state {state}, {imported} of {count} routes after {timeout:.0f}s")
        time.sleep(0.005)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hubnet_round(table: list[tuple[IPv4Network, IPv4Address]], workdir: Path) -> dict[str, float]:
    from hubnet.net import parse_ip
    from hubnet.server.bgp.peers import PeerSpec
    from hubnet.server.bgp.speaker import Speaker, SpeakerConfig
    from hubnet.server.domain.routes import Route

    speaker = Speaker(SpeakerConfig(asn=ASN, router_id=SPEAKER, listen_port=0, netns=NS_SPK))
    with Bird(NS_RCV, receiver_config(SPEAKER), workdir, "rcv-hubnet") as receiver:
        speaker.start()
        try:
            paths = [Route(net, hop) for net, hop in table]
            t0 = time.perf_counter()
            failed = speaker.add(paths)
            load = time.perf_counter() - t0
            assert not failed, list(failed.items())[:3]
            speaker.set_peers([PeerSpec(address=parse_ip(str(RECEIVER)), asn=ASN)])
            most, full = until_full(receiver, len(table))
            pid = speaker.pid
            rss = rss_mb(pid) if pid else 0.0
        finally:
            speaker.stop()
    return {"load_s": load, "full_s": full, "p99_s": most, "gobgpd_rss_mb": rss}


def bird_round(table: list[tuple[IPv4Network, IPv4Address]], workdir: Path) -> dict[str, float]:
    with (
        Bird(NS_RCV, receiver_config(BASELINE), workdir, "rcv-bird") as receiver,
        Bird(NS_BSP, baseline_config(table), workdir, "bsp") as speaker,
    ):
        deadline = time.monotonic() + 120
        while f"{len(table)} of {len(table)} routes" not in speaker.birdc("show route count"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"BIRD's static table: {speaker.birdc('show route count')}")
            time.sleep(0.05)
        speaker.birdc("enable peer")
        most, full = until_full(receiver, len(table))
    return {"full_s": full, "p99_s": most}


def table_rounds(count: int, next_hops: int, rounds: int, workdir: Path) -> dict[str, Any]:
    table = routes(count, next_hops)
    hub: list[dict[str, float]] = []
    bird: list[dict[str, float]] = []
    for r in range(rounds):
        order: list[Callable[[], None]] = [
            lambda: hub.append(hubnet_round(table, workdir)),
            lambda: bird.append(bird_round(table, workdir)),
        ]
        for run in order if r % 2 == 0 else reversed(order):
            run()
    med = statistics.median
    ratios = [h["full_s"] / b["full_s"] for h, b in zip(hub, bird, strict=True)]
    return {
        "routes": count,
        "next_hops": next_hops,
        "rounds": rounds,
        "hubnet_full_s": [round(h["full_s"], 3) for h in hub],
        "bird_full_s": [round(b["full_s"], 3) for b in bird],
        "hubnet_full_s_median": round(med(h["full_s"] for h in hub), 3),
        "bird_full_s_median": round(med(b["full_s"] for b in bird), 3),
        "ratio_per_round": [round(x, 2) for x in ratios],
        "ratio_median": round(med(ratios), 2),
        "hubnet_99pct_s": [round(h["p99_s"], 3) for h in hub],
        "bird_99pct_s": [round(b["p99_s"], 3) for b in bird],
        "ratio_99pct_median": round(med(h["p99_s"] / b["p99_s"] for h, b in zip(hub, bird, strict=True)), 2),
        "gobgpd_load_s_median": round(med(h["load_s"] for h in hub), 3),
        "gobgpd_rss_mb_median": round(med(h["gobgpd_rss_mb"] for h in hub), 1),
    }


def kernel_count(ns: str) -> int:
    out = sh("ip", "-4", "route", "show", "table", "main", ns=ns)
    return sum(1 for line in out.splitlines() if line.startswith("10."))


def fib(kind: str, count: int, next_hops: int, workdir: Path) -> dict[str, float]:
    """hubnet's speaker → a BIRD or FRR router (hubnet.lab.bgprouter) that installs into its kernel: seconds from
    Established until the router's BGP table is full (as the router reports it) and until its kernel table is."""
    from hubnet.lab.bgprouter import Neighbor, make_router
    from hubnet.net import parse_ip
    from hubnet.server.bgp.peers import PeerSpec
    from hubnet.server.bgp.speaker import Speaker, SpeakerConfig
    from hubnet.server.domain.routes import Route

    table = routes(count, next_hops)
    router = make_router(kind, NS_RCV, ASN, RECEIVER, [Neighbor(SPEAKER, ASN)], workdir / f"fib-{kind}")
    speaker = Speaker(SpeakerConfig(asn=ASN, router_id=SPEAKER, listen_port=0, netns=NS_SPK))
    (workdir / f"fib-{kind}").mkdir(exist_ok=True)
    router.start()
    try:
        speaker.start()
        assert not speaker.add([Route(net, hop) for net, hop in table])
        speaker.set_peers([PeerSpec(address=parse_ip(str(RECEIVER)), asn=ASN)])
        deadline = time.monotonic() + 900
        established = bgp_full = None
        while True:
            now = time.perf_counter()
            sessions = router.sessions()
            up = [s for s in sessions if s.state == "established"]
            if established is None and up:
                established = now
            if established is not None and bgp_full is None and up and up[0].prefixes_received >= count:
                bgp_full = now
            if established is not None and bgp_full is not None and kernel_count(NS_RCV) >= count:
                return {"bgp_table_s": bgp_full - established, "kernel_s": time.perf_counter() - established}
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind}: not full after 900 s: {sessions}, kernel {kernel_count(NS_RCV)}")
            time.sleep(0.05 if bgp_full is None else 0.5)
    finally:
        speaker.stop()
        router.kill()
        sh("ip", "route", "flush", "proto", "all", "10.0.0.0/8", ns=NS_RCV, check=False)


# -- 3: registration → route in the BGP router's kernel, open loop ------------------------------------------------
@contextlib.contextmanager
def controller(workdir: Path, cidr: str, backend: str = "bgp") -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`hubnet server` in the speaker's namespace (it never is in the data path): the bgp backend, or (the same-run
    peer) the kernel backend programming the router's namespace directly."""
    port = free_port()
    url = f"http://{SPEAKER}:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBNET_")}
    env |= {
        "HUBNET_DATABASE_URL": f"sqlite:///{workdir}/hubnet-{backend}.db",
        "HUBNET_STATE_DIR": str(workdir),
        "HUBNET_LISTEN": f"{SPEAKER}:{port}",
        "HUBNET_BOOTSTRAP_TOKENS": "boot",
        "HUBNET_ADMIN_TOKENS": "admin",
        "HUBNET_CLUSTER_CIDR": cidr,
        "HUBNET_ROUTER_ADDRESS": str(RECEIVER),
        "HUBNET_ROUTE_BACKEND": backend,
        "HUBNET_BGP_LISTEN": f"{SPEAKER}:179",
        "HUBNET_BGP_ASN": str(ASN),
        "HUBNET_LOG_LEVEL": "warning",
        "HUBNET_RATE_LIMIT_PER_SECOND": "0",
    }
    if backend == "kernel":
        env["HUBNET_ROUTER_NETNS"] = NS_RCV
    hubnet = str(Path(sys.executable).with_name("hubnet"))
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        ["ip", "netns", "exec", NS_SPK, hubnet, "server"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"hubnet server exited: {(workdir / 'server.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if sh_http(url, "/readyz") < 500:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("hubnet server not ready within 60 s")
            time.sleep(0.1)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def sh_http(url: str, path: str) -> int:
    out = sh("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{url}{path}", ns=NS_RCV, check=False)
    return int(out or "0") or 599


def latency(workdir: Path, rate: float, seconds: float, memory_nodes: int, backend: str = "bgp") -> dict[str, Any]:
    """The open-loop run against a controller with `backend`: bgp (a BIRD router learns the routes over BGP and
    installs them) or kernel (the controller programs the router's table itself)."""
    from hubnet.lab.bgprouter import Neighbor, make_router
    from hubnet.linux.routes import KernelRoute, RouteEvent, RouteMonitor

    workdir.mkdir(parents=True, exist_ok=True)
    router = None
    if backend == "bgp":
        router_dir = workdir / "router"
        router_dir.mkdir(exist_ok=True)
        router = make_router("bird", NS_RCV, ASN, RECEIVER, [Neighbor(SPEAKER, ASN)], router_dir)
        router.start()
    seen: dict[IPv4Network, float] = {}

    def on_event(event: RouteEvent, route: KernelRoute | None) -> None:
        if route is not None and event != "delete" and isinstance(route.prefix, IPv4Network):
            seen.setdefault(route.prefix, time.perf_counter())

    monitor = RouteMonitor(table=254, netns=NS_RCV, on_event=on_event)
    monitor.start()
    try:
        with controller(workdir, "10.0.0.0/8", backend) as (url, server):
            return run_in(NS_RCV, lambda: drive(url, server, router, seen, rate, seconds, memory_nodes))
    finally:
        monitor.stop()
        if router is not None:
            router.kill()
        sh("ip", "route", "flush", "10.0.0.0/8", "root", "10.0.0.0/8", ns=NS_RCV, check=False)


def drive(
    url: str,
    server: subprocess.Popen[bytes],
    router: Any,
    seen: dict[IPv4Network, float],
    rate: float,
    seconds: float,
    memory_nodes: int,
) -> dict[str, Any]:
    """The client side of `latency`, on a thread inside the router's namespace (where the controller is reached)."""
    import httpx

    admin = httpx.Client(base_url=url, headers={"Authorization": "Bearer admin"}, timeout=30)
    if router is not None:
        admin.post("/v1/bgp/peers", json={"address": str(RECEIVER), "asn": ASN}).raise_for_status()
        deadline = time.monotonic() + 30
        while not any(s.state == "established" for s in router.sessions()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no session: {router.sessions()} {admin.get('/v1/bgp/peers').text}")
            time.sleep(0.05)
    sent: list[tuple[float, str]] = []
    errors: list[str] = []
    replies: list[float] = []  # POST → 201, ms
    lock = threading.Lock()

    def register(i: int, client: httpx.Client) -> None:
        body = {
            "name": f"bench-{i}",
            "address": str(IPv4Address(HOPS + i % 250)) if False else f"172.30.{2 + i // 250}.{1 + i % 250}",
            "secret": secrets.token_hex(32),
        }
        start = time.perf_counter()
        try:
            resp = client.post("/v1/nodes", json=body)
            resp.raise_for_status()
            with lock:
                sent.append((start, str(resp.json()["subnet"])))
                replies.append((time.perf_counter() - start) * 1000)
        except httpx.HTTPError as exc:
            with lock:
                errors.append(repr(exc))

    total = int(rate * seconds)
    threads: list[threading.Thread] = []
    clients = [httpx.Client(base_url=url, headers={"Authorization": "Bearer boot"}, timeout=30) for _ in range(16)]
    begin = time.perf_counter()
    for i in range(total):
        due = begin + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=register, args=(i, clients[i % len(clients)]))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 30
    while len([1 for _, s in sent if IPv4Network(s) in seen]) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.01)
    lat = sorted((seen[IPv4Network(s)] - start) * 1000 for start, s in sent if IPv4Network(s) in seen)
    missing = len(sent) - len(lat)
    figures: dict[str, Any] = {
        "rate_per_s": rate,
        "registrations": total,
        "errors": len(errors),
        "missing_routes": missing,
        "p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1) if lat else None,
        "reply_p50_ms": round(statistics.median(replies), 1) if replies else None,
    }
    metrics = httpx.get(f"{url}/metrics", timeout=30).text
    figures |= {
        line.split()[0].removeprefix("hubnet_"): float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith(
            ("hubnet_route_reconcile_duration_seconds_sum", "hubnet_route_reconcile_duration_seconds_count")
        )
    }
    if memory_nodes:
        figures |= memory(url, server, memory_nodes)
    return figures


def memory(url: str, server: subprocess.Popen[bytes], nodes: int) -> dict[str, Any]:
    """Register up to `nodes` nodes, wait for the speaker to hold them all, read the RSS of both processes."""
    import asyncio

    import httpx

    async def seed(start: int, count: int) -> None:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer boot"}, timeout=60) as client:
            sem = asyncio.Semaphore(32)

            async def one(i: int) -> None:
                address = IPv4Address(int(IPv4Address("172.31.0.0")) + i)
                body = {"name": f"mem-{i}", "address": str(address), "secret": f"{'7b' * 24}{i:016x}"}
                async with sem:
                    (await client.post("/v1/nodes", json=body)).raise_for_status()

            await asyncio.gather(*(one(i) for i in range(start, start + count)))

    pool = httpx.get(f"{url}/v1/pools", headers={"Authorization": "Bearer admin"}).json()["items"][0]
    asyncio.run(seed(0, max(0, nodes - int(pool["allocated"]))))
    deadline = time.monotonic() + 300
    while True:
        drift = httpx.get(f"{url}/v1/routes", headers={"Authorization": "Bearer admin"}, timeout=120).json()
        if not drift["missing"] and len(drift["actual"]) >= nodes:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the speaker holds {len(drift['actual'])} of {nodes} after 300 s")
        time.sleep(2)
    # `ip netns exec` execs in place: the Popen's pid is the controller's; its gobgpd is its child.
    speakers = [int(p) for p in sh("pgrep", "-P", str(server.pid), "-x", "gobgpd", check=False).split()]
    controller_mb = rss_mb(server.pid)
    speaker_mb = sum(rss_mb(p) for p in speakers)
    return {
        "memory_nodes": nodes,
        "controller_rss_mb": round(controller_mb, 1),
        "gobgpd_rss_mb": round(speaker_mb, 1),
        "together_mb": round(controller_mb + speaker_mb, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=65536)
    parser.add_argument("--next-hops", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-table", action="store_true")
    parser.add_argument("--skip-fib", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--memory-nodes", type=int, default=65536)
    parser.add_argument("--latency-rounds", type=int, default=3)
    args = parser.parse_args(argv)
    # SIGTERM (a `kill`, a CI timeout) unwinds like Ctrl-C: the namespaces and daemons are removed in `finally`
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for binary in ("gobgpd", "bird", "birdc"):
        if shutil.which(binary) is None:
            parser.error(f"{binary} is missing (./scripts/bootstrap.sh installs it)")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hbb-") as tmp, lan():
        workdir = Path(tmp)
        if not args.skip_table:
            results["table"] = table_rounds(args.routes, args.next_hops, args.rounds, workdir)
            print(json.dumps({"table": results["table"]}), flush=True)
        if not args.skip_fib:
            for kind in ("bird", "frr"):
                results[f"fib_{kind}"] = fib(kind, args.routes, args.next_hops, workdir)
                print(json.dumps({f"fib_{kind}": results[f"fib_{kind}"]}), flush=True)
        if not args.skip_latency:
            for r in range(args.latency_rounds):  # alternate: bgp, kernel, kernel, bgp, ...
                for backend in ("bgp", "kernel") if r % 2 == 0 else ("kernel", "bgp"):
                    nodes = args.memory_nodes if backend == "bgp" and r == args.latency_rounds - 1 else 0
                    figures = latency(workdir / f"lat-{backend}-{r}", args.rate, args.seconds, nodes, backend)
                    results.setdefault(f"latency_{backend}", []).append(figures)
                    print(json.dumps({f"latency_{backend}": figures}), flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
