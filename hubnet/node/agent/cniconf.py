"""Install the plugin into the CNI bin dir and write the network config — only once the node is ready.

The plugin's files come with the package (hubnet/node/cni/): the compiled `hubnet-cni`, built with the package,
and the Python shim. The agent copies them; it compiles nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence

import hubnet
import hubnet.node.cni
from hubnet.net import Network
from hubnet.node.agent.config import NETWORK_NAME, PLUGIN, AgentConfig
from hubnet.node.cnilib.skel import SUPPORTED_VERSIONS

log = logging.getLogger(__name__)
PACKAGED_BINARY = os.path.join(os.path.dirname(os.path.abspath(hubnet.node.cni.__file__)), "hubnet-cni")

# `-IS`: no site-packages scan, no environment: the interpreter is up in ~6 ms. The package root goes on
# sys.path by hand; the shim imports only the standard library.
_WRAPPER = """#!{python} -IS
# hubnet CNI plugin, installed by the hubnet node agent. Same as the `hubnet-cni` console script, faster start.
import sys
sys.path.insert(0, {root!r})
from hubnet.node.cni.shim import main
main()
"""


def conflist(config: AgentConfig, subnets: Sequence[Network]) -> dict[str, object]:
    """`subnet` and `ipamDir` are the primary subnet's (IPv4 when the node has one); a dual-stack node's conflist
    adds `subnets` and `ipamDirs` (IPv4 first): the shim releases from every store when the agent is down."""
    plugin: dict[str, object] = {
        "type": PLUGIN,
        "bridge": config.bridge,
        "subnet": str(subnets[0]),
        "agentSocket": config.socket_path,
        "ipamDir": config.ipam_dir(subnets[0]),
    }
    if len(subnets) > 1:
        plugin["subnets"] = [str(s) for s in subnets]
        plugin["ipamDirs"] = [config.ipam_dir(s) for s in subnets]
    return {"cniVersion": "1.0.0", "cniVersions": list(SUPPORTED_VERSIONS), "name": NETWORK_NAME, "plugins": [plugin]}


def install_plugin(config: AgentConfig, binary: str = PACKAGED_BINARY) -> str:
    """Install `hubnet`: the compiled plugin the package carries, else the Python shim wrapper.

    With the compiled plugin the wrapper goes next to it as `hubnet-shim` (written first): the compiled plugin hands
    it VERSION and every invocation it cannot forward (agent down), so those keep the shim's semantics.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(hubnet.__file__)))  # the directory holding `hubnet`
    wrapper = _WRAPPER.format(python=sys.executable, root=root)
    if not os.access(binary, os.X_OK):
        _write_atomic(config.plugin_path, wrapper, 0o755)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(config.fallback_path)
        log.warning(
            "this hubnet package has no compiled CNI plugin (%s; built with HUBNET_CC empty?): installed the Python "
            "CNI shim as %s (~7 ms slower per pod)",
            binary,
            config.plugin_path,
        )
    else:
        _write_atomic(config.fallback_path, wrapper, 0o755)
        tmp = f"{config.plugin_path}.tmp{os.getpid()}"
        shutil.copyfile(binary, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, config.plugin_path)
        log.info("installed the compiled CNI plugin as %s (falls back to %s)", config.plugin_path, config.fallback_path)
    # Only now: the plugin of agents that compiled it at run time fell back to <state-dir>/plugin/hubnet-shim.
    shutil.rmtree(os.path.join(config.state_dir, "plugin"), ignore_errors=True)
    return config.plugin_path


def write_conflist(config: AgentConfig, subnets: Sequence[Network]) -> str:
    _write_atomic(config.conflist_path, json.dumps(conflist(config, subnets), indent=2) + "\n", 0o644)
    return config.conflist_path


def remove(config: AgentConfig) -> None:
    for path in (config.conflist_path, config.plugin_path, config.fallback_path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _write_atomic(path: str, text: str, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
