"""Open-loop registration -> route latency: POST /v1/nodes at a fixed arrival rate, timed to the route in the kernel.

    sudo .venv/bin/python -m bench.openloop [--db sqlite|postgres|both] [--seconds 5] [--rate R]
                                            [--arrivals fixed|poisson] [--seed 1] [--max-seconds 3]

Per database, each phase on a fresh `hubnet server` and a fresh database (SQLite file, or a PostgreSQL database
made and dropped as bench/registrations.py does), the kernel route backend programming the main table of an
anonymous namespace (bench/routes.py's `router_netns()`), cluster 10.0.0.0/8 in /24s, nodes addressed on the
namespace's 192.168.0.0/16 LAN (192.168.1.0 and up, a distinct name and address per registration):

1. maximum rate, closed loop: 64 clients (one asyncio loop), each sending its next POST when the previous one was
   answered, for 0.5 s of warm-up and then `--max-seconds`; 2xx answers per second in the latter;
2. open loop at half that rate (or `--rate`) for `--seconds`: every POST is sent at its scheduled time whatever the
   earlier ones are doing (each on its own task; a fresh connection when no idle keep-alive one is free). Arrivals
   are evenly spaced (`fixed`, 1/rate apart, the default) or a Poisson process (`poisson`, exponential gaps drawn
   from `random.Random(--seed)`). The client is bench/ha.py's lean HTTP/1.1 client with 64 connections opened
   beforehand (httpx's async client costs ~10 ms of CPU a request here: the client would measure itself).
   A netlink route monitor in the namespace (bench/ha.py's `RouteClock`) stamps each route's first notification
   (perf_counter, same clock as the sends). Figures, each count / p50 / p99 / max:
   - POST -> route: notification time minus the moment the request was written to its socket (the issue's goal:
     p50 <= 10 ms, p99 <= 50 ms at half the maximum rate);
   - schedule -> route: the same from the scheduled time (includes the client's lateness);
   - POST -> answer: the HTTP answer time (the controller's own queue), for context;
   - send lateness: written minus scheduled; and the achieved send rate against the schedule's (must be within 2 %:
     otherwise the client, not the server, set the pace, and the run says so).
   Non-2xx answers and failed connections are counted, never timed. The GIL switch interval is 0.5 ms (the monitor
   thread and the sending loop share this process).

Same-run peer: the same open loop at the same rate against the trivial FastAPI endpoint of bench/registrations.py
(no database, no route): the floor of client + uvicorn for the answer time and the lateness. Also printed: the
load average before each phase, the CPU seconds the controller and this process used during the open loop.
Everything (server, temporary directory, PostgreSQL database, namespace holder) is removed on exit, on a failure,
on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from bench.common import VENV_BIN, free_port, process
from bench.ha import Http11, HttpError, RouteClock, cpu_seconds, summarize_ms
from bench.registrations import BOOTSTRAP, database, trivial
from bench.routes import PROTO, _wait_ready, router_netns

CLIENTS = 64  # closed-loop clients, and connections opened before an open loop
LAN_BASE = IPv4Address("192.168.1.0")  # node addresses: on the router namespace's 192.168.0.0/16 LAN
WARMUP_S = 0.5  # closed loop: answers in the first half second are not counted
SETTLE_S = 15.0  # how long to wait for the last routes after the last POST
RATE_TOLERANCE = 0.02


def log(message: str) -> None:
    print(f"[bench.openloop {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def node_body(prefix: str, i: int) -> dict[str, str]:
    """A distinct node: name `prefix-i`, address 192.168.1.0 + i (on the router's LAN), a fresh secret."""
    if i >= 65_000:
        raise ValueError("at most 65,000 registrations per phase (192.168.0.0/16)")
    return {"name": f"{prefix}-{i}", "address": str(LAN_BASE + i), "secret": secrets.token_hex(32)}


def arrivals(kind: str, rate: float, seconds: float, seed: int) -> list[float]:
    """Send offsets (s from the start) of an open loop: `fixed` one every 1/rate (rate * seconds of them), or a
    Poisson process of intensity `rate` (exponential gaps from `random.Random(seed)`) until `seconds`."""
    if kind == "fixed":
        return [i / rate for i in range(round(rate * seconds))]
    rng, offsets, t = random.Random(seed), list[float](), 0.0
    while True:
        if t >= seconds:
            return offsets
        offsets.append(t)
        t += rng.expovariate(rate)


class TimedHttp11(Http11):
    """bench/ha.py's client (its `post_timed` says when each request was written), plus connections opened
    beforehand."""

    async def warm(self, count: int) -> None:
        for _ in range(count):
            self.opened += 1
            self.idle.append(await asyncio.open_connection(self.host, self.port))


@dataclass
class Sent:
    scheduled: float  # perf_counter
    sent: float | None = None  # written to the socket
    replied: float | None = None
    status: int | None = None
    subnet: IPv4Network | None = None
    error: str | None = None


# -- the controller under test -------------------------------------------------------------------------------------
@contextmanager
def controller(kind: str, ns: str) -> Iterator[tuple[str, int]]:
    """A fresh `hubnet server` on a fresh database (`kind`), kernel backend into `ns`: (url, pid)."""
    with tempfile.TemporaryDirectory(prefix="hnt-openloop-") as tmp, database(kind, Path(tmp)) as db_url:
        port = free_port()
        env = {
            "HUBNET_DATABASE_URL": db_url,
            "HUBNET_STATE_DIR": tmp,
            "HUBNET_LISTEN": f"127.0.0.1:{port}",
            "HUBNET_BOOTSTRAP_TOKENS": BOOTSTRAP,
            "HUBNET_ADMIN_TOKENS": "bench-admin-token",
            "HUBNET_CLUSTER_CIDR": "10.0.0.0/8",
            "HUBNET_NODE_PREFIX": "24",
            "HUBNET_ROUTER_ADDRESS": "192.168.0.1",
            "HUBNET_ROUTE_BACKEND": "kernel",
            "HUBNET_ROUTE_PROTO": str(PROTO),
            "HUBNET_ROUTER_NETNS": ns,
            "HUBNET_LOG_LEVEL": "warning",
        }
        with process([str(VENV_BIN / "hubnet"), "server"], env, Path(tmp) / "server.log") as server:
            url = f"http://127.0.0.1:{port}"
            try:
                _wait_ready(url, server)
            except RuntimeError:
                sys.stderr.write((Path(tmp) / "server.log").read_text()[-3000:])
                raise
            yield url, server.pid


# -- closed loop: the maximum rate ---------------------------------------------------------------------------------
async def _closed_loop(url: str, seconds: float) -> dict[str, Any]:
    """`CLIENTS` clients for WARMUP_S + `seconds`; only the answers of the last `seconds` count."""
    client = TimedHttp11(url, BOOTSTRAP)
    await client.warm(CLIENTS)
    counter = iter(range(65_000))
    ok, bad, answer = 0, 0, list[float]()
    begin = time.perf_counter() + WARMUP_S
    end = begin + seconds

    async def worker() -> None:
        nonlocal ok, bad
        while time.perf_counter() < end:
            try:
                status, _, written = await client.post_timed("/v1/nodes", node_body("max", next(counter)))
            except HttpError:
                bad += 1
                continue
            done = time.perf_counter()
            if not 200 <= status < 300:
                bad += 1
            elif begin <= done <= end:
                ok += 1
                answer.append((done - written) * 1000)

    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    await client.close()
    return {"rate": ok / seconds, "ok": ok, "not_2xx": bad, "answer": summarize_ms(answer)}


# -- open loop -----------------------------------------------------------------------------------------------------
async def _open_loop(url: str, offsets: Sequence[float], prefix: str) -> tuple[list[Sent], int]:
    """POST one distinct node at each of `offsets` (s from the start), each on its own task at its time; the
    records and how many connections were opened."""
    client = TimedHttp11(url, BOOTSTRAP)
    await client.warm(CLIENTS)
    bodies = [node_body(prefix, i) for i in range(len(offsets))]  # made beforehand: the loop only sends
    records = [Sent(0.0) for _ in offsets]

    async def one(i: int) -> None:
        record = records[i]
        try:
            record.status, answer, record.sent = await client.post_timed("/v1/nodes", bodies[i])
            record.replied = time.perf_counter()
            if 200 <= record.status < 300:
                record.subnet = IPv4Network(json.loads(answer)["subnet"])
            else:
                record.error = f"{record.status}: {answer[:200]!r}"
        except (HttpError, KeyError, ValueError) as exc:
            record.error = str(exc)[:200]

    tasks: list[asyncio.Task[None]] = []
    begin = time.perf_counter() + 0.05
    for i, offset in enumerate(offsets):
        records[i].scheduled = due = begin + offset
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    await client.close()
    return records, client.opened


def send_figures(records: list[Sent], rate: float) -> dict[str, Any]:
    """Achieved send rate against the schedule's, and the lateness of the sends behind it."""
    sent = [r for r in records if r.sent is not None]
    times = sorted(r.sent for r in sent if r.sent is not None)
    scheduled = sorted(r.scheduled for r in records)
    achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    planned = (len(scheduled) - 1) / (scheduled[-1] - scheduled[0]) if len(scheduled) > 1 else 0.0
    lateness = [(r.sent - r.scheduled) * 1000 for r in sent if r.sent is not None]
    return {
        "rate_target": round(rate, 1),
        "rate_scheduled": round(planned, 1),
        "rate_achieved": round(achieved, 1),
        "rate_ok": bool(planned) and abs(achieved / planned - 1) <= RATE_TOLERANCE,
        "sent": len(sent),
        "send_lateness": summarize_ms(lateness),
    }


def reconcile_counters(url: str) -> dict[str, float]:
    """The controller's reconcile counters (runs of every trigger, seconds spent) from /metrics."""
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = {"runs": 0.0, "seconds": 0.0}
    for line in text.splitlines():
        if line.startswith("hubnet_route_reconcile_runs_total"):
            found["runs"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("hubnet_route_reconcile_duration_seconds_sum"):
            found["seconds"] += float(line.rsplit(" ", 1)[1])
    return found


def open_loop(
    url: str, pid: int | None, offsets: Sequence[float], rate: float, clock: RouteClock | None
) -> dict[str, Any]:
    """One open-loop run against `url`; route latencies when `clock` watches the router's table."""
    cpu_server = cpu_seconds(pid) if pid else 0.0
    reconciles = reconcile_counters(url) if clock else {}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_self = usage.ru_utime + usage.ru_stime
    wall = time.perf_counter()
    records, opened = asyncio.run(_open_loop(url, offsets, f"ol{os.getpid()}"))
    wall = time.perf_counter() - wall
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures: dict[str, Any] = send_figures(records, rate)
    figures["connections_opened"] = opened
    figures["cpu_s"] = {"bench": round(usage.ru_utime + usage.ru_stime - cpu_self, 2), "wall": round(wall, 2)}
    if pid:
        figures["cpu_s"]["server"] = round(cpu_seconds(pid) - cpu_server, 2)
    ok = [r for r in records if r.subnet is not None]
    figures["ok"] = len(ok)
    figures["not_2xx"] = sum(1 for r in records if r.status is not None and not 200 <= r.status < 300)
    figures["failed"] = sum(1 for r in records if r.status is None)
    figures["errors_sample"] = sorted({r.error for r in records if r.error})[:3]
    figures["answer"] = summarize_ms([(r.replied - r.sent) * 1000 for r in ok if r.replied and r.sent])
    if clock is None:
        return figures
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline and not all(r.subnet in clock.seen for r in ok):
        time.sleep(0.05)
    at = [(r, clock.seen[r.subnet]) for r in ok if r.subnet in clock.seen and r.sent is not None]
    figures["post_to_route"] = summarize_ms([(t - r.sent) * 1000 for r, t in at if r.sent is not None])
    figures["schedule_to_route"] = summarize_ms([(t - r.scheduled) * 1000 for r, t in at])
    after = reconcile_counters(url)
    runs = after["runs"] - reconciles["runs"]
    figures["reconciles"] = {
        "runs": int(runs),
        "seconds": round(after["seconds"] - reconciles["seconds"], 2),
        "registrations_per_run": round(len(ok) / runs, 1) if runs else None,
    }
    figures["answer_to_route"] = summarize_ms([max(0.0, t - r.replied) * 1000 for r, t in at if r.replied])
    figures["routes_missing"] = len(ok) - len(at)
    figures["monitor_overruns"] = clock.overruns
    return figures


# -- per database --------------------------------------------------------------------------------------------------
def run_db(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"db": kind, "arrivals": args.arrivals}
    if args.rate:
        rate = args.rate
    else:
        result["load_before_max"] = load_average()
        with router_netns() as ns, controller(kind, ns) as (url, _pid):
            result["max"] = asyncio.run(_closed_loop(url, args.max_seconds))
        rate = result["max"]["rate"] / 2
        log(f"{kind}: maximum {result['max']['rate']:.0f}/s closed loop ({CLIENTS} clients); open loop at {rate:.0f}/s")
    offsets = arrivals(args.arrivals, rate, args.seconds, args.seed)
    result["load_before_open"] = load_average()
    # a fresh namespace (an empty table), server and database for the open loop
    with router_netns() as ns, controller(kind, ns) as (url, pid), RouteClock(ns) as clock:
        result["open"] = open_loop(url, pid, offsets, rate, clock)
    result["load_before_peer"] = load_average()
    with trivial() as peer_url:
        result["peer"] = open_loop(peer_url, None, offsets, rate, None)
    result["load_after"] = load_average()
    return result


def report(r: dict[str, Any]) -> None:
    def ms(fig: dict[str, Any]) -> str:
        return f"p50 {fig['p50_ms']} ms  p99 {fig['p99_ms']} ms  max {fig['max_ms']} ms  (n={fig['count']})"

    o, p = r["open"], r["peer"]
    print(f"\n== {r['db']}: open-loop registration -> route in the kernel ({r['arrivals']} arrivals) ==")
    if "max" in r:
        m = r["max"]
        print(
            f"max rate (closed loop, {CLIENTS} clients): {m['rate']:.0f}/s  answer {ms(m['answer'])}  "
            f"non-2xx {m['not_2xx']}  [load {r['load_before_max']}]"
        )
    print(
        f"open loop: target {o['rate_target']}/s  scheduled {o['rate_scheduled']}/s  achieved {o['rate_achieved']}/s"
        f"  {'OK' if o['rate_ok'] else 'CLIENT-BOUND (achieved rate off by > 2 %)'}  [load {r['load_before_open']}]"
    )
    print(f"  send lateness      {ms(o['send_lateness'])}")
    print(f"  POST -> route      {ms(o['post_to_route'])}")
    print(f"  schedule -> route  {ms(o['schedule_to_route'])}")
    print(f"  POST -> answer     {ms(o['answer'])}")
    print(f"  answer -> route    {ms(o['answer_to_route'])}")
    print(
        f"  2xx {o['ok']}  non-2xx {o['not_2xx']}  failed {o['failed']}  routes missing {o['routes_missing']}  "
        f"monitor overruns {o['monitor_overruns']}  connections {o['connections_opened']}  cpu s {o['cpu_s']}"
    )
    c = o["reconciles"]
    print(
        f"  reconciles during the loop: {c['runs']} runs, {c['seconds']} s in them, "
        f"{c['registrations_per_run']} registrations per run"
    )
    if o["errors_sample"]:
        print(f"  errors e.g. {o['errors_sample']}")
    print(f"peer (trivial endpoint, same schedule): achieved {p['rate_achieved']}/s  lateness {ms(p['send_lateness'])}")
    print(
        f"  POST -> answer     {ms(p['answer'])}  non-2xx {p['not_2xx']}  failed {p['failed']}"
        f"  [load {r['load_before_peer']}, after {r['load_after']}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the open loop")
    parser.add_argument("--rate", type=float, default=0.0, help="open-loop rate (default: half the measured maximum)")
    parser.add_argument("--max-seconds", type=float, default=3.0, help="length of the closed-loop maximum")
    parser.add_argument("--arrivals", choices=("fixed", "poisson"), default="fixed")
    parser.add_argument("--seed", type=int, default=1, help="seed of the Poisson arrivals")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("needs root (a network namespace, routes in it): sudo .venv/bin/python -m bench.openloop")
    # SIGTERM unwinds like Ctrl-C: the server, its database, the temporary directory and the namespace holder go too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # The route monitor's thread and the sending loop share this process's GIL: at the default 5 ms switch interval
    # a send, or a notification's time stamp, could wait up to 5 ms behind the other thread.
    sys.setswitchinterval(0.0005)
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results = []
    for kind in kinds:
        results.append(run_db(kind, args))
        report(results[-1])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
