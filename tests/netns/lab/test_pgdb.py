"""The HA lab's PostgreSQL (hubnet.lab.pgdb) in a namespace of its own: a private cluster in a root-only state
directory, run as `postgres`, answering on the namespace's underlay addresses only, stopped without leaving a
process or a shared memory segment behind.
"""

from __future__ import annotations

import pwd
import secrets
import shutil
import stat
import subprocess
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from hubnet.lab import pgdb, procs
from hubnet.lab.errors import PrerequisiteMissing
from hubnet.lab.plan import UNDERLAY, UNDERLAY6
from tests.support.netns import netns, sh
from tests.support.prereq import need, need_root_netns

pytestmark = pytest.mark.netns

V4, V6 = "192.168.1.6", "fd00:192:168:1::6"


def _have_postgres() -> bool:
    try:
        pgdb.bindir()
        pwd.getpwnam("postgres")
    except (PrerequisiteMissing, KeyError):
        return False
    return shutil.which("psql") is not None and shutil.which("setpriv") is not None


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A lab-like state directory (root's, 0700) under /run: pytest's own tmp_path sits in a directory the
    postgres user cannot pass through, as the lab's /run/hubnet-lab/<name> is not."""
    need_root_netns()
    need(_have_postgres(), "needs PostgreSQL (initdb, pg_ctl, psql), setpriv and the postgres user")
    root = Path("/run") / f"hnt-pg-{secrets.token_hex(3)}"
    root.mkdir(mode=0o755)
    lab = root / "lab"
    lab.mkdir(mode=0o700)
    try:
        yield lab
    finally:
        shutil.rmtree(root, ignore_errors=True)


def psql(ns: str, host: str) -> subprocess.CompletedProcess[str]:
    return sh("psql", "-h", host, "-U", "postgres", "-d", "hubnet", "-Atc", "select 1", ns=ns, check=False)


def shared_memory_of(user: str) -> list[str]:
    """SysV shared memory segments owned by `user` (`ipcs -m`): what a killed server would leave behind."""
    out = subprocess.run(["ipcs", "-m"], capture_output=True, text=True, check=False).stdout
    return [line.split()[1] for line in out.splitlines() if len(line.split()) > 2 and line.split()[2] == user]


def test_private_cluster_on_the_underlay_started_and_stopped_cleanly(state_dir: Path) -> None:
    before = set(shared_memory_of("postgres"))
    with netns("pgdb") as ns:
        sh("ip", "link", "add", "hnlab-up0", "type", "veth", "peer", "name", "hnt-peer", ns=ns)
        for link in ("hnlab-up0", "hnt-peer"):
            sh("ip", "link", "set", link, "up", ns=ns)
        sh("ip", "addr", "add", f"{V4}/24", "dev", "hnlab-up0", ns=ns)
        sh("ip", "addr", "add", f"{V6}/64", "dev", "hnlab-up0", "nodad", ns=ns)
        sh("ip", "addr", "add", "10.9.9.9/32", "dev", "lo", ns=ns)  # an address of the namespace off the underlay
        db = pgdb.LabDatabase(
            ns, state_dir / "db", state_dir / "logs" / "db.log", [ip_address(V4), ip_address(V6)], [UNDERLAY, UNDERLAY6]
        )
        try:
            pid = db.start()
            assert db.pid() == pid and pid in procs.pids_in_netns([ns])
            assert psql(ns, V4).stdout.strip() == "1"
            assert psql(ns, V6).stdout.strip() == "1"
            refused = psql(ns, "10.9.9.9")
            assert refused.returncode != 0 and "refused" in refused.stderr  # listens on the underlay only
            data = (state_dir / "db").stat()
            assert pwd.getpwuid(data.st_uid).pw_name == "postgres" and stat.S_IMODE(data.st_mode) == 0o700
            assert stat.S_IMODE(state_dir.stat().st_mode) == 0o710  # root's, the postgres group may pass through
        finally:
            db.stop()
        assert db.pid() is None
        assert procs.pids_in_netns([ns]) == []
    assert set(shared_memory_of("postgres")) - before == set()  # the server removed its segment
