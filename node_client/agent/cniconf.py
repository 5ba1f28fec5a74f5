"""Install the plugin into the CNI bin dir and write the network config — only once the node is ready."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from ipaddress import IPv4Network

import node_client
from node_client.agent.config import NETWORK_NAME, PLUGIN, AgentConfig
from node_client.cni.skel import SUPPORTED_VERSIONS

# `-IS`: no site-packages scan, no environment: the interpreter is up in ~6 ms. The package root goes on
# sys.path by hand; the shim imports only the standard library.
_WRAPPER = """#!{python} -IS
# hubnet CNI plugin, installed by the hubnet node agent. Same as the `hubnet-cni` console script, faster start.
import sys
sys.path.insert(0, {root!r})
from node_client.cni.shim import main
main()
"""


def conflist(config: AgentConfig, subnet: IPv4Network) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "cniVersions": list(SUPPORTED_VERSIONS),
        "name": NETWORK_NAME,
        "plugins": [
            {
                "type": PLUGIN,
                "bridge": config.bridge,
                "subnet": str(subnet),
                "agentSocket": config.socket_path,
                "ipamDir": config.ipam_dir(subnet),
            }
        ],
    }


def install_plugin(config: AgentConfig) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(node_client.__file__)))
    _write_atomic(config.plugin_path, _WRAPPER.format(python=sys.executable, root=root), 0o755)
    return config.plugin_path


def write_conflist(config: AgentConfig, subnet: IPv4Network) -> str:
    _write_atomic(config.conflist_path, json.dumps(conflist(config, subnet), indent=2) + "\n", 0o644)
    return config.conflist_path


def remove(config: AgentConfig) -> None:
    for path in (config.conflist_path, config.plugin_path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _write_atomic(path: str, text: str, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
