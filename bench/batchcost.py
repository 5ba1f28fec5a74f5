"""What a write batch of registrations costs the writer, by batch size: no HTTP, no event loop, one thread.

    .venv/bin/python -m bench.batchcost [--db sqlite|postgres|both] [--sizes 1,4,16,64] [--registrations 1024]
                                        [--pool fresh|full]

Per database, a fresh database (SQLite file, or a PostgreSQL database made and dropped as bench/registrations.py
does) and a controller on 10.0.0.0/8 by /24; registrations (distinct names and underlay addresses) run through
`Database.write_batch` in batches of each size, after 20 warm-up batches. Figures per size: CPU of this process
(`time.process_time`) and wall time, per batch and per registration. Why: at the open loop's rate batches are
small, and a batch's fixed cost (its statements, its commit) decides the controller's CPU per registration there.

`--pool full`: the pool is 10.0.0.0/12 by /24 (4,096 subnets), filled first; each measured batch is preceded by an
unmeasured one releasing as many nodes, so every registration takes the reuse path (the longest-released subnet).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from bench.registrations import database
from hubnet.server.db.migrate import upgrade
from hubnet.server.db.uow import Database
from hubnet.server.services import nodes, pools
from hubnet.server.services.context import Controller
from hubnet.server.settings import Settings

WARMUP_BATCHES = 20


def measure(url: str, sizes: list[int], registrations: int, full: bool = False) -> list[dict[str, Any]]:
    upgrade(url)
    settings = Settings(
        database_url=url,
        cluster_cidrs=(IPv4Network("10.0.0.0/12" if full else "10.0.0.0/8"),),
        bootstrap_tokens=("boot",),
        admin_tokens=("admin",),
    )
    ctl = Controller(db=Database(url), settings=settings)
    try:
        pools.ensure_pool(ctl, cidr=settings.cluster_cidr, node_prefix=24)
        counter = iter(range(10**9))
        live: list[str] = []

        def run(jobs: list[Any]) -> None:
            for ok, value in ctl.db.write_batch(jobs):
                if not ok:
                    raise RuntimeError(f"a registration failed: {value!r}")

        def batch(size: int) -> None:
            jobs = []
            for _ in range(size):
                i = next(counter)
                address = f"172.{16 + i // 62_500}.{i // 250 % 250}.{i % 250 + 1}"
                live.append(f"bc-{i}")
                jobs.append(
                    nodes.register_job(
                        ctl, token="boot", name=f"bc-{i}", address=address, secret="s" * 43, machine_id=None
                    )
                )
            run(jobs)

        def release(size: int) -> None:
            run([nodes.delete_job(ctl, token="admin", name=live.pop(0)) for _ in range(size)])

        if full:
            for _ in range(64):
                batch(64)  # 4,096: every subnet handed out

        found = []
        for size in sizes:
            for _ in range(WARMUP_BATCHES):
                if full:
                    release(size)
                batch(size)
            count = max(1, registrations // size)
            cpu = wall = 0.0
            for _ in range(count):
                if full:
                    release(size)
                started_cpu, started = time.process_time(), time.perf_counter()
                batch(size)
                cpu, wall = cpu + time.process_time() - started_cpu, wall + time.perf_counter() - started
            found.append(
                {
                    "size": size,
                    "cpu_ms_per_batch": round(cpu / count * 1e3, 2),
                    "cpu_us_per_registration": round(cpu / (count * size) * 1e6),
                    "wall_us_per_registration": round(wall / (count * size) * 1e6),
                }
            )
        return found
    finally:
        ctl.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--sizes", default="1,4,16,64", help="batch sizes, comma-separated")
    parser.add_argument("--registrations", type=int, default=1024, help="registrations measured per size")
    parser.add_argument("--pool", choices=("fresh", "full"), default="fresh", help="never-used subnets or reuse")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        with tempfile.TemporaryDirectory(prefix="hubnet-bench-") as tmp, database(kind, Path(tmp)) as url:
            for row in measure(url, sizes, args.registrations, full=args.pool == "full"):
                print(json.dumps({"db": kind, "pool": args.pool, **row}))


if __name__ == "__main__":
    main()
