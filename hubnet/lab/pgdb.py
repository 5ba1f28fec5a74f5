"""PostgreSQL for the HA lab: a private cluster in the lab's state directory, served from the database namespace
on the underlay, started by `up`, stopped and removed by `down`.

initdb refuses to run as root, so initdb, pg_ctl and createdb run as `postgres` (through `setpriv`: no PAM
session, the command execs in place). The lab's state directory (root's, 0700: it holds the tokens) lets the
postgres group through (0710) and no one else; the cluster directory is postgres's own (0700). The server listens
on the namespace's underlay address(es) and on a socket inside the cluster directory — never
/var/run/postgresql, the machine's own cluster's — and trusts user `postgres` from the lab underlay only.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from collections.abc import Sequence
from pathlib import Path

from hubnet.lab import procs
from hubnet.lab.errors import LabError, PrerequisiteMissing
from hubnet.lab.plan import DB_NAME, DB_PORT, DB_USER
from hubnet.net import Address, Network

PG_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def bindir(root: Path = PG_ROOT) -> Path:
    """The newest installed PostgreSQL's bin directory (with initdb and pg_ctl); PrerequisiteMissing otherwise."""
    found = [d / "bin" for d in root.glob("*") if (d / "bin" / "initdb").exists() and (d / "bin" / "pg_ctl").exists()]
    if not found:
        raise PrerequisiteMissing(
            f"the HA lab needs PostgreSQL ({root}/<version>/bin/initdb): apt-get install postgresql"
        )
    return max(found, key=lambda d: _version(d.parent.name))


def require() -> None:
    """PostgreSQL's server programs, the `postgres` user and setpriv exist; PrerequisiteMissing otherwise."""
    bindir()
    try:
        pwd.getpwnam(DB_USER)
    except KeyError:
        raise PrerequisiteMissing(f"the HA lab runs PostgreSQL as the user {DB_USER!r}, which does not exist") from None
    if shutil.which("setpriv") is None:
        raise PrerequisiteMissing("the HA lab needs setpriv (runs PostgreSQL as postgres): apt-get install util-linux")


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def hba(networks: Sequence[Network]) -> str:
    """pg_hba.conf: `postgres` without a password from the lab underlay (the controllers), peer on the socket."""
    lines = [
        "# hubnet lab: the controllers connect over the lab underlay as postgres, without a password; the server",
        "# listens only there (and on a socket in its own directory), so nothing outside the lab reaches it.",
        "local   all   postgres   peer",
        *(f"host    all   {DB_USER}   {net}   trust" for net in networks),
    ]
    return "\n".join(lines) + "\n"


def server_settings(listen: Sequence[Address], socket_dir: Path, port: int = DB_PORT) -> str:
    """The lines appended to postgresql.conf."""
    return f"""
# hubnet lab
listen_addresses = '{",".join(str(a) for a in listen)}'
port = {port}
unix_socket_directories = '{socket_dir}'
# dynamic shared memory in the cluster directory: nothing is left in /dev/shm if the server is killed
dynamic_shared_memory_type = mmap
# two controllers hold up to 33 connections each (pool 16 + overflow 16 + the LISTEN connection)
max_connections = 200
"""


class LabDatabase:
    """The cluster in `datadir`, served from namespace `netns` on `listen`; output in `log`."""

    def __init__(
        self, netns: str, datadir: Path, log: Path, listen: Sequence[Address], networks: Sequence[Network]
    ) -> None:
        self.netns = netns
        self.datadir = datadir
        self.log = log
        self.listen = list(listen)
        self.networks = list(networks)

    def start(self) -> int:
        """initdb, configure, start, create the database; the postmaster's pid. LabError with the log tail."""
        bin_ = bindir()
        self._prepare()
        self._run([str(bin_ / "initdb"), "-D", str(self.datadir), "-U", DB_USER, "-E", "UTF8", "--locale=C", "-N"])
        (self.datadir / "pg_hba.conf").write_text(hba(self.networks))
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(server_settings(self.listen, self.datadir))
        start = [str(bin_ / "pg_ctl"), "start", "-D", str(self.datadir), "-l", str(self.log), "-w"]
        self._run([*start, "-t", f"{START_TIMEOUT:.0f}"])
        pid = self.pid()
        if pid is None:
            raise LabError(f"PostgreSQL in {self.netns} wrote no postmaster.pid{self._tail()}")
        self._run([str(bin_ / "createdb"), "-h", str(self.datadir), "-p", str(DB_PORT), "-U", DB_USER, DB_NAME])
        return pid

    def pid(self) -> int | None:
        """The postmaster's pid while it runs (first line of postmaster.pid)."""
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None
        return pid if procs.alive(pid) else None

    def stop(self) -> None:
        """`pg_ctl stop -m fast` (clients cut, a clean shutdown); the postmaster killed if that fails. Idempotent."""
        pid = self.pid()
        if pid is None:
            return
        try:
            stop = [str(bindir() / "pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w"]
            self._run([*stop, "-t", f"{STOP_TIMEOUT:.0f}"], netns=None)
        except (LabError, TimeoutError):
            procs.stop([pid])

    def _prepare(self) -> None:
        """The state directory lets the postgres group through; the cluster directory and the log are postgres's."""
        user = pwd.getpwnam(DB_USER)
        parent = self.datadir.parent
        os.chown(parent, 0, grp.getgrnam(DB_USER).gr_gid)
        parent.chmod(0o710)
        self.datadir.mkdir(mode=0o700)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch(mode=0o600)
        for path in (self.datadir, self.log):
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, argv: list[str], netns: str | None = "", timeout: float = START_TIMEOUT + 10) -> str:
        """`argv` as postgres, in the database namespace (or `netns`: None runs it here); its output."""
        as_postgres = ["setpriv", f"--reuid={DB_USER}", f"--regid={DB_USER}", "--init-groups", "--", *argv]
        env = {"HOME": pwd.getpwnam(DB_USER).pw_dir, "LC_ALL": "C"}
        code, out = procs.run(self.netns if netns == "" else netns, as_postgres, timeout=timeout, env=env)
        if code != 0:
            raise LabError(f"{Path(argv[0]).name} failed (exit {code}): {out[-800:]}{self._tail()}")
        return out

    def _tail(self, lines: int = 10) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            return ""
        return f"; log tail of {self.log}:\n" + "\n".join(text) if text else ""


def remove(datadir: Path) -> None:
    """Delete the cluster directory (the server must be stopped)."""
    shutil.rmtree(datadir, ignore_errors=True)
