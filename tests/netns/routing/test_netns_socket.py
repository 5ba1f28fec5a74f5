"""`hubnet.linux.netns`: the one way into a namespace. Sockets land in the namespace asked for, the caller never
moves, and a missing namespace (or a file that is not one) is NotFound naming it — never created."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hubnet.linux import netns
from hubnet.linux.errors import NotFound
from hubnet.linux.routes import RouteTable
from tests.netns.routing.conftest import PROTO, anonymous_netns
from tests.support.prereq import need_root_netns

OPENERS: dict[str, Callable[[str], Any]] = {
    "netlink_socket": netns.netlink_socket,
    "handle": netns.open_handle,
    "run_in": lambda ns: netns.run_in(ns, lambda: None),
    "route table": lambda ns: RouteTable(proto=PROTO, netns=ns),
}


def test_sockets_live_in_the_namespace_and_the_caller_stays_home() -> None:
    need_root_netns()
    home = os.readlink("/proc/thread-self/ns/net")
    with anonymous_netns() as ns:
        subprocess.run(
            ["nsenter", f"--net={ns}", "ip", "link", "add", "hnt-probe", "type", "veth", "peer", "name", "hnt-probe1"],
            check=True,
        )
        assert netns.run_in(ns, lambda: os.readlink("/proc/thread-self/ns/net")) == os.readlink(ns)
        with netns.handle(ns) as h:
            assert h.link_lookup(ifname="hnt-probe")
        with netns.handle() as h:
            assert not h.link_lookup(ifname="hnt-probe")
    assert os.readlink("/proc/thread-self/ns/net") == home


@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
def test_a_missing_namespace_is_not_found_naming_it_and_is_not_created(opener: Callable[[str], Any]) -> None:
    need_root_netns()
    name = f"hnt-missing-{secrets.token_hex(3)}"
    with pytest.raises(NotFound, match=f"failed to open netns '{name}'"):
        opener(name)
    assert not os.path.exists(netns.path_of(name))


@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
def test_a_file_that_is_not_a_namespace_is_not_found(opener: Callable[[str], Any], tmp_path: Path) -> None:
    need_root_netns()
    plain = tmp_path / "hnt-plain"
    plain.write_text("")
    with pytest.raises(NotFound, match="not a network namespace"):
        opener(str(plain))
