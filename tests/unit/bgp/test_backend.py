"""BgpBackend against the in-tree FakeSpeaker: start order (peers only after a complete table, after every speaker
start), restart of a dead speaker, readiness (delivered / undelivered), the watch, the metrics, the registry."""

from __future__ import annotations

import threading
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest
from prometheus_client import CollectorRegistry

from hubnet.server.bgp import backend as backend_module
from hubnet.server.bgp.backend import BgpBackend
from hubnet.server.bgp.fake import FakeSpeaker
from hubnet.server.bgp.peers import PeerSpec
from hubnet.server.bgp.speaker import SpeakerConfig
from hubnet.server.domain.routes import DesiredRoute, NodeRef, Route, RoutePlan
from hubnet.server.routing.backends import make_backend
from hubnet.server.routing.reconciler import Reconciler

PEER = PeerSpec(IPv4Address("192.0.2.1"), 64512)
PEER2 = PeerSpec(IPv4Address("192.0.2.3"), 64512)


def r(n: int, hop: int = 0) -> Route:
    return Route(IPv4Network(f"10.244.{n}.0/24"), IPv4Address(f"192.0.2.{hop or 10 + n}"))


@pytest.fixture
def speaker() -> FakeSpeaker:
    return FakeSpeaker()


@pytest.fixture
def backend(speaker: FakeSpeaker) -> BgpBackend:
    return BgpBackend(speaker)


def load(backend: BgpBackend, routes: list[Route]) -> None:
    """One reconcile as the reconciler does it: list, apply the difference, then say the table is complete."""
    have = set(backend.list_owned())
    backend.apply(RoutePlan(add=tuple(x for x in routes if x not in have)))
    backend.synced()


# -- start order ---------------------------------------------------------------------------------------------------
def test_peers_are_added_only_after_the_complete_table(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    backend.set_peers([PEER])
    assert speaker.calls == []  # not even started: the first list_owned starts it
    load(backend, [r(1), r(2), r(3)])
    assert speaker.calls == ["start", "add 3", "set_peers 1"]
    assert speaker.configured == [PEER]


def test_peers_told_later_reach_a_synced_speaker_at_once(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    load(backend, [r(1)])
    assert speaker.configured == []
    backend.set_peers([PEER, PEER2])
    assert speaker.configured == [PEER, PEER2]
    backend.set_peers([PEER2])
    assert speaker.configured == [PEER2]


def test_a_dead_speaker_is_restarted_and_its_peers_wait_for_the_table_again(
    backend: BgpBackend, speaker: FakeSpeaker
) -> None:
    drift = []
    backend.watch(lambda: drift.append("drift"))
    backend.set_peers([PEER])
    load(backend, [r(1), r(2)])
    speaker.crash()
    backend.set_peers([PEER, PEER2])  # while it is down: stored, not pushed (there is nothing to push to)
    speaker.calls.clear()
    assert backend.list_owned() == []  # restarted, empty
    assert speaker.calls == ["stop", "start"]
    assert drift == ["drift"]  # the reconciler re-loads the table at once
    assert speaker.configured == []  # the peers wait until the table is complete again
    backend.apply(RoutePlan(add=(r(1), r(2))))
    assert speaker.configured == []
    backend.synced()
    assert speaker.calls == ["stop", "start", "add 2", "set_peers 2"]


def test_synced_while_the_speaker_is_down_adds_no_peer(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    backend.set_peers([PEER])
    load(backend, [r(1)])
    speaker.crash()
    backend.synced()  # a reconcile that failed half-way must not count as "complete" for the next speaker
    backend.list_owned()
    assert speaker.configured == []


def test_with_the_reconciler(speaker: FakeSpeaker) -> None:
    """The real reconcile loop: table first, then the peers (the reconciler calls synced() after applying)."""
    backend = BgpBackend(speaker)
    backend.set_peers([PEER])
    desired = [DesiredRoute(f"node-{n}", r(n)) for n in range(5)]
    reports: list[dict[NodeRef, tuple[str, str | None]]] = []
    reconciler = Reconciler(backend, load_desired=lambda: desired, report=reports.append)
    result = reconciler.reconcile_now("startup")
    assert len(result.plan.add) == 5 and not result.failed
    assert speaker.calls == ["start", "add 5", "set_peers 1"]
    assert sorted(speaker.table.values()) == [d.route for d in desired]


# -- apply ---------------------------------------------------------------------------------------------------------
def test_apply_withdraws_announces_and_replaces(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    load(backend, [r(1), r(2), r(3)])
    speaker.fail = {r(4).prefix: "refused"}
    result = backend.apply(RoutePlan(add=(r(4), r(5)), replace=(r(1, hop=99),), delete=(r(2),)))
    assert result.failed == {r(4).prefix: "refused"}
    assert sorted(speaker.table.values()) == sorted([r(1, hop=99), r(3), r(5)])
    assert backend.foreign({r(2).prefix}) == {}


# -- readiness -----------------------------------------------------------------------------------------------------
def test_undelivered_reasons_in_order(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    routes = [r(1), r(2)]
    load(backend, routes)
    assert set(backend.undelivered(routes).values()) == {"no BGP peer configured (add one: POST /v1/bgp/peers)"}
    backend.set_peers([PEER])
    assert "no Established BGP peer (1 configured)" in backend.undelivered(routes).values()
    speaker.restarting.add("192.0.2.1")
    speaker.session("192.0.2.1", "established")
    assert "holds UPDATEs back" in backend.undelivered(routes)[r(1).prefix]
    speaker.restarting.clear()
    assert backend.undelivered(routes) == {}


def test_undelivered_before_the_table_is_complete(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    backend.set_peers([PEER])
    backend.list_owned()
    backend.apply(RoutePlan(add=(r(1),)))
    assert "loading the table" in backend.undelivered([r(1)])[r(1).prefix]


def test_delivered_stays_delivered_across_flaps_but_not_across_a_speaker_restart(
    backend: BgpBackend, speaker: FakeSpeaker
) -> None:
    """A new gobgpd has delivered nothing (a route deleted and registered again meanwhile must be delivered
    again); nodes already stored `programmed` stay so because the reconciler does not ask about them."""
    backend.set_peers([PEER])
    load(backend, [r(1)])
    speaker.session("192.0.2.1", "established")
    assert backend.undelivered([r(1)]) == {}
    speaker.session("192.0.2.1", "active")  # the router keeps it under graceful restart
    assert backend.undelivered([r(1)]) == {}
    backend.apply(RoutePlan(add=(r(2),)))  # added while no session is up: not delivered
    assert list(backend.undelivered([r(1), r(2)])) == [r(2).prefix]
    speaker.crash()
    load(backend, [r(1), r(2)])
    assert list(backend.undelivered([r(1), r(2)])) == [r(1).prefix, r(2).prefix]
    speaker.session("192.0.2.1", "established")
    assert backend.undelivered([r(1), r(2)]) == {}


def test_a_session_delivers_only_the_families_it_carries(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    v6 = Route(IPv6Network("fd00:10:244:1::/64"), IPv6Address("fd00:192:168:1::11"))
    backend.set_peers([PEER])
    load(backend, [r(1), v6])
    speaker.families["192.0.2.1"] = ["ipv4-unicast"]  # a router that activated IPv4 unicast only
    speaker.session("192.0.2.1", "established")
    assert backend.undelivered([r(1), v6]) == {
        v6.prefix: "no Established BGP session carries ipv6-unicast (activate it on the router)"
    }


def test_a_peer_without_multiprotocol_capability_carries_ipv4(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    backend.set_peers([PEER])
    load(backend, [r(1)])
    speaker.families["192.0.2.1"] = []
    speaker.session("192.0.2.1", "established")
    assert backend.undelivered([r(1)]) == {}


def test_peers_wait_for_a_complete_table_after_a_start_then_for_a_bound(
    backend: BgpBackend, speaker: FakeSpeaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.set_peers([PEER])
    backend.list_owned()
    backend.synced(complete=False)  # a route failed: End-of-RIB now would make the routers drop it
    assert speaker.configured == []
    monkeypatch.setattr(backend_module, "INCOMPLETE_WAIT", 0.0)  # the bound passed and it still fails
    backend.synced(complete=False)
    assert speaker.configured == [PEER]


def test_moving_or_deleting_a_route_forgets_its_delivery(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    backend.set_peers([PEER])
    load(backend, [r(1), r(2)])
    speaker.session("192.0.2.1", "established")
    assert backend.undelivered([r(1), r(2)]) == {}
    speaker.session("192.0.2.1", "idle")
    backend.apply(RoutePlan(replace=(r(1, hop=77),), delete=(r(2),)))
    backend.apply(RoutePlan(add=(r(2),)))
    assert set(backend.undelivered([r(1, hop=77), r(2)])) == {r(1).prefix, r(2).prefix}


# -- watch ---------------------------------------------------------------------------------------------------------
def test_established_triggers_a_reconcile_now_and_after_the_deferral(
    backend: BgpBackend, speaker: FakeSpeaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend_module, "DEFERRAL_SECONDS", -0.95)  # the follow-up fires after 0.05 s
    seen = threading.Semaphore(0)
    backend.watch(seen.release)
    load(backend, [r(1)])
    speaker.session("192.0.2.1", "opensent")
    assert not seen.acquire(timeout=0.2)
    speaker.session("192.0.2.1", "established")
    assert seen.acquire(timeout=1) and seen.acquire(timeout=2)


def test_close_stops_the_speaker(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    load(backend, [r(1)])
    backend.close()
    assert not speaker.running and speaker.calls[-1] == "stop"


# -- metrics and status ----------------------------------------------------------------------------------------------
def test_metrics_per_peer(speaker: FakeSpeaker) -> None:
    registry = CollectorRegistry()
    backend = BgpBackend(speaker, registry=registry)
    backend.set_peers([PEER, PEER2])

    def value(name: str, peer: str) -> float | None:
        return registry.get_sample_value(name, {"peer": peer})

    assert value("hubnet_bgp_session_up", "192.0.2.1") == 0.0  # wanted, speaker not running yet
    load(backend, [r(1), r(2)])
    speaker.session("192.0.2.1", "established")
    assert value("hubnet_bgp_session_up", "192.0.2.1") == 1.0
    assert value("hubnet_bgp_prefixes_advertised", "192.0.2.1") == 2.0
    assert value("hubnet_bgp_session_up", "192.0.2.3") == 0.0
    assert value("hubnet_bgp_prefixes_advertised", "192.0.2.3") == 0.0


def test_peers_is_empty_while_the_speaker_is_down(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    assert backend.peers() == []
    backend.set_peers([PEER])
    load(backend, [r(1)])
    assert [p.address for p in backend.peers()] == ["192.0.2.1"]


# -- registry ------------------------------------------------------------------------------------------------------
def test_registry_builds_the_bgp_backend_without_starting_anything() -> None:
    with pytest.raises(ValueError, match="bgp route backend needs a speaker configuration"):
        make_backend("bgp")
    built = make_backend("bgp", bgp=SpeakerConfig(asn=64512, router_id=IPv4Address("192.0.2.2")))
    assert isinstance(built, BgpBackend) and built.name == "bgp"
    assert not built.speaker.running  # gobgpd starts with the reconciler's first run, not at construction


def test_a_change_run_answers_from_the_record_a_periodic_run_reads_the_speaker(
    backend: BgpBackend, speaker: FakeSpeaker
) -> None:
    load(backend, [r(1), r(2)])
    speaker.table.pop(r(1).prefix)  # removed behind our back (e.g. `gobgp global rib del`)
    assert sorted(backend.list_owned(fresh=False)) == [r(1), r(2)]  # a change run does not read gobgpd
    backend.apply(RoutePlan(add=(r(3),)))
    assert sorted(backend.list_owned(fresh=False)) == [r(1), r(2), r(3)]  # the record follows what was applied
    assert sorted(backend.list_owned()) == [r(2), r(3)]  # the periodic run reads it and sees the drift


def test_a_restarted_speaker_is_read_even_by_a_change_run(backend: BgpBackend, speaker: FakeSpeaker) -> None:
    load(backend, [r(1)])
    speaker.crash()
    assert backend.list_owned(fresh=False) == []  # the new gobgpd holds nothing: the run re-loads the table
