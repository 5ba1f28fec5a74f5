"""Two controller processes adding overlapping pools at the same moment: one wins, the other gets 409."""

from __future__ import annotations

import threading
import time
from ipaddress import IPv4Network

from hubnet.server.db.migrate import upgrade
from hubnet.server.db.uow import Database
from hubnet.server.domain.errors import HubnetError, PoolOverlaps
from hubnet.server.services import pools
from hubnet.server.services.context import Controller
from hubnet.server.settings import Settings
from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, sql


def test_concurrent_overlapping_pools_cannot_both_be_added(databases: Databases, db_kind: str) -> None:
    url = fresh_db(databases, db_kind)
    upgrade(url)
    settings = Settings(database_url=url, admin_tokens=("admin",))
    first, second = (Controller(db=Database(url), settings=settings) for _ in range(2))  # two "processes"
    holder = Database(url)
    results: dict[str, object] = {}

    def add(ctl: Controller, cidr: str) -> None:
        try:
            results[cidr] = pools.add_pool(ctl, token="admin", cidr=cidr, node_prefix=24)
        except HubnetError as error:
            results[cidr] = error

    try:
        pools.ensure_pool(first, cidr=IPv4Network("10.244.0.0/16"), node_prefix=24)
        with holder.engines.writer.connect() as conn:
            conn.begin()  # a third writer holds the lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the pool rows) ...
            if db_kind != "sqlite":
                conn.exec_driver_sql("SELECT id FROM pools FOR UPDATE").all()
            threads = [
                threading.Thread(target=add, args=(first, "10.50.0.0/16")),
                threading.Thread(target=add, args=(second, "10.50.0.0/17")),
            ]
            for thread in threads:
                thread.start()
            time.sleep(0.5)  # ... while both add_pool calls queue behind it
            conn.rollback()
            for thread in threads:
                thread.join(timeout=30)
        errors = [r for r in results.values() if isinstance(r, HubnetError)]
        assert len(results) == 2 and len(errors) == 1, results
        assert isinstance(errors[0], PoolOverlaps) and errors[0].status == 409
        stored = {str(row[0]) for row in sql(url, "SELECT cidr FROM pools")}
        assert stored - {"10.244.0.0/16"} in ({"10.50.0.0/16"}, {"10.50.0.0/17"}), stored
    finally:
        for db in (first, second):
            db.close()
        holder.dispose()
