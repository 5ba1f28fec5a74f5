"""The composition root: `create_app(settings)` builds everything; nothing is built at import time.

Background work (lease reaper, route reconciler, on PostgreSQL the listener for other processes' commits) starts in
the lifespan and stops when the server shuts down (uvicorn turns SIGTERM into a lifespan shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, cast

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry

from hubnet.server import faults, heap
from hubnet.server.api import bgp as bgp_api
from hubnet.server.api import check, events, health, nodes, pools, problems
from hubnet.server.api import routers as router_api
from hubnet.server.api import routes as routes_api
from hubnet.server.api import tokens as token_api
from hubnet.server.api import ui as ui_api
from hubnet.server.api.limits import BodyLimit
from hubnet.server.api.ratelimit import RateLimit, rate_limits
from hubnet.server.bgp.sync import PeerSync
from hubnet.server.db import uow
from hubnet.server.db.listen import CommitListener
from hubnet.server.metrics import AppMetrics
from hubnet.server.routing.backends import make_backend
from hubnet.server.routing.reconciler import Reconciler
from hubnet.server.services import bgp as bgp_service
from hubnet.server.services import routes
from hubnet.server.services.changes import RemoteCommits
from hubnet.server.services.context import Controller
from hubnet.server.services.integrity import BridgeReports
from hubnet.server.services.pools import ensure_pools, scan
from hubnet.server.services.ports import Commit, Database
from hubnet.server.services.reaper import Reaper, resume_leases, stamp_alive
from hubnet.server.settings import Settings

if TYPE_CHECKING:
    from hubnet.server.bgp.backend import BgpBackend
    from hubnet.server.bgp.speaker import SpeakerConfig

log = logging.getLogger("hubnet.server")


def speaker_config(settings: Settings) -> SpeakerConfig:
    """gobgpd's configuration from the HUBNET_BGP_* settings (the settings made sure a router id exists)."""
    from hubnet.server.bgp.speaker import SpeakerConfig

    host, port = settings.bgp_listen_host_port
    router_id = settings.bgp_id
    assert router_id is not None, "Settings refuse the bgp backend without a router id"
    return SpeakerConfig(
        asn=settings.bgp_asn,
        router_id=router_id,
        listen_address=host,
        listen_port=port,
        gr_restart_seconds=settings.bgp_gr_restart_seconds,
        gobgpd=settings.bgp_gobgpd,
        api_port=settings.bgp_api_port,
        netns=settings.router_netns,  # gobgpd runs there (where the BGP-facing links are); None: our namespace
    )


def build_reconciler(ctl: Controller, registry: CollectorRegistry) -> Reconciler | None:
    """The route reconciler for HUBNET_ROUTE_BACKEND, or None for `none` (route_state then stays `pending`)."""
    settings = ctl.settings
    if settings.route_backend == "none":
        return None
    backend = make_backend(
        settings.route_backend,
        proto=settings.route_proto,
        table=settings.route_table,
        netns=settings.router_netns,
        bgp=speaker_config(settings) if settings.route_backend == "bgp" else None,
        registry=registry,
    )
    return Reconciler(
        backend,
        load_desired=lambda: routes.desired(ctl),
        report=lambda states: routes.report(ctl, states),
        interval=settings.reconcile_interval,
        dry_run=settings.route_dry_run,
        registry=registry,
        withdrawals=lambda installed: routes.confirm_withdrawn(ctl, installed),
        snapshot=lambda: routes.snapshot(ctl),
        changes=lambda since: routes.changes(ctl, since),
    )


def build_peer_sync(ctl: Controller, reconciler: Reconciler | None) -> PeerSync | None:
    """With the bgp backend: the loop that keeps the speaker peered with the stored peers; the backend also
    answers `GET /v1/bgp/peers`'s live part."""
    if reconciler is None or reconciler.backend.name != "bgp":
        return None
    backend = cast("BgpBackend", reconciler.backend)  # grpc is imported only when the backend is bgp
    ctl.bgp_status = backend
    return PeerSync(backend, lambda: bgp_service.peer_specs(ctl), interval=ctl.settings.reconcile_interval)


def _reconcile_on_route_moves(reconciler: Reconciler) -> Callable[[Commit], None]:
    """Only commits that move desired routes trigger a reconcile: a route-state report (or a renewal, a stale mark)
    changes no route, and would only cause a second, empty reconcile. Every commit is handed over first (its
    revisions, and its moved rows when it has them), so a change run can plan without reading them back."""

    def hook(commit: Commit) -> None:
        reconciler.hand(routes.handed(commit))
        if routes.moves_routes(commit.kinds):
            reconciler.trigger()

    return hook


def build_listener(
    ctl: Controller, notifier: events.Notifier, hooks: list[Callable[[Commit], None]]
) -> CommitListener | None:
    """On PostgreSQL: the thread that turns other controller processes' commits into what a local commit does
    (wake the long-polls, run `hooks` for the kinds committed); None on any other database."""
    if ctl.db.dialect != "postgresql":
        return None
    remote = RemoteCommits(ctl, hooks, wake=notifier.publish, assume=routes.ROUTE_MOVES | {bgp_service.PEERS_CHANGED})
    origin = getattr(ctl.db, "origin", "")  # the memory database of the unit tier has none
    return CommitListener(ctl.settings.db_url, on_commit=remote.notified, on_connect=remote.catch_up, origin=origin)


def create_app(
    settings: Settings, *, database: Database | None = None, background: bool = True, freeze_heap: bool = False
) -> FastAPI:
    """Build the controller. The schema must already be at head (`hubnet server` upgrades it first). `freeze_heap`
    (the server process, not tests that build many apps): once started, the heap so far is frozen (`heap.settle`)."""
    faults.arm_from_env()
    db: Database = database or uow.Database(settings.db_url)
    metrics = AppMetrics()
    ctl = Controller(db=db, settings=settings, metrics=metrics)
    metrics.watch(ctl)
    notifier = events.Notifier()
    reconciler = build_reconciler(ctl, metrics.registry)
    db.after_commit.append(lambda _commit: notifier.publish())
    hooks: list[Callable[[Commit], None]] = []  # what a commit of some kinds sets off, here or in another process
    if reconciler is not None:
        hooks.append(_reconcile_on_route_moves(reconciler))
    peer_sync = build_peer_sync(ctl, reconciler)
    if peer_sync is not None:
        sync = peer_sync
        hooks.append(lambda commit: sync.wake() if bgp_service.changes_peers(commit.kinds) else None)
    db.after_commit.extend(hooks)
    listener = build_listener(ctl, notifier, hooks) if background else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        notifier.bind(asyncio.get_running_loop())
        ensure_pools(ctl)  # one per configured family
        scan(ctl)
        resume_leases(ctl)
        reaper = Reaper(ctl, settings.reaper_interval_seconds)
        if freeze_heap:  # before the background threads start: what is built so far lives as long as the process
            log.debug("froze %d start-up objects", heap.settle())
        if listener is not None:
            listener.start()
        if background:
            reaper.start()
            if peer_sync is not None:
                # The stored peers first (the backend only keeps them until the table is loaded), so the first
                # reconcile's reasons never say "no peer configured" about peers the database has.
                with contextlib.suppress(Exception):  # the loop retries; a start must not fail on it
                    peer_sync.sync_now()
                peer_sync.start()
            if reconciler is not None:
                reconciler.start()
        try:
            yield
        finally:
            if listener is not None:
                listener.stop()
            reaper.stop()
            if peer_sync is not None:
                peer_sync.stop()
            if reconciler is not None:
                reconciler.stop()  # the bgp backend's speaker is killed, never told to close: routers keep routes
            stamp_alive(ctl)  # the lease clock stops from here, not from the last reaper pass
            ctl.close()

    # /docs (Swagger UI) and /redoc load their scripts from the installed package under /docs/static, not from a
    # CDN: a router's management network usually has no internet.
    app = FastAPIOffline(title="hubnet controller", version="1", lifespan=lifespan, static_url="/docs/static")
    app.state.controller = ctl
    app.state.metrics = metrics
    app.state.notifier = notifier
    app.state.reconciler = reconciler
    app.state.bridges = BridgeReports()
    problems.install(app)
    for module in (nodes, pools, events, health, check):
        app.include_router(module.router)
    app.include_router(routes_api.router)
    app.include_router(token_api.router)
    app.include_router(bgp_api.router)
    app.include_router(router_api.router)
    app.include_router(ui_api.router)  # the web console: static files, every data call is the /v1 API above
    reports = max(router_api.REPORT_MAX_BYTES, settings.max_body_bytes)  # a router's full report is MBs
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, larger=[(router_api.REPORT_PATH, reports)])
    app.add_middleware(RateLimit, limits=rate_limits(settings))  # outermost: a throttled request costs nothing more
    return app
