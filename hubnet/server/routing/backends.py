"""The route backends by name: the one registry that HUBNET_ROUTE_BACKEND's validation, `make_backend` and the
composition root read. A new backend (BGP, the router agent) is one name here and one factory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from hubnet.linux import ROUTE_PROTO
from hubnet.server.routing.base import NullBackend, RouteBackend

if TYPE_CHECKING:  # the bgp backend's modules load grpc: only when that backend is built
    from prometheus_client import CollectorRegistry

    from hubnet.server.bgp.speaker import SpeakerConfig

# The values of HUBNET_ROUTE_BACKEND (the settings validate against this): one per entry of BACKENDS.
BackendName = Literal["kernel", "none", "fake", "bgp"]


@dataclass(frozen=True)
class BackendOptions:
    """What a backend may need from the settings: where hubnet's routes live on the router (kernel), or the BGP
    speaker to run (bgp), and where a backend registers its own metrics."""

    proto: int = ROUTE_PROTO
    table: int = 254
    netns: str | None = None
    bgp: SpeakerConfig | None = None
    registry: CollectorRegistry | None = None


BackendFactory = Callable[[BackendOptions], RouteBackend]


def _kernel(options: BackendOptions) -> RouteBackend:
    from hubnet.server.routing.kernel import KernelBackend  # netlink only when asked for

    return KernelBackend(proto=options.proto, table=options.table, netns=options.netns)


def _none(options: BackendOptions) -> RouteBackend:
    return NullBackend()


def _fake(options: BackendOptions) -> RouteBackend:
    from hubnet.server.routing.fake import FakeBackend

    return FakeBackend()


def _bgp(options: BackendOptions) -> RouteBackend:
    if options.bgp is None:
        raise ValueError("the bgp route backend needs a speaker configuration (HUBNET_BGP_ASN, HUBNET_BGP_ROUTER_ID)")
    from hubnet.server.bgp.backend import BgpBackend  # grpc only when asked for
    from hubnet.server.bgp.speaker import Speaker

    return BgpBackend(Speaker(options.bgp), registry=options.registry)


# `kernel` (netlink, optionally inside a netns), `none` (programs nothing: the reconciler runs as a dry run),
# `fake` (in memory, for tests and demos) and `bgp` (gobgpd as our child announces the routes to BGP peers).
BACKENDS: Mapping[BackendName, BackendFactory] = MappingProxyType(
    {"kernel": _kernel, "none": _none, "fake": _fake, "bgp": _bgp}
)


def make_backend(
    name: str,
    proto: int = ROUTE_PROTO,
    table: int = 254,
    netns: str | None = None,
    *,
    bgp: SpeakerConfig | None = None,
    registry: CollectorRegistry | None = None,
) -> RouteBackend:
    """The backend registered as `name`; ValueError naming the choices for an unknown one."""
    factory = next((f for known, f in BACKENDS.items() if known == name), None)
    if factory is None:
        raise ValueError(f"unknown route backend {name!r} (choose {', '.join(BACKENDS)})")
    return factory(BackendOptions(proto=proto, table=table, netns=netns, bgp=bgp, registry=registry))
