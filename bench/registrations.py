"""Registration throughput and latency of the real controller, against a trivial FastAPI endpoint in the same run.

    .venv/bin/python -m bench.registrations [--db sqlite|postgres|both] [--seconds 4] [--seed 60000]

Load: wrk, 2 threads, 64 connections, every request a distinct node (name, address, secret). For each database:
a fresh controller on 10.0.0.0/8 with /24 per node (65,536 subnets) is measured at 0 nodes, seeded through the
API up to `--seed` nodes, and measured again in 1 s windows (65,536 - 60,000 leaves room for ~5,500 more
registrations: longer windows would end in correct but unmeasurable `pool-exhausted` answers). The rate at the
seed is compared with 1 s windows at 0 nodes, measured first: a window that short starts with wrk's connections and
a cold controller, which a 4 s one hides; comparing windows of two lengths measured the window, not the table.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import ROOT, VENV_BIN, free_port, median, process, wait_http

BOOTSTRAP = "bench-bootstrap-token"
ADMIN = "bench-admin-token"
CONNECTIONS = 64

WRK_SCRIPT = r"""
local counter = 0
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
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n', summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
""".replace("BOOTSTRAP", BOOTSTRAP)


def wrk(url: str, seconds: int, prefix: str, base: int, script: Path) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url, "--", prefix, str(base)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "non2xx": raw["non2xx"],
        "errors": raw["errors"],
    }


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


def controller_env(db_url: str, workdir: Path, port: int) -> dict[str, str]:
    """A benchmark controller's settings: 10.0.0.0/8 by /24 (65,536 subnets), no route backend."""
    return {
        "HUBNET_DATABASE_URL": db_url,
        "HUBNET_STATE_DIR": str(workdir),
        "HUBNET_LISTEN": f"127.0.0.1:{port}",
        "HUBNET_CLUSTER_CIDR": "10.0.0.0/8",
        "HUBNET_NODE_PREFIX": "24",
        "HUBNET_SERVICE_CIDR": "192.168.255.0/24",
        "HUBNET_BOOTSTRAP_TOKENS": BOOTSTRAP,
        "HUBNET_ADMIN_TOKENS": ADMIN,
        "HUBNET_ROUTE_BACKEND": "none",
        "HUBNET_LOG_LEVEL": "warning",
    }


@contextmanager
def controller(db_url: str, workdir: Path) -> Iterator[str]:
    port = free_port()
    env = controller_env(db_url, workdir, port)
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


async def seed_nodes(url: str, start: int, count: int) -> None:
    """Register `count` nodes through the API, 64 at a time (setup, not measured)."""
    limits = httpx.Limits(max_connections=CONNECTIONS)
    headers = {"Authorization": f"Bearer {BOOTSTRAP}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as client:
        sem = asyncio.Semaphore(CONNECTIONS)

        async def one(i: int) -> None:
            addr = f"100.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"  # 100.64.0.0/10: unique, outside every pool
            body = {"name": f"seed-{i}", "address": addr, "secret": f"{'7b' * 24}{i:016x}"}
            async with sem:
                response = await client.post("/v1/nodes", json=body)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"seed registration {i} failed: {response.status_code} {response.text}")

        await asyncio.gather(*(one(i) for i in range(start, start + count)))


def allocated(url: str) -> int:
    body = httpx.get(f"{url}/v1/pools", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    items = body["items"] if isinstance(body, dict) else body
    return sum(int(p["allocated"]) for p in items)


@dataclass
class RunResult:
    db: str
    seeded: int
    peer: list[dict[str, float]]
    zero: list[dict[str, float]]
    zero_short: list[dict[str, float]]  # 1 s windows at 0 nodes, the seeded windows' length
    at_seed: list[dict[str, float]]


def run_db(kind: str, seconds: int, seed: int, rounds: int, script: Path) -> RunResult:
    with (
        tempfile.TemporaryDirectory(prefix="hubnet-bench-") as tmp,
        database(kind, Path(tmp)) as db_url,
        trivial() as peer_url,
        controller(db_url, Path(tmp)) as url,
    ):
        zero: list[dict[str, float]] = []
        zero_short: list[dict[str, float]] = []
        peer: list[dict[str, float]] = []
        at_seed: list[dict[str, float]] = []
        for r in range(rounds):  # first, while the table is empty: windows as long as the seeded ones
            zero_short.append(wrk(url, 1, f"y{r}", 80_000 + r * 5_000, script))
        for r in range(rounds):
            peer.append(wrk(peer_url, seconds, f"t{r}", 0, script))
            zero.append(wrk(url, seconds, f"z{r}", r * 20_000, script))
        have = allocated(url)
        asyncio.run(seed_nodes(url, 0, max(0, seed - have)))
        seeded = allocated(url)
        for r in range(rounds):
            peer.append(wrk(peer_url, seconds, f"u{r}", 0, script))
            at_seed.append(wrk(url, 1, f"s{r}", 100_000 + r * 20_000, script))
    return RunResult(kind, seeded, peer, zero, zero_short, at_seed)


def summarize(result: RunResult) -> dict[str, float | str | int]:
    def med(runs: list[dict[str, float]], key: str) -> float:
        return median([run[key] for run in runs])

    peer, zero, at_seed = med(result.peer, "rps"), med(result.zero, "rps"), med(result.at_seed, "rps")
    zero_short = med(result.zero_short, "rps")
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
        "reg_rps_0_1s": round(zero_short),
        "seeded_vs_0": round(at_seed / zero_short, 2),
        "seeded_vs_0_4s": round(at_seed / zero, 2),
        "non2xx_or_errors": int(
            sum(run["non2xx"] + run["errors"] for run in result.zero + result.zero_short + result.at_seed)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        rows = [summarize(run_db(k, args.seconds, args.seed, args.rounds, Path(script.name))) for k in kinds]
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
