"""A container runtime in miniature (like cnitool): run the plugin from the CNI bin dir with the conflist.

Exactly what libcni does for one network list with one plugin: pick the highest `cniVersions` entry we speak,
pass CNI_* variables and the plugin's config (with `name`, `cniVersion`, `prevResult`) on stdin, keep the ADD result
in `<state>/cni-cache/results/<net>-<containerID>-<ifname>` and feed it back as `prevResult` to CHECK and DEL.
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
    bin_dir: str, plugin_type: str, env: dict[str, str], config: dict[str, Any], timeout: float = 60.0
) -> dict[str, Any] | None:
    """Execute the plugin binary as a runtime does; returns its JSON output or raises PluginError."""
    path = os.path.join(bin_dir, plugin_type)
    full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_PATH": bin_dir, **env}
    proc = subprocess.run(
        [path], input=json.dumps(config).encode(), env=full_env, capture_output=True, timeout=timeout, check=False
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
    state_dir: str
    conf_dir: str
    bin_dir: str

    def _conf(self) -> tuple[dict[str, Any], dict[str, Any], str]:
        conflist = load_conflist(self.conf_dir)
        return conflist, conflist["plugins"][0], pick_version(conflist)

    def _cache_path(self, network: str, container_id: str, ifname: str) -> str:
        return os.path.join(self.state_dir, "cni-cache", "results", f"{network}-{container_id}-{ifname}")

    def _stdin(self, extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        conflist, plugin, version = self._conf()
        config = {**plugin, "cniVersion": version, "name": conflist["name"], **(extra or {})}
        return config, str(plugin["type"])

    def add(
        self, container_id: str, netns: str, ifname: str = "eth0", created_netns: str | None = None
    ) -> dict[str, Any]:
        """ADD, and cache the result; `created_netns` names the netns the caller created for this attachment (kept
        in the cache entry, so that `pod del` removes exactly that one)."""
        config, ptype = self._stdin()
        env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": ifname}
        result = run_plugin(self.bin_dir, ptype, env, config) or {}
        cache = self._cache_path(config["name"], container_id, ifname)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        entry = {"kind": "cniCacheV1", "containerId": container_id, "ifName": ifname, "netns": netns, "result": result}
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
        config, ptype = self._stdin({"prevResult": entry.get("result")} if entry else None)
        ns = netns or entry.get("netns", "")
        env = {"CNI_COMMAND": "CHECK", "CNI_CONTAINERID": container_id, "CNI_NETNS": ns, "CNI_IFNAME": ifname}
        run_plugin(self.bin_dir, ptype, env, config)

    def delete(self, container_id: str, netns: str | None = None, ifname: str = "eth0") -> str | None:
        """DEL with the cached prevResult (when there is one); returns the netns the attachment had."""
        entry = self.cached(container_id, ifname) or {}
        config, ptype = self._stdin({"prevResult": entry["result"]} if entry.get("result") else None)
        ns = netns if netns is not None else str(entry.get("netns", ""))
        env = {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": container_id, "CNI_NETNS": ns, "CNI_IFNAME": ifname}
        run_plugin(self.bin_dir, ptype, env, config)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._cache_path(config["name"], container_id, ifname))
        return ns or None

    def status(self) -> None:
        config, ptype = self._stdin()
        run_plugin(self.bin_dir, ptype, {"CNI_COMMAND": "STATUS"}, config)

    def gc(self, valid: list[tuple[str, str]]) -> None:
        attachments = [{"containerID": c, "ifname": i} for c, i in valid]
        config, ptype = self._stdin({"cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments})
        run_plugin(self.bin_dir, ptype, {"CNI_COMMAND": "GC"}, config)

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(glob.glob(os.path.join(self.state_dir, "cni-cache", "results", "*"))):
            with open(path) as f:
                out.append(json.load(f))
        return out
