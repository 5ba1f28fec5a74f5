"""`hubnet router join`'s flags (hubnet/router/config.py)."""

from __future__ import annotations

import pytest

from hubnet.router.config import RouterConfig, join_config

FLAGS = {"controllers": "http://c1:6780,https://c2:6780/", "token": "t", "name": "r1", "state_dir": "/var/lib/hubnet"}


def test_the_flags_make_the_config() -> None:
    config = join_config(**FLAGS, route_proto=45, route_table=100, interval=5, report_interval=1)  # type: ignore[arg-type]
    assert config == RouterConfig(
        name="r1", controllers=("http://c1:6780", "https://c2:6780"), token="t", state_dir="/var/lib/hubnet",
        route_proto=45, route_table=100, interval=5, report_interval=1,
    )  # fmt: skip
    assert config.credentials_path == "/var/lib/hubnet/router-r1.json"


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"controllers": ""}, "--controller"),
        ({"controllers": "c1:6780"}, "--controller"),
        ({"token": ""}, "--token"),
        ({"name": "Router_1"}, "--name"),
        ({"name": "r" * 64}, "--name"),
        ({"route_proto": 2}, "--route-proto"),
        ({"route_proto": 256}, "--route-proto"),
        ({"route_table": 0}, "--route-table"),
        ({"interval": 0}, "--interval"),
        ({"report_interval": -1}, "--report-interval"),
    ],
)
def test_a_bad_flag_names_itself(change: dict[str, object], flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        join_config(**{**FLAGS, **change})  # type: ignore[arg-type]
