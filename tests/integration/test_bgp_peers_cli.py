"""`hubnet bgp peers [add|delete]` end to end against a real `hubnet server`: the password only from a file, standard
input or an environment variable (never argv), a table and JSON, API errors as the problem's detail with exit 1,
usage errors with exit 2, and the password never printed."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import HUBNET, Databases, Server, run_hubnet, running, sql

SECRET = "cli md5 key #42"


@pytest.fixture(scope="module")
def server(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The CLI only speaks HTTP: one database kind is enough (the API tests cover both)."""
    with running(Server(fresh_db(databases, "sqlite"), tmp_path_factory.mktemp("bgp-cli"))) as srv:
        yield srv


@pytest.fixture
def env(server: Server) -> dict[str, str]:
    return {"HUBNET_URL": server.url, "HUBNET_TOKEN": server.admin}


def _ok(args: list[str], env: dict[str, str]) -> str:
    done = run_hubnet(["bgp", "peers", *args], env)
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    return done.stdout


def _password(server: Server, address: str) -> list[tuple[object, ...]]:
    return sql(server.db_url, "SELECT password FROM bgp_peers WHERE address = :a", {"a": address})


def test_add_list_delete(server: Server, env: dict[str, str], tmp_path: Path) -> None:
    key = tmp_path / "md5.key"
    key.write_text(SECRET + "\n")  # one trailing line break, as an editor leaves it, is not part of the password
    added = json.loads(
        _ok(["add", "FD00:30::1", "--asn", "65030", "--password-file", str(key), "--multihop", "2", "--json"], env)
    )
    assert (added["address"], added["asn"], added["multihop"], added["password_set"]) == ("fd00:30::1", 65030, 2, True)
    assert "password" not in added and _password(server, "fd00:30::1") == [(SECRET,)]

    table = _ok(["add", "192.168.30.1", "--asn", "64512", "--description", "tor 1"], env)
    assert "192.168.30.1" in table and "password_set" in table

    listed = _ok([], env)
    for text in ("2 BGP peers", "fd00:30::1", "192.168.30.1", "65030", "unknown", "tor 1", "not enabled"):
        assert text in listed, listed
    assert [p["address"] for p in json.loads(_ok(["-o", "json"], env))] == ["fd00:30::1", "192.168.30.1"]
    assert json.loads(_ok(["--json"], env))[0]["last_error"].startswith("the bgp route backend is not enabled")

    assert _ok(["delete", "FD00:30:0::1"], env).strip() == "deleted BGP peer FD00:30:0::1"
    assert json.loads(_ok(["delete", "192.168.30.1", "--json"], env)) == {
        "deleted": "bgp_peer",
        "address": "192.168.30.1",
    }
    assert json.loads(_ok(["--json"], env)) == []


def test_password_from_an_environment_variable_or_standard_input(server: Server, env: dict[str, str]) -> None:
    _ok(["add", "192.168.31.1", "--asn", "65031", "--password-env", "PEER_KEY"], {**env, "PEER_KEY": SECRET})
    assert _password(server, "192.168.31.1") == [(SECRET,)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUBNET_")}
    done = subprocess.run(
        [HUBNET, "bgp", "peers", "add", "192.168.31.2", "--asn", "65031", "--password-file", "-"],
        env={**clean, **env},
        input=SECRET + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert _password(server, "192.168.31.2") == [(SECRET,)] and SECRET not in done.stdout + done.stderr
    for address in ("192.168.31.1", "192.168.31.2"):
        _ok(["delete", address], env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "127.0.0.1", "--asn", "65032"], "address 127.0.0.1 is a loopback address"),
        (["add", "192.168.32.1", "--asn", "0"], "asn 0 is out of range 1..4294967295"),
        (["add", "192.168.32.1", "--asn", "65032", "--multihop", "256"], "multihop 256 is out of range 1..255"),
        (["add", "192.168.32.1", "--asn", "65032", "--password-env", "LONG_KEY"], "password must be 1..80"),
        (["delete", "192.168.32.99"], "no BGP peer with address 192.168.32.99"),
    ],
    ids=["loopback", "asn-zero", "multihop", "password-too-long", "delete-missing"],
)
def test_api_errors_print_the_detail_and_exit_1(
    server: Server, env: dict[str, str], args: list[str], message: str
) -> None:
    done = run_hubnet(["bgp", "peers", *args], {**env, "LONG_KEY": "k" * 81})
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert sql(server.db_url, "SELECT count(*) FROM bgp_peers WHERE address LIKE '192.168.32.%'") == [(0,)]


def test_duplicate_and_wrong_token(server: Server, env: dict[str, str]) -> None:
    _ok(["add", "192.168.33.1", "--asn", "65033"], env)
    again = run_hubnet(["bgp", "peers", "add", "192.168.33.1", "--asn", "65034"], env)
    assert again.returncode == 1 and "a BGP peer with address 192.168.33.1 exists" in again.stderr
    for token, message in (
        (server.bootstrap, "a bootstrap token cannot"),
        ("wrong", "missing or invalid bearer token"),
    ):
        refused = run_hubnet(["bgp", "peers"], {**env, "HUBNET_TOKEN": token})
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    _ok(["delete", "192.168.33.1"], env)


@pytest.mark.parametrize(
    "args",
    [
        ["--password", SECRET],  # there is no such option: argv is visible to every user
        ["--password-file", "/nonexistent/md5.key"],
        ["--password-env", "HUBNET_TEST_UNSET_VARIABLE"],
        ["--password-env", "PEER_KEY", "--password-file", "/dev/null"],
    ],
    ids=["plain-password", "missing-file", "unset-variable", "both"],
)
def test_usage_errors_exit_2_and_store_nothing(server: Server, env: dict[str, str], args: list[str]) -> None:
    done = run_hubnet(["bgp", "peers", "add", "192.168.34.1", "--asn", "65034", *args], {**env, "PEER_KEY": "x"})
    assert done.returncode == 2, done.stderr
    assert sql(server.db_url, "SELECT count(*) FROM bgp_peers WHERE address = '192.168.34.1'") == [(0,)]
