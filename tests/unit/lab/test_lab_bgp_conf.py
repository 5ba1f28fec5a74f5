"""What the lab's BGP routers are told and how their answers are read: bird.conf, bgpd.conf, FRR's reconfiguration
commands, the session parsers (on real output captured from BIRD 2.0.12 and FRR 8.4). The daemons themselves check
the rendered files (`bird -p`, `bgpd -C`); no namespaces, no running daemons."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from hubnet.lab.routers import bird, frr
from hubnet.lab.routers.base import Neighbor, RouterError, Session
from hubnet.lab.routers.bird import BIRD
from hubnet.lab.routers.frr import FRR_DIR, FRR_RUN_DIR, check_frr_config
from tests.support.prereq import need, need_programs

RID = IPv4Address("192.168.1.1")
CONTROLLER = Neighbor(IPv4Address("192.168.1.2"), 64512)
EBGP6 = Neighbor(IPv6Address("fd00:192:168:1::2"), 64513, password="s3cret", multihop=2, port=1790)


def test_bird_conf_exports_only_bgp_routes_to_the_kernel_and_keeps_the_next_hop() -> None:
    text = bird.render_bird(64512, RID, [CONTROLLER])
    assert "router id 192.168.1.1;" in text
    assert text.count("export where source = RTS_BGP;") == 2  # kernel4, kernel6
    assert "learn;" not in text and "persist;" not in text  # kernel routes of others: not learned, not kept
    assert "ipv4 { import all; export none; gateway direct; };" in text
    assert "ipv6 { import all; export none; gateway direct; };" in text
    assert "graceful restart on;" in text and "graceful restart time 120;" in text
    assert "protocol bgp hubnet_192_168_1_2 from hubnet {\n  neighbor 192.168.1.2 as 64512;\n  direct;\n}" in text


def test_bird_neighbour_options() -> None:
    text = bird.render_bird(64512, RID, [EBGP6])
    block = text[text.index("protocol bgp hubnet_fd00_192_168_1__2") :]
    assert "neighbor fd00:192:168:1::2 port 1790 as 64513;" in block
    assert "multihop 2;" in block and "direct;" not in block
    assert "ipv4 { gateway recursive; };" in block  # multihop cannot use direct gateways in BIRD
    assert 'password "s3cret";' in block


def test_frr_conf_activates_both_families_with_policies() -> None:
    text = frr.render_bgpd(64512, RID, [CONTROLLER, EBGP6], "r")
    assert "router bgp 64512\n bgp router-id 192.168.1.1\n no bgp default ipv4-unicast\n" in text
    assert " bgp graceful-restart\n bgp graceful-restart restart-time 120\n" in text
    for peer in ("192.168.1.2", "fd00:192:168:1::2"):
        assert text.count(f"  neighbor {peer} activate\n") == 2  # ipv4 unicast and ipv6 unicast
        assert text.count(f"  neighbor {peer} route-map hubnet-out out\n") == 2
    assert " neighbor fd00:192:168:1::2 password s3cret\n" in text
    assert " neighbor fd00:192:168:1::2 ebgp-multihop 2\n" in text
    assert " neighbor fd00:192:168:1::2 port 1790\n" in text
    assert "port" not in "".join(frr.frr_neighbor_lines(CONTROLLER))


@pytest.mark.parametrize(
    "password", [pytest.param("two words", id="space"), pytest.param('q"uote', id="quote"), "", "x" * 81]
)
def test_passwords_a_daemon_cannot_take_are_refused(password: str) -> None:
    with pytest.raises(ValueError, match="password"):
        Neighbor(IPv4Address("192.168.1.2"), 64512, password=password)


def test_neighbour_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(EBGP6) and "***" in repr(EBGP6)


def test_frr_reconfigure_touches_only_what_changed() -> None:
    assert frr.frr_reconfigure(64512, [CONTROLLER], [CONTROLLER]) == []
    removed = frr.frr_reconfigure(64512, [CONTROLLER, EBGP6], [CONTROLLER])
    assert removed == ["configure terminal", "router bgp 64512", "no neighbor fd00:192:168:1::2", "end"]
    added = frr.frr_reconfigure(64512, [CONTROLLER], [CONTROLLER, EBGP6])
    assert "no neighbor" not in " ".join(added) and "neighbor fd00:192:168:1::2 remote-as 64513" in added
    assert added.count("neighbor fd00:192:168:1::2 activate") == 2
    assert "192.168.1.2" not in " ".join(added)  # the unchanged session is left alone
    rekeyed = Neighbor(CONTROLLER.address, 64512, password="new-key")
    changed = frr.frr_reconfigure(64512, [CONTROLLER], [rekeyed])
    assert changed.index("no neighbor 192.168.1.2") < changed.index("neighbor 192.168.1.2 password new-key")


BIRD_SHOW = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     21:21:46.097

kernel4    Kernel     master4    up     21:21:46.097
  Channel ipv4
    State:          UP
    Routes:         0 imported, 1 exported, 0 preferred

hubnet_192_0_2_2 BGP        ---        up     21:21:49.990  Established
  BGP state:          Established
    Neighbor address: 192.0.2.2
    Neighbor AS:      64512
  Channel ipv4
    State:          UP
    Routes:         1 imported, 0 exported, 1 preferred
  Channel ipv6
    State:          UP
    Routes:         1 imported, 0 exported, 1 preferred
    BGP Next hop:   2001:db8:1::1 fe80::8c10:deff:fe95:1739

hubnet_2001_db8_1__2 BGP        ---        start  21:21:46.097  Active        Socket: Connection closed
  BGP state:          Active
    Neighbor address: 2001:db8:1::2
    Connect delay:    3.336/5
    Last error:       Socket: Connection closed
  Channel ipv4
    State:          DOWN

hubnet_192_0_2_9 BGP        ---        down   21:21:46.097
  BGP state:          Down
    Neighbor address: 192.0.2.9
"""


def test_bird_sessions_are_parsed() -> None:
    assert bird.parse_bird_protocols(BIRD_SHOW) == [
        Session("192.0.2.2", "established", 2),
        Session("2001:db8:1::2", "active", 0),
        Session("192.0.2.9", "idle", 0),
    ]


FRR_NEIGHBORS = {
    "192.0.2.2": {
        "remoteAs": 64512,
        "bgpState": "Established",
        "addressFamilyInfo": {
            "ipv4Unicast": {"acceptedPrefixCounter": 1, "sentPrefixCounter": 0},
            "ipv6Unicast": {"acceptedPrefixCounter": 1, "sentPrefixCounter": 0},
        },
    },
    "2001:db8:1::2": {"remoteAs": 64513, "bgpState": "Active", "addressFamilyInfo": {"ipv4Unicast": {}}},
}


def test_frr_sessions_are_parsed() -> None:
    assert frr.parse_frr_neighbors(json.loads(json.dumps(FRR_NEIGHBORS))) == [
        Session("192.0.2.2", "established", 2),
        Session("2001:db8:1::2", "active", 0),
    ]


def test_bird_accepts_its_configuration(tmp_path: Path) -> None:
    need_programs(BIRD)
    conf = tmp_path / "bird.conf"
    conf.write_text(bird.render_bird(64512, RID, [CONTROLLER, EBGP6]))
    done = subprocess.run([BIRD, "-p", "-c", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("daemon", ["zebra", "bgpd"])
def test_frr_accepts_its_configuration(daemon: str, tmp_path: Path) -> None:
    need(os.geteuid() == 0, "FRR's daemons start as root (then keep only the capabilities they need)")
    need_programs(str(FRR_DIR / daemon))
    conf = tmp_path / f"{daemon}.conf"
    text = frr.render_zebra("r") if daemon == "zebra" else frr.render_bgpd(64512, RID, [EBGP6], "r")
    space = f"hubnet-unit-{secrets.token_hex(4)}"
    try:
        conf.write_text(text)
        check_frr_config(_dry_argv(daemon, conf, tmp_path, space))  # raises on any line FRR did not take
        conf.write_text(text + "bogus-command 1\n")
        with pytest.raises(RouterError, match="config line"):
            check_frr_config(_dry_argv(daemon, conf, tmp_path, space))
    finally:
        with contextlib.suppress(OSError):
            (FRR_RUN_DIR / space).rmdir()


def _dry_argv(daemon: str, conf: Path, tmp: Path, space: str) -> list[str]:
    return [
        *(str(FRR_DIR / daemon), "-f", str(conf), "-N", space, "--vty_socket", str(tmp)),
        *("-z", str(tmp / "zserv.api"), "-i", str(tmp / f"{daemon}.pid"), "-u", "root", "-g", "frrvty"),
    ]
