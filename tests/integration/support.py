"""Integration helpers: fresh databases (SQLite file / a new PostgreSQL database) and a real `hubnet server`."""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from hubnet.server.services.context import Controller

PG_HOST = os.environ.get("HUBNET_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
HUBNET = str(Path(sys.executable).with_name("hubnet"))


def pg_available() -> bool:
    import psycopg

    try:
        psycopg.connect(_libpq(f"{PG_HOST}/test"), connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(f"{PG_HOST}/test"), autocommit=True) as conn:
        conn.execute(sql.encode())


@dataclass
class Databases:
    """Hands out empty databases; every PostgreSQL database it created is dropped at the end of the session."""

    root: Path
    session: str = field(default_factory=lambda: secrets.token_hex(3))
    created: list[str] = field(default_factory=list)

    def new(self, kind: str) -> str:
        n = len(self.created) + 1
        if kind == "sqlite":
            path = self.root / f"db{n}-{secrets.token_hex(2)}" / "hubnet.db"
            path.parent.mkdir(parents=True)
            self.created.append(str(path))
            return f"sqlite:///{path}"
        name = f"hubnet_test_{self.session}_{n}"
        _admin_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"{PG_HOST}/{name}"

    def drop_all(self) -> None:
        for name in self.created:
            if name.startswith("hubnet_test_"):
                _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A real `hubnet server` process (uvicorn) on 127.0.0.1 and a free port."""

    db_url: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    admin: str = field(default_factory=lambda: "adm-" + secrets.token_urlsafe(16))
    bootstrap: str = field(default_factory=lambda: "boot-" + secrets.token_urlsafe(16))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    ca: Path | None = None  # set when the server serves HTTPS with a certificate this CA file verifies

    @property
    def url(self) -> str:
        return f"{'https' if self.ca else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca else True

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUBNET_")}
        env.update(
            HUBNET_DATABASE_URL=self.db_url,
            HUBNET_STATE_DIR=str(self.log_dir),
            HUBNET_LISTEN=f"127.0.0.1:{self.port}",
            HUBNET_ADMIN_TOKENS=self.admin,
            HUBNET_BOOTSTRAP_TOKENS=self.bootstrap,
            HUBNET_ROUTER_ADDRESS="192.168.255.254",
            HUBNET_SERVICE_CIDR="10.96.0.0/12",
            HUBNET_ROUTE_BACKEND="none",
            HUBNET_LOG_LEVEL="warning",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting (several servers can then start at the same time)."""
        self.starts += 1
        log = open(self.log_dir / f"server-{self.port}-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def command(self) -> list[str]:
        """The server's command line (a subclass may run it inside a namespace)."""
        return [HUBNET, "server"]

    def answers_ready(self) -> bool:
        """One readiness probe: /readyz answers 200 (a subclass may probe another way)."""
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1, verify=self.verify).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 30) -> None:
        """Until /readyz answers 200; the process is killed when it does not come up (no stray servers)."""
        assert self.proc is not None
        try:
            self._poll_ready(timeout)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def _poll_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hubnet server exited with {self.proc.returncode}: {self.log_tail()}")
            if self.answers_ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"hubnet server not ready in {timeout}s: {self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=5)

    def log_tail(self) -> str:
        logs = sorted(self.log_dir.glob(f"server-{self.port}-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=self.verify)


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """The server runs inside the block and is stopped afterwards, also when starting it failed half-way."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


def run_hubnet(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI with no HUBNET_* variable but `env`; stderr with typer's box and line wrapping flattened to one
    line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUBNET_")}
    done = subprocess.run(
        [HUBNET, *args], env={**clean, "COLUMNS": "400", **env}, capture_output=True, text=True, timeout=60
    )
    done.stderr = " ".join(re.sub("[│╭╮╰╯─]", " ", done.stderr).split())
    return done


def new_secret() -> str:
    return secrets.token_urlsafe(32)


_addresses = itertools.count(1)


def unique_address() -> str:
    """An underlay address no other call in this test process returned (172.16.0.0/12)."""
    n = next(_addresses)
    return str(ipaddress.IPv4Address("172.16.0.0") + n)


def node_body(i: int, *, prefix: str = "n", secret: str | None = None) -> dict[str, Any]:
    """A valid registration for node number i: name `<prefix>-<i>` and an address unique in this process."""
    return {"name": f"{prefix}-{i}", "address": unique_address(), "secret": secret or new_secret()}


def sql(db_url: str, statement: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement against the database directly (observation and fault injection)."""
    from sqlalchemy import create_engine, pool, text

    engine = create_engine(db_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params or {})
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


@contextmanager
def without_overlap_guard(db_url: str) -> Iterator[None]:
    """SQLite: the database as it was before migration 0011b (no overlap triggers) inside the block, to inject the
    overlaps an older database may hold; the guard is back afterwards (it does not re-check stored rows)."""
    from hubnet.server.db.overlap_guard import create_statements, drop_statements

    if not db_url.startswith("sqlite"):
        raise ValueError("PostgreSQL's exclusion constraints are not lifted for a test")
    for statement in drop_statements():
        sql(db_url, statement)
    try:
        yield
    finally:
        for statement in create_statements():
            sql(db_url, statement)


class ManualClock:
    """A clock the test moves by hand (`clock.now += 30`): lease expiry without sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def clocked_controller(url: str, clock: ManualClock, **settings: Any) -> Controller:
    """A service-layer Controller over the migrated database at `url`, on `clock`, with the pool 10.244.0.0/16 and
    the tokens `boot` (bootstrap) and `admin`; `settings` override the rest (lease TTL, grace, reaper interval)."""
    from hubnet.server.db.migrate import upgrade
    from hubnet.server.db.uow import Database
    from hubnet.server.services import pools
    from hubnet.server.services.context import Controller
    from hubnet.server.settings import Settings

    upgrade(url)
    config = Settings(
        database_url=url,
        cluster_cidr=ipaddress.IPv4Network("10.244.0.0/16"),
        router_address=ipaddress.IPv4Address("192.168.255.254"),
        bootstrap_tokens=("boot",),
        admin_tokens=("admin",),
        **settings,
    )
    controller = Controller(db=Database(url, clock=clock), settings=config)
    pools.ensure_pool(controller, cidr=config.cluster_cidr, node_prefix=24)
    return controller
