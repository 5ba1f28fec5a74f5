"""Restarts never move a subnet: 200 nodes, 10 restarts (half SIGTERM, half kill -9), 0 subnet changes."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, node_body


def _subnets(server: Server) -> dict[str, tuple[str, int]]:
    with server.client(server.admin) as admin:
        items = admin.get("/v1/nodes", params={"limit": 1000}).json()["items"]
    return {n["name"]: (n["subnet"], n["generation"]) for n in items}


def test_200_nodes_survive_10_restarts(databases: Databases, db_kind: str, tmp_path: Path) -> None:
    server = Server(fresh_db(databases, db_kind), tmp_path, extra_env={"HUBNET_LOG_LEVEL": "info"})
    bodies = [node_body(i, prefix="rs") for i in range(200)]
    server.start()
    try:
        with server.client(server.bootstrap) as boot, ThreadPoolExecutor(8) as pool:
            assert {r.status_code for r in pool.map(lambda b: boot.post("/v1/nodes", json=b), bodies)} == {201}
        before = _subnets(server)
        assert len(before) == 200 and len({s for s, _ in before.values()}) == 200
        for round_ in range(10):
            if round_ % 2 == 0:
                # uvicorn shuts down gracefully, then re-raises SIGTERM to exit with the conventional status
                assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
                assert "Application shutdown complete" in server.log_tail()
            else:
                assert server.stop(signal.SIGKILL) == -signal.SIGKILL
            server.start()
            assert _subnets(server) == before, f"subnets changed after restart {round_ + 1}"
            # a slice of the nodes re-joins after each restart (what agents do): same subnet, same generation
            with server.client(server.bootstrap) as boot:
                for body in bodies[round_ * 20 : round_ * 20 + 20]:
                    answer = boot.post("/v1/nodes", json=body)
                    assert answer.status_code == 200, answer.text
                    assert (answer.json()["subnet"], answer.json()["generation"]) == before[body["name"]]
        assert _subnets(server) == before
    finally:
        server.stop()
