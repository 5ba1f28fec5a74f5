"""Registration throughput and latency of the real controller, against a trivial FastAPI endpoint in the same run.

    .venv/bin/python -m bench.registrations [--db sqlite|postgres|both] [--seconds 4] [--seed 60000] [--pairs 6]

Load: wrk, 2 threads, 64 connections, every request a distinct node (name, address, secret). For each database, two
fresh controllers on 10.0.0.0/8 with /25 per node (131,072 subnets). One is measured from 0 nodes in `--rounds`
windows of `--seconds` (the rate against the trivial endpoint), then filled through the API up to `--seed` nodes.
Then the rate at the seed against the rate at 0: `--pairs` pairs of `--pair-seconds` windows, one on each
controller, strictly alternating (A B A B ...), so a drift in the machine's speed (these machines swing 2x within
minutes) falls on both sides alike and every window follows one of the other controller (one unmeasured window each
goes first, after the fill); after every window its nodes are released through the admin API, so each window starts
at exactly 0 or exactly the seed. The pool is large enough that no window runs out of never-used subnets: both sides
take the same allocation path. The ratio is the median at the seed over the median at 0, with every pair's ratio
beside it.
The peer is a trivial POST endpoint (pydantic body, JSON answer)
under the same uvicorn, measured in the same run. Figures: requests/s, p50/p99 latency, non-2xx count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, VENV_BIN, free_port, median, process, wait_http

BOOTSTRAP = "bench-bootstrap-token"
ADMIN = "bench-admin-token"
CONNECTIONS = 64
# /25s of 10.0.0.0/8: 131,072 subnets, so the windows at 60,000 nodes (~4,000 registrations each, released after it)
# never exhaust the never-used subnets and take the same allocation path as the windows at 0.
NODE_PREFIX = 25

WRK_SCRIPT = r"""
counter = 0  -- global: done() reads it through thread:get
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  prefix = args[1]
  base = tonumber(args[2])
end
request = function()
  counter = counter + 1
  local n = base + tid * 500000 + counter
  local a = 172 * 16777216 + 16 * 65536 + n
  local addr = string.format("%d.%d.%d.%d", math.floor(a / 16777216) % 256, math.floor(a / 65536) % 256,
                             math.floor(a / 256) % 256, a % 256)
  local name = string.format("%s-%d-%d", prefix, tid, counter)
  local secret = string.format("%s%016x", string.rep("5a", 24), n)
  local body = string.format('{"name":"%s","address":"%s","secret":"%s"}', name, addr, secret)
  return wrk.format("POST", "/v1/nodes", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer BOOTSTRAP"}, body)
end
done = function(summary, latency, requests)
  local counts = {}
  for i, thread in ipairs(threads) do counts[i] = tostring(thread:get("counter")) end
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "sent": [%s]}\n', summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(counts, ",")))
end
""".replace("BOOTSTRAP", BOOTSTRAP)


def wrk(url: str, seconds: int, prefix: str, base: int, script: Path) -> dict[str, float]:
    return wrk_sent(url, seconds, prefix, base, script)[0]


def wrk_sent(url: str, seconds: int, prefix: str, base: int, script: Path) -> tuple[dict[str, float], list[int]]:
    """wrk's figures, and how many requests each of its threads generated (their names are then known)."""
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url, "--", prefix, str(base)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    figures = {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "non2xx": raw["non2xx"],
        "errors": raw["errors"],
    }
    return figures, [int(n) for n in raw["sent"]]


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir}/hubnet.db"
        return
    name = f"hubnet_bench_{secrets.token_hex(4)}"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc"]
    subprocess.run([*psql, f"CREATE DATABASE {name}"], check=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        subprocess.run([*psql, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


def controller_env(db_url: str, workdir: Path, port: int, node_prefix: int = 24) -> dict[str, str]:
    """A benchmark controller's settings: 10.0.0.0/8 by /24 (65,536 subnets) unless told, no route backend."""
    return {
        "HUBNET_DATABASE_URL": db_url,
        "HUBNET_STATE_DIR": str(workdir),
        "HUBNET_LISTEN": f"127.0.0.1:{port}",
        "HUBNET_CLUSTER_CIDR": "10.0.0.0/8",
        "HUBNET_NODE_PREFIX": str(node_prefix),
        "HUBNET_SERVICE_CIDR": "192.168.255.0/24",
        "HUBNET_BOOTSTRAP_TOKENS": BOOTSTRAP,
        "HUBNET_ADMIN_TOKENS": ADMIN,
        "HUBNET_ROUTE_BACKEND": "none",
        "HUBNET_LOG_LEVEL": "warning",
    }


@contextmanager
def controller(db_url: str, workdir: Path) -> Iterator[str]:
    port = free_port()
    env = controller_env(db_url, workdir, port, NODE_PREFIX)
    with process([str(VENV_BIN / "hubnet"), "server"], env, workdir / "controller.log"):
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", timeout=60)
        yield url


@contextmanager
def trivial() -> Iterator[str]:
    port = free_port()
    cmd = [str(VENV_BIN / "uvicorn"), "bench.trivial_app:app", "--port", str(port), "--log-level", "warning"]
    cmd.append("--no-access-log")
    with tempfile.TemporaryDirectory() as tmp, process(cmd, {"PYTHONPATH": str(ROOT)}, Path(tmp) / "trivial.log"):
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz")
        yield url


async def _each(url: str, token: str, calls: Sequence[tuple[str, str, dict[str, str] | None]], ok: set[int]) -> None:
    """Every (method, path, JSON body) call through the API, 64 at a time (setup, not measured); an answer outside
    `ok` raises."""
    limits = httpx.Limits(max_connections=CONNECTIONS)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as client:
        sem = asyncio.Semaphore(CONNECTIONS)

        async def one(method: str, path: str, body: dict[str, str] | None) -> None:
            async with sem:
                response = await client.request(method, path, json=body)
            if response.status_code not in ok:
                raise RuntimeError(f"{method} {path} failed: {response.status_code} {response.text}")

        await asyncio.gather(*(one(*call) for call in calls))


async def seed_nodes(url: str, start: int, count: int) -> None:
    """Register `count` nodes through the API, 64 at a time (setup, not measured)."""
    calls = []
    for i in range(start, start + count):
        addr = f"100.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"  # 100.64.0.0/10: unique, outside every pool
        calls.append(("POST", "/v1/nodes", {"name": f"seed-{i}", "address": addr, "secret": f"{'7b' * 24}{i:016x}"}))
    await _each(url, BOOTSTRAP, calls, {200, 201})


def allocated(url: str) -> int:
    body = httpx.get(f"{url}/v1/pools", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    items = body["items"] if isinstance(body, dict) else body
    return sum(int(p["allocated"]) for p in items)


async def forget(url: str, prefix: str, sent: list[int]) -> None:
    """Release a window's nodes through the admin API (setup, not measured), so the next window starts where this
    one did: every name wrk generated, thread by thread (one still in flight when wrk stopped may be 404)."""
    names = [f"{prefix}-{tid}-{n}" for tid, count in enumerate(sent) for n in range(1, count + 1)]
    await _each(url, ADMIN, [("DELETE", f"/v1/nodes/{name}", None) for name in names], {204, 404})


def window(url: str, seconds: int, prefix: str, base: int, script: Path) -> dict[str, float]:
    """One measured window, then its nodes released: the table is the same size before every window."""
    result, sent = wrk_sent(url, seconds, prefix, base, script)
    asyncio.run(forget(url, prefix, sent))
    return result


def fill(url: str, seed: int, script: Path) -> int:
    """Register nodes until `seed` are live (setup, not measured): wrk's 1 s windows while far from it, then the
    last ones one by one through the API; how many are live."""
    for i in range(1_000):
        if allocated(url) >= seed - 8_000:
            break
        wrk(url, 1, f"p{i}", 2_000_000 + i * 2_500, script)  # addresses no measured window uses
    have = allocated(url)
    asyncio.run(seed_nodes(url, 0, max(0, seed - have)))
    return allocated(url)


@dataclass
class RunResult:
    db: str
    seeded: int
    peer: list[dict[str, float]]
    zero: list[dict[str, float]]
    empty: list[dict[str, float]]  # the interleaved windows at 0 nodes
    at_seed: list[dict[str, float]]  # ... and at the seed, each beside the matching `empty` window


def run_db(kind: str, seconds: int, seed: int, rounds: int, pairs: int, pair_seconds: int, script: Path) -> RunResult:
    with (
        tempfile.TemporaryDirectory(prefix="hubnet-bench-") as tmp,
        tempfile.TemporaryDirectory(prefix="hubnet-bench-") as tmp_full,
        database(kind, Path(tmp)) as db_url,
        database(kind, Path(tmp_full)) as full_db_url,
        trivial() as peer_url,
        controller(db_url, Path(tmp)) as url,
        controller(full_db_url, Path(tmp_full)) as full_url,
    ):
        zero: list[dict[str, float]] = []
        peer: list[dict[str, float]] = []
        for r in range(rounds):  # on the controller about to be seeded: these registrations count towards the seed
            peer.append(wrk(peer_url, seconds, f"t{r}", 0, script))
            zero.append(wrk(full_url, seconds, f"z{r}", r * 20_000, script))
        seeded = fill(full_url, seed, script)
        empty: list[dict[str, float]] = []
        at_seed: list[dict[str, float]] = []
        for target, prefix in ((url, "wa"), (full_url, "wb")):  # unmeasured: the empty one sat idle during the fill
            window(target, 1, prefix, 90_000, script)
        for r in range(pairs):  # A B A B ...: every window follows one of the other controller (A B B A would let
            # the repeated one start warm: PostgreSQL's pairs alternated 0.7x / 1.0x so)
            into_empty = window(url, pair_seconds, f"e{r}", 100_000 + r * 20_000, script)
            into_seed = window(full_url, pair_seconds, f"s{r}", 100_000 + r * 20_000, script)
            empty.append(into_empty)
            at_seed.append(into_seed)
    return RunResult(kind, seeded, peer, zero, empty, at_seed)


def summarize(result: RunResult) -> dict[str, Any]:
    def med(runs: list[dict[str, float]], key: str) -> float:
        return median([run[key] for run in runs])

    peer, zero, at_seed = med(result.peer, "rps"), med(result.zero, "rps"), med(result.at_seed, "rps")
    empty = med(result.empty, "rps")
    pair_ratios = [s["rps"] / e["rps"] for s, e in zip(result.at_seed, result.empty, strict=True)]
    return {
        "db": result.db,
        "trivial_rps": round(peer),
        "reg_rps_0": round(zero),
        "p50_ms_0": round(med(result.zero, "p50_ms"), 1),
        "p99_ms_0": round(med(result.zero, "p99_ms"), 1),
        "ratio_vs_trivial": round(zero / peer, 2),
        "seeded_nodes": result.seeded,
        "reg_rps_seeded": round(at_seed),
        "p50_ms_seeded": round(med(result.at_seed, "p50_ms"), 1),
        "p99_ms_seeded": round(med(result.at_seed, "p99_ms"), 1),
        "reg_rps_0_paired": round(empty),
        "seeded_vs_0": round(at_seed / empty, 2),
        "pair_ratios": [round(x, 2) for x in pair_ratios],
        "non2xx_or_errors": int(
            sum(run["non2xx"] + run["errors"] for run in result.zero + result.empty + result.at_seed)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=6, help="interleaved window pairs at 0 and at the seed")
    parser.add_argument("--pair-seconds", type=int, default=2)
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        rows = [
            summarize(run_db(k, args.seconds, args.seed, args.rounds, args.pairs, args.pair_seconds, Path(script.name)))
            for k in kinds
        ]
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
