"""The 64 KiB body cap holds with bounded memory: a 256 MiB streamed (chunked) body and many oversized declared
ones get 413 (or a closed connection once the answer is out) while the controller's resident memory barely moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, running

CHUNK = b"x" * 65536


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def capped(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(Server(fresh_db(databases, "sqlite"), Path(tmp_path_factory.mktemp("cap")))) as srv:
        yield srv


@pytest.mark.timeout(120)
def test_huge_bodies_are_refused_with_bounded_memory(capped: Server) -> None:
    assert capped.proc is not None
    with capped.client(capped.bootstrap) as warm:  # the first requests load code: measure after them
        for _ in range(3):
            warm.post("/v1/nodes", json={"name": "x"})
    before = _rss_kib(capped.proc.pid)

    def stream() -> Iterator[bytes]:
        for _ in range(4096):  # 256 MiB
            yield CHUNK

    outcomes = []
    with capped.client(capped.bootstrap) as client:
        try:
            outcomes.append(client.post("/v1/nodes", content=stream()).status_code)
        except httpx.TransportError:  # the server answered 413 and closed while we were still sending
            outcomes.append("closed")
        for _ in range(20):
            declared = client.post("/v1/nodes", content=CHUNK * 16, headers={"content-type": "application/json"})
            outcomes.append(declared.status_code)
    grown = _rss_kib(capped.proc.pid) - before
    assert outcomes[0] in (413, "closed") and outcomes[1:] == [413] * 20, outcomes
    assert grown < 16 * 1024, f"resident memory grew by {grown} KiB"
    assert httpx.get(f"{capped.url}/healthz", timeout=5).status_code == 200
