"""Which plugin the agent installs, and that both the compiled one and the Python fallback serve pods.

The compiled plugin (`fastshim.c`, built with the package: `./scripts/bootstrap.sh` builds it into the source tree)
is what every other test in this tier runs; here: it is really the compiled one, it hands the agent-down cases to
the Python shim next to it, and a package built without it makes the agent install the shim itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

import hubnet
from hubnet.node.agent.cniconf import PACKAGED_BINARY
from hubnet.node.runtime import PluginError
from tests.netns.node.support import Node, make_ns, nsrun
from tests.support.prereq import need

pytestmark = pytest.mark.netns


def _kind(node: Node) -> str:
    with open(node.plugin, "rb") as f:
        head = f.read(4)
    return "elf" if head == b"\x7fELF" else "script" if head[:2] == b"#!" else repr(head)


def test_agent_installs_the_compiled_plugin(node: Node) -> None:
    need(os.access(PACKAGED_BINARY, os.X_OK), f"needs the compiled plugin {PACKAGED_BINARY} (./scripts/bootstrap.sh)")
    source = os.path.join(os.path.dirname(PACKAGED_BINARY), "fastshim.c")
    stale = os.path.getmtime(PACKAGED_BINARY) < os.path.getmtime(source)
    assert not stale, "fastshim.c is newer than its build: python -m hubnet.node.cni.fastbuild (or bootstrap.sh)"
    assert _kind(node) == "elf", node.log()
    assert Path(node.plugin).read_bytes() == Path(PACKAGED_BINARY).read_bytes()
    assert Path(f"{node.plugin}-shim").read_text().startswith("#!")  # its fallback, next to it
    assert "installed the compiled CNI plugin" in node.log()
    pod = node.new_pod_netns()
    result = node.add("fast1", pod)
    address = result["ips"][0]["address"]
    assert address in nsrun(pod, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
    node.runtime.check("fast1")
    node.runtime.delete("fast1")
    for name in node.reservations():
        assert "fast1" not in Path(node.ipam_dir, name).read_text()


def test_large_config_is_forwarded_whole(node: Node) -> None:
    """A GC list of a few hundred KiB crosses the socket in many partial reads and writes."""
    valid = [{"containerID": f"keep{i:06d}", "ifname": "eth0"} for i in range(6000)]
    pod = node.new_pod_netns()
    node.add("keep000001", pod)
    cfg = node.plugin_config(**{"cni.dev/valid-attachments": valid})
    assert len(json.dumps(cfg)) > 256 * 1024
    status, out = node.exec_plugin({"CNI_COMMAND": "GC", "CNI_PATH": node.bin}, json.dumps(cfg))
    assert (status, out) == (0, None)
    assert len(node.reservations()) == 1  # kept: it is in the valid list
    node.runtime.delete("keep000001")


def test_compiled_plugin_falls_back_to_the_shim_when_the_agent_is_down(fresh_node: Node) -> None:
    node = fresh_node
    need(_kind(node) == "elf", "needs the compiled plugin (./scripts/bootstrap.sh)")
    pod = node.new_pod_netns()
    node.add("down1", pod)
    node.stop_agent(signal.SIGKILL)
    status, out = node.exec_plugin({"CNI_COMMAND": "VERSION"}, b"")
    assert status == 0 and out["supportedVersions"][-1] == "1.1.0"
    with pytest.raises(PluginError) as err:
        node.add("down2", node.new_pod_netns())
    assert err.value.code == 11
    with pytest.raises(PluginError) as err:
        node.runtime.check("down1")
    assert err.value.code == 11
    with pytest.raises(PluginError) as err:
        node.runtime.status()
    assert err.value.code == 50
    node.runtime.delete("down1")  # the shim releases the reservation from the file store
    assert node.reservations() == []
    node.start_agent()  # the start-up sweep removes the host veth the shim could not delete
    assert node.host_veths() == []


def test_a_package_without_the_compiled_plugin_installs_the_python_shim(tmp_path: Path) -> None:
    """The agent runs from a copy of the package without `hubnet-cni` (a package built with HUBNET_CC empty)."""
    copy = tmp_path / "src"
    shutil.copytree(
        os.path.dirname(hubnet.__file__), copy / "hubnet", ignore=shutil.ignore_patterns("hubnet-cni", "__pycache__")
    )
    node = Node(subnet="10.244.11.0/24")
    try:
        node.ns = make_ns("node")
        node.start_agent(env={"PYTHONPATH": str(copy)})
        assert _kind(node) == "script" and "installed the Python CNI shim" in node.log()
        assert str(copy) in Path(node.plugin).read_text() and not os.path.exists(f"{node.plugin}-shim")
        pod = node.new_pod_netns()
        address = node.add("slow1", pod)["ips"][0]["address"]
        assert address in nsrun(pod, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        node.runtime.delete("slow1")
        assert node.reservations() == [] and node.host_veths() == []
        node.stop_agent(signal.SIGKILL)
        with pytest.raises(PluginError) as err:
            node.add("slow2", node.new_pod_netns())
        assert err.value.code == 11
    finally:
        node.destroy()
