"""`hubnet node join --ca-file` end to end: the real controller serves HTTPS (HUBNET_TLS_CERT_FILE/KEY_FILE) in a
router namespace; a node that trusts its CA joins and becomes ready, then
leaves over TLS; a node sent to an impostor controller (a second
`hubnet server` with a certificate from another CA, same address) refuses it: the impostor never learns the node.

    router R: 192.168.61.1 <-> n1 192.168.61.11 (real :6780)   R: 192.168.62.1 <-> n2 192.168.62.12 (impostor :6781)
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.integration.security.pki import Pki, make_pki
from tests.netns.node.support import HUBNET
from tests.netns.node.test_join import TOKEN, Cluster, _leave, _make_cluster, _torn_down
from tests.support.prereq import need

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pki, Pki]:
    need(shutil.which("openssl") is not None, "needs openssl to make test certificates")
    directory = tmp_path_factory.mktemp("pki")
    ips = ("192.168.61.1", "192.168.62.1")
    return make_pki(directory, "real", ips), make_pki(directory, "impostor", ips)


@pytest.fixture(scope="module")
def tls_cluster(pki: tuple[Pki, Pki]) -> Iterator[Cluster]:
    real = pki[0]
    with pytest.MonkeyPatch.context() as mp:  # Cluster.start_controller passes os.environ on
        mp.setenv("HUBNET_TLS_CERT_FILE", str(real.cert))
        mp.setenv("HUBNET_TLS_KEY_FILE", str(real.key))
        yield from _make_cluster("kernel")


def test_join_over_tls_with_the_controllers_ca(tls_cluster: Cluster, pki: tuple[Pki, Pki]) -> None:
    tls_cluster.add_node("t1", 61, 11, url="https://192.168.61.1:6780", ca=str(pki[0].ca))
    node = tls_cluster.nodes["t1"]
    node.wait_ready()
    assert os.path.exists(os.path.join(node.state, "node.json"))
    assert "refusing the controller" not in node.log()
    node.stop_agent()
    left = _leave(node)  # verifies with the CA file `join` saved
    assert left.returncode == 0 and "deregistered" in left.stdout, left.stderr
    assert _torn_down(node)


def test_an_impostor_controller_is_refused_and_learns_nothing(tls_cluster: Cluster, pki: tuple[Pki, Pki]) -> None:
    fake = pki[1]
    state = os.path.join(tls_cluster.root, "impostor")
    os.makedirs(state)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBNET_")}
    env.update(HUBNET_STATE_DIR=state, HUBNET_LISTEN="0.0.0.0:6781", HUBNET_BOOTSTRAP_TOKENS=TOKEN,
               HUBNET_TLS_CERT_FILE=str(fake.cert), HUBNET_TLS_KEY_FILE=str(fake.key))  # fmt: skip
    with open(os.path.join(tls_cluster.root, "impostor.log"), "ab") as log:
        impostor = subprocess.Popen(["nsenter", f"--net={tls_cluster.router}", HUBNET, "server"], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        tls_cluster.add_node("t2", 62, 12, wait=False, url="https://192.168.62.1:6781", ca=str(pki[0].ca))
        node = tls_cluster.nodes["t2"]
        deadline = time.monotonic() + 30
        while node.log().count("refusing the controller") < 3 and time.monotonic() < deadline:
            assert node.proc is not None and node.proc.poll() is None, node.log()
            time.sleep(0.2)
        assert node.log().count("refusing the controller") >= 3, node.log()
        assert "CERTIFICATE_VERIFY_FAILED" in node.log()
        assert not os.path.exists(os.path.join(node.state, "node.json"))  # no record from the impostor
        assert not os.path.exists(os.path.join(node.conf, "10-hubnet.conflist"))
        assert impostor.poll() is None  # it was up and listening the whole time
        with sqlite3.connect(os.path.join(state, "hubnet.db")) as db:
            assert db.execute("SELECT count(*) FROM nodes").fetchone() == (0,)
    finally:
        impostor.terminate()
        try:
            impostor.wait(10)
        except subprocess.TimeoutExpired:
            impostor.kill()
            impostor.wait(5)
