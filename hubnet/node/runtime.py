"""A container runtime in miniature (like cnitool): run the plugins of the conflist from the CNI bin dir.

What libcni does for one network list: pick the highest `cniVersions` entry we speak; for each plugin pass the
CNI_* variables and the plugin's config (with `name`, `cniVersion`, `prevResult`, and `runtimeConfig` holding the
capability arguments — `portMappings`, `bandwidth` — the plugin declares in `capabilities`) on stdin. ADD runs the
plugins in order, each getting the previous one's result as `prevResult`; the last result is kept in
`<state>/cni-cache/results/<net>-<containerID>-<ifname>` with the capability arguments, and fed back as
`prevResult` to CHECK (plugins in order) and DEL (in reverse order). STATUS and GC go to the first plugin only.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

from hubnet.node.cnilib.skel import SUPPORTED_VERSIONS, version_key

CREATED_NETNS = "hubnetCreatedNetns"  # our key in a cache entry: the netns name `hubnet node pod add` created


class PluginError(Exception):
    """The plugin failed; carries its CNI error JSON."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"CNI error {code}: {msg}" + (f" ({details})" if details else ""))
        self.code, self.msg, self.details = code, msg, details


def load_conflist(conf_dir: str) -> dict[str, Any]:
    paths = sorted(glob.glob(os.path.join(conf_dir, "*.conflist")))
    if not paths:
        raise FileNotFoundError(f"no *.conflist in {conf_dir!r} (is the node agent ready?)")
    with open(paths[0]) as f:
        data = json.load(f)
    if not isinstance(data, dict) or not data.get("plugins"):
        raise ValueError(f"{paths[0]!r} is not a CNI network list")
    return data


def pick_version(conflist: dict[str, Any]) -> str:
    """libcni 1.1: the highest of `cniVersions` that we support, else `cniVersion`."""
    ours = [v for v in conflist.get("cniVersions") or [] if v in SUPPORTED_VERSIONS]
    return max(ours, key=version_key) if ours else str(conflist.get("cniVersion", "1.0.0"))


def run_plugin(
    bin_dir: str,
    plugin_type: str,
    env: dict[str, str],
    config: dict[str, Any],
    timeout: float = 60.0,
    launcher: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """Execute the plugin binary as a runtime does (through `launcher`, an argv prefix, when there is one); returns
    its JSON output or raises PluginError."""
    path = os.path.join(bin_dir, plugin_type)
    full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_PATH": bin_dir, **env}
    proc = subprocess.run(
        [*launcher, path],
        input=json.dumps(config).encode(),
        env=full_env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    out = json.loads(proc.stdout) if proc.stdout.strip() else None
    if proc.returncode != 0:
        err = out if isinstance(out, dict) else {}
        raise PluginError(
            int(err.get("code", 999)), str(err.get("msg", proc.stderr.decode()[-500:])), err.get("details", "")
        )
    return out if isinstance(out, dict) else None


@dataclass
class Runtime:
    """The node's runtime: plugins run in our network namespace, or through `launcher` (an argv prefix such as
    `ip netns exec <node>`) when the runtime itself lives elsewhere (the lab drives every node's from one process)."""

    state_dir: str
    conf_dir: str
    bin_dir: str
    launcher: tuple[str, ...] = ()

    def _run(self, ptype: str, env: dict[str, str], config: dict[str, Any]) -> dict[str, Any] | None:
        return run_plugin(self.bin_dir, ptype, env, config, launcher=self.launcher)

    def _conf(self) -> tuple[dict[str, Any], dict[str, Any], str]:
        conflist = load_conflist(self.conf_dir)
        return conflist, conflist["plugins"][0], pick_version(conflist)

    def _chain(
        self, capability_args: dict[str, Any] | None, prev: dict[str, Any] | None
    ) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
        """The network name and, for each plugin of the list, its type and stdin (without `prevResult` unless
        `prev`): libcni's `buildOneConfig` + `injectRuntimeConfig`."""
        conflist, _, version = self._conf()
        out = []
        for plugin in conflist["plugins"]:
            config = {**plugin, "cniVersion": version, "name": conflist["name"]}
            wanted = [cap for cap, on in (plugin.get("capabilities") or {}).items() if on]
            runtime = {cap: capability_args[cap] for cap in wanted if capability_args and cap in capability_args}
            if runtime:
                config["runtimeConfig"] = runtime
            if prev is not None:
                config["prevResult"] = prev
            out.append((str(plugin["type"]), config))
        return str(conflist["name"]), out

    def _cache_path(self, network: str, container_id: str, ifname: str) -> str:
        return os.path.join(self.state_dir, "cni-cache", "results", f"{network}-{container_id}-{ifname}")

    def _stdin(self, extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        conflist, plugin, version = self._conf()
        config = {**plugin, "cniVersion": version, "name": conflist["name"], **(extra or {})}
        return config, str(plugin["type"])

    def add(
        self,
        container_id: str,
        netns: str,
        ifname: str = "eth0",
        created_netns: str | None = None,
        capability_args: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """ADD through the chain, and cache the result; `created_netns` names the netns the caller created for this
        attachment (kept in the cache entry, so that `pod del` removes exactly that one); `capability_args` are the
        runtime's (`{"portMappings": [...], "bandwidth": {...}}`), kept for DEL.

        A plugin that fails after the first made its part: DEL runs through the whole chain (what a runtime does
        for a failed ADD), then the error is raised."""
        env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": ifname}
        network, chain = self._chain(capability_args, None)
        result: dict[str, Any] | None = None
        for n, (ptype, config) in enumerate(chain):
            if n:
                config["prevResult"] = result
            try:
                result = self._run(ptype, env, config) or {}
            except PluginError:
                if n:
                    with contextlib.suppress(PluginError, OSError, ValueError):
                        self._del(container_id, netns, ifname, capability_args, result)
                raise
        result = result or {}
        cache = self._cache_path(network, container_id, ifname)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        entry = {"kind": "cniCacheV1", "containerId": container_id, "ifName": ifname, "netns": netns, "result": result}
        if capability_args:
            entry["capabilityArgs"] = capability_args
        if created_netns:
            entry[CREATED_NETNS] = created_netns
        with open(cache, "w") as f:
            json.dump(entry, f)
        return result

    def cached(self, container_id: str, ifname: str = "eth0") -> dict[str, Any] | None:
        config, _ = self._stdin()
        try:
            with open(self._cache_path(config["name"], container_id, ifname)) as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None

    def check(self, container_id: str, netns: str | None = None, ifname: str = "eth0") -> None:
        entry = self.cached(container_id, ifname) or {}
        ns = netns or entry.get("netns", "")
        env = {"CNI_COMMAND": "CHECK", "CNI_CONTAINERID": container_id, "CNI_NETNS": ns, "CNI_IFNAME": ifname}
        for ptype, config in self._chain(entry.get("capabilityArgs"), entry.get("result") if entry else None)[1]:
            self._run(ptype, env, config)

    def delete(self, container_id: str, netns: str | None = None, ifname: str = "eth0") -> str | None:
        """DEL through the chain in reverse order, with the cached prevResult (when there is one); returns the netns
        the attachment had."""
        entry = self.cached(container_id, ifname) or {}
        ns = netns if netns is not None else str(entry.get("netns", ""))
        self._del(container_id, ns, ifname, entry.get("capabilityArgs"), entry.get("result") or None)
        network, _ = self._chain(None, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._cache_path(network, container_id, ifname))
        return ns or None

    def _del(
        self,
        container_id: str,
        netns: str,
        ifname: str,
        capability_args: dict[str, Any] | None,
        prev: dict[str, Any] | None,
    ) -> None:
        env = {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": ifname}
        for ptype, config in reversed(self._chain(capability_args, prev)[1]):
            self._run(ptype, env, config)

    def status(self) -> None:
        config, ptype = self._stdin()
        self._run(ptype, {"CNI_COMMAND": "STATUS"}, config)

    def gc(self, valid: list[tuple[str, str]]) -> None:
        attachments = [{"containerID": c, "ifname": i} for c, i in valid]
        config, ptype = self._stdin({"cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments})
        self._run(ptype, {"CNI_COMMAND": "GC"}, config)

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(glob.glob(os.path.join(self.state_dir, "cni-cache", "results", "*"))):
            with open(path) as f:
                out.append(json.load(f))
        return out
