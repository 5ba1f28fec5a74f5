"""A fleet of node clients behind a lossy link (run inside the client namespace by test_lossy_link.py):
`python -m tests.chaos.lossy_client URL BOOTSTRAP COUNT HEARTBEATS WORKERS` prints one JSON report.

Each node registers (same name + secret on every retry: idempotent), then heartbeats HEARTBEATS times. Any
transport error, timeout, 429 or 5xx is retried with a short jittered back-off, on a fresh connection, as an agent
would; any other answer ends that node with an error."""

from __future__ import annotations

import json
import random
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

DEADLINE = 240.0  # per node: give up (and report) rather than hang the test


def call(url: str, path: str, bearer: str, body: dict[str, Any] | None, tally: dict[str, int]) -> httpx.Response:
    started = time.monotonic()
    while True:
        tally["attempts"] += 1
        try:
            with httpx.Client(base_url=url, timeout=4.0) as http:
                resp = http.post(path, json=body, headers={"Authorization": f"Bearer {bearer}"})
            if resp.status_code < 500 and resp.status_code != 429:
                return resp
        except httpx.TransportError:
            pass
        tally["retries"] += 1
        if time.monotonic() - started > DEADLINE:
            raise TimeoutError(f"{path}: no answer in {DEADLINE}s")
        time.sleep(random.uniform(0.05, 0.3))


def node(url: str, token: str, i: int, heartbeats: int) -> dict[str, Any]:
    name, secret = f"lossy-{i}", secrets.token_urlsafe(32)
    tally = {"attempts": 0, "retries": 0}
    body = {"name": name, "address": f"172.16.{1 + i // 250}.{1 + i % 250}", "secret": secret}
    try:
        resp = call(url, "/v1/nodes", token, body, tally)
        if resp.status_code not in (200, 201):
            return {"name": name, "error": f"register: {resp.status_code} {resp.text}", **tally}
        subnet = resp.json()["subnet"]
        for _ in range(heartbeats):
            beat = call(url, f"/v1/nodes/{name}/heartbeat", secret, None, tally)
            if beat.status_code != 200 or beat.json()["subnet"] != subnet:
                return {"name": name, "error": f"heartbeat: {beat.status_code} {beat.text}", **tally}
    except TimeoutError as exc:
        return {"name": name, "error": str(exc), **tally}
    return {"name": name, "subnet": subnet, "error": None, **tally}


def main() -> None:
    url, token, count, heartbeats, workers = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda i: node(url, token, i, heartbeats), range(count)))
    print(json.dumps({"seconds": time.monotonic() - started, "nodes": results}))


if __name__ == "__main__":
    main()
