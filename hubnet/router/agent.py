"""The router agent: the composition root of `hubnet router join`.

Three threads around one desired table: the feed follower (join, then the whole table, then long-polls for changes),
the programmer (the reconciler over the kernel table of the namespace the process runs in, on every change, on drift
and every `interval`), and the report sender (after a reconcile that changed something, and every
`report-interval`). SIGTERM stops them and leaves the routes in place: the next start reconciles, never flushes.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Sequence

from hubnet.node.agent.client import ControllerClient
from hubnet.node.agent.server import lock_state_dir
from hubnet.router import credentials
from hubnet.router.api import RouterApi
from hubnet.router.config import RouterConfig
from hubnet.router.follower import Follower
from hubnet.router.programmer import Programmer
from hubnet.router.report import ReportBook, ReportSender
from hubnet.router.table import DesiredTable
from hubnet.server.routing.base import RouteBackend

log = logging.getLogger("hubnet.router")
ClientFactory = Callable[[Sequence[str]], ControllerClient]  # controller URLs → client
# Connecting gives up after this long, so a controller that vanished silently (a partition drops packets) costs
# seconds, not a TCP timeout, before the next one is tried; a feed answer may take the long-poll's time on top.
CONNECT_TIMEOUT = 3.0


class RouterAgent:
    def __init__(
        self,
        config: RouterConfig,
        *,
        client_factory: ClientFactory | None = None,
        backend_factory: Callable[[], RouteBackend] | None = None,
    ) -> None:
        self.config = config
        self._client_factory = client_factory or functools.partial(
            ControllerClient, timeout=CONNECT_TIMEOUT, ca_file=config.ca_file
        )
        self._backend_factory = backend_factory or self._kernel
        self.table = DesiredTable()
        self.book = ReportBook()

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set. Raises AlreadyRunning (another agent of this router on the state dir),
        SecretError (an unusable credentials file) or LinuxError (no netlink socket) before touching anything."""
        os.makedirs(self.config.state_dir, mode=0o700, exist_ok=True)
        lock = lock_state_dir(self.config.state_dir, self.config.lock_name)
        try:
            self._run(stop)
        finally:
            os.close(lock)

    def _run(self, stop: threading.Event) -> None:
        config = self.config
        secret = credentials.load_or_create(config.credentials_path, config.name)
        # Two clients: a report must not wait behind a long-poll, and each remembers which controller answers it.
        feed_api = RouterApi(self._client_factory(config.controllers), name=config.name, secret=secret)
        report_api = RouterApi(self._client_factory(config.controllers), name=config.name, secret=secret)
        sender = ReportSender(report_api, self.book, interval=config.report_interval)
        programmer = Programmer(
            self._backend_factory(), self.table, self.book, interval=config.interval, on_report=sender.wake
        )
        follower = Follower(
            feed_api, self.table, token=config.token, on_update=programmer.update, long_poll=config.long_poll
        )
        # A daemon: a long-poll in progress cannot be interrupted, and must not hold the process after SIGTERM.
        feed = threading.Thread(target=follower.run, args=(stop,), name="hubnet-router-feed", daemon=True)
        log.info("router %s: following %s", config.name, ", ".join(config.controllers))
        sender.start()
        feed.start()
        try:
            while not stop.wait(1.0):
                pass
        finally:
            programmer.stop()
            sender.stop()  # one last report
            report_api.close()
            feed.join(timeout=0.5)
            if not feed.is_alive():  # else a long-poll is in progress: closing under it could wait for its answer
                feed_api.close()

    def _kernel(self) -> RouteBackend:
        from hubnet.server.routing.kernel import KernelBackend  # netlink: only when the agent really runs

        # netns None: the namespace this process runs in (`ip netns exec R hubnet router join …` programs R)
        return KernelBackend(proto=self.config.route_proto, table=self.config.route_table)
