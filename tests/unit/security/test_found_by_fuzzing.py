"""Inputs the fuzzers found and the fixes hold (each case names what was accepted or crashed before)."""

from __future__ import annotations

import pytest

from hubnet.server.domain.errors import InvalidInput
from hubnet.server.domain.validation import check_address


@pytest.mark.parametrize("address", ["0.32.0.1", "0.0.0.1", "0.255.255.255"])
def test_this_network_is_no_node_address(address: str) -> None:
    """schemathesis registered a node at 0.32.0.1 (0.0.0.0/8 is "this network", RFC 1122, never a destination)."""
    with pytest.raises(InvalidInput, match="this-network") as refused:
        check_address(address, pools=[], service_cidr=None, router=None)
    assert refused.value.field == "address"
