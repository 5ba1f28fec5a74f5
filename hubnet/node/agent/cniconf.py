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
import subprocess
import sys
from collections.abc import Collection, Sequence

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


# The plugins `--cni-chain` may name, each with its entry in the conflist (as flannel and Calico ship them): portmap
# makes a pod's hostPort work (`snat`: also from the node itself and hairpin), bandwidth its traffic-shaping
# annotations. The runtime fills `runtimeConfig` for the capabilities a plugin declares.
CHAINABLE: dict[str, dict[str, object]] = {
    "portmap": {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
    "bandwidth": {"type": "bandwidth", "capabilities": {"bandwidth": True}},
}


def conflist(
    config: AgentConfig, subnets: Sequence[Network], chain: Sequence[tuple[str, Collection[str]]] = ()
) -> dict[str, object]:
    """`subnet` and `ipamDir` are the primary subnet's (IPv4 when the node has one); a dual-stack node's conflist
    adds `subnets` and `ipamDirs` (IPv4 first): the shim releases from every store when the agent is down.

    `chain`: the chained plugins after `hubnet` (names of CHAINABLE, in order) with the CNI versions each speaks;
    `cniVersions` lists only the versions every plugin of the list speaks (a runtime picks one for all of them)."""
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
    versions = [v for v in SUPPORTED_VERSIONS if all(v in speaks for _, speaks in chain)]
    top = "1.0.0" if "1.0.0" in versions else versions[-1]
    plugins = [plugin, *(dict(CHAINABLE[name]) for name, _ in chain)]
    return {"cniVersion": top, "cniVersions": versions, "name": NETWORK_NAME, "plugins": plugins}


def plugin_versions(path: str, timeout: float = 5.0) -> tuple[str, ...]:
    """The CNI versions the plugin at `path` speaks (its VERSION answer); () when it is not there or did not answer
    a VERSION query (not executable, crashed, not JSON)."""
    if not os.access(path, os.X_OK):
        return ()
    env = {"CNI_COMMAND": "VERSION", "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    try:
        proc = subprocess.run(
            [path], input=b'{"cniVersion": "0.4.0"}', env=env, capture_output=True, timeout=timeout, check=False
        )
        answer = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return ()
    versions = answer.get("supportedVersions") if isinstance(answer, dict) else None
    if proc.returncode != 0 or not isinstance(versions, list):
        return ()
    return tuple(str(v) for v in versions)


def find_chain(config: AgentConfig) -> list[tuple[str, tuple[str, ...]]]:
    """The plugins of `--cni-chain` that are in the CNI bin dir and share a CNI version with hubnet and with those
    before them, in order; each one left out is logged (a hostPort that silently does nothing is what chaining
    portmap is for)."""
    chain: list[tuple[str, tuple[str, ...]]] = []
    common = set(SUPPORTED_VERSIONS)
    for name in config.cni_chain:
        path = os.path.join(config.cni_bin_dir, name)
        speaks = plugin_versions(path)
        if not speaks:
            log.warning("not chaining %s: no working CNI plugin at %s (hostPort/bandwidth need it)", name, path)
        elif not common & set(speaks):
            log.warning("not chaining %s: it speaks CNI %s, hubnet and the chain %s", name, speaks, sorted(common))
        else:
            common &= set(speaks)
            chain.append((name, speaks))
    return chain


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
    """The conflist, with the chained plugins of `--cni-chain` found in the CNI bin dir."""
    chain = find_chain(config)
    text = json.dumps(conflist(config, subnets, chain), indent=2) + "\n"
    try:
        with open(config.conflist_path) as f:
            unchanged = f.read() == text
    except OSError:
        unchanged = False
    if not unchanged:
        log.info("writing %s (chained: %s)", config.conflist_path, ", ".join(n for n, _ in chain) or "none")
        _write_atomic(config.conflist_path, text, 0o644)
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
