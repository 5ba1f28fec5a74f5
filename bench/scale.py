"""Per-call cost of `GET /v1/pools`, `/metrics` and `/readyz` at 0 and at 65,536 nodes, and the controller's memory.

    .venv/bin/python -m bench.scale [--db sqlite|postgres|both] [--calls 200]

For each database: a fresh controller (`hubnet server`, the real process) on 10.0.0.0/8 with /24 per node (65,536
subnets) is measured at 0 nodes; then 64,512 node rows are stored through the repository (one transaction per
4,096 rows: setup, not measured), the controller is started again on them (its start-up scan reads them all), the
last 1,024 nodes register through the API (so the registration path has run too, the pool is full), and the three
endpoints are measured again. Each endpoint: `--calls` sequential calls on one keep-alive connection after 20
warm-up calls, p50/p99 in ms. Memory: the controller's VmRSS and VmHWM (peak) from /proc, after start, after the
registrations and after the reads. O(pools) shows as the same latency at 0 and at 65,536 nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import httpx

from bench.common import VENV_BIN, free_port, process, wait_http
from bench.registrations import ADMIN, allocated, controller_env, database, seed_nodes

CLUSTER = "10.0.0.0/8"
NODES = 65_536
VIA_API = 1_024  # the last ones register through the API
CHUNK = 4_096
ENDPOINTS = ("/v1/pools", "/metrics", "/readyz")


@contextmanager
def controller(db_url: str, workdir: Path, tag: str) -> Iterator[tuple[str, int]]:
    """`hubnet server` on the database; yields (url, pid)."""
    port = free_port()
    env = controller_env(db_url, workdir, port)
    with process([str(VENV_BIN / "hubnet"), "server"], env, workdir / f"controller-{tag}.log") as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", timeout=300)
        yield url, proc.pid


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of the process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


def latencies(url: str, calls: int) -> dict[str, dict[str, float]]:
    found = {}
    headers = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for path in ENDPOINTS:
            times = []
            for i in range(20 + calls):
                start = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - start
                if response.status_code >= 500:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
                if i >= 20:
                    times.append(elapsed * 1000)
            times.sort()
            found[path] = {
                "p50_ms": round(times[len(times) // 2], 2),
                "p99_ms": round(times[int(len(times) * 0.99)], 2),
            }
    return found


def seed_rows(db_url: str, count: int) -> float:
    """Store `count` active nodes holding the first `count` /24s of the pool, through the repository; seconds."""
    from hubnet.server.db.uow import Database
    from hubnet.server.services.ports import UnitOfWork

    db = Database(db_url)
    started = time.perf_counter()
    try:
        base = IPv4Network(CLUSTER).network_address

        def insert(first: int, size: int) -> Any:
            def use_case(uow: UnitOfWork) -> None:
                pool_id = uow.repo.pools(lock=True)[0].id
                for i in range(first, first + size):
                    uow.repo.insert_node(**_row(i, f"{base + i * 256}/24", pool_id, uow.now))
                uow.repo.set_high_water(pool_id, first + size)

            return use_case

        for first in range(0, count, CHUNK):
            ((ok, error),) = db.write_batch([insert(first, min(CHUNK, count - first))])
            if not ok:
                raise RuntimeError(f"seeding failed: {error}")
    finally:
        db.dispose()
    return time.perf_counter() - started


def _row(i: int, subnet: str, pool_id: int, now: float) -> dict[str, Any]:
    secret = f"{'7b' * 24}{i:016x}"
    return {
        "name": f"seed-{i}",
        "address": f"100.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}",  # 100.64.0.0/10: outside every pool
        "machine_id": None,
        "subnet": subnet,
        "pool_id": pool_id,
        "state": "active",
        "generation": 1,
        "secret_hash": hashlib.sha256(secret.encode()).hexdigest(),
        "expires_at": now + 3600,
        "released_at": None,
        "reissued": False,
        "route_state": "pending",
        "route_error": None,
        "created_at": now,
        "updated_at": now,
    }


def run_db(kind: str, calls: int) -> dict[str, Any]:
    result: dict[str, Any] = {"db": kind}
    with tempfile.TemporaryDirectory(prefix="hubnet-bench-") as tmp, database(kind, Path(tmp)) as db_url:
        workdir = Path(tmp)
        with controller(db_url, workdir, "empty") as (url, pid):
            result["at_0"] = latencies(url, calls)
            result["mem_0"] = memory(pid)
        result["seed_seconds"] = round(seed_rows(db_url, NODES - VIA_API), 1)
        started = time.perf_counter()
        with controller(db_url, workdir, "seeded") as (url, pid):
            result["start_seconds"] = round(time.perf_counter() - started, 1)
            result["mem_after_start"] = memory(pid)
            asyncio.run(seed_nodes(url, NODES - VIA_API, VIA_API))  # the stored rows' sequence, continued
            result["nodes"] = allocated(url)
            result["mem_after_registrations"] = memory(pid)
            result["at_65536"] = latencies(url, calls)
            result["mem_after_reads"] = memory(pid)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    for kind in kinds:
        print(json.dumps(run_db(kind, args.calls)), flush=True)


if __name__ == "__main__":
    main()
