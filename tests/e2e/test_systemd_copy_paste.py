"""The bare-metal copy-paste of docs/install.md, run for real (issue 15): the three units of deploy/systemd/ started
the way systemd would start them, in network namespaces, with the `/etc/hubnet/*.env` files the doc tells the
operator to write.

No systemd runs here (a container: `systemctl` cannot start anything), so the test does systemd's part itself:

* parses each unit's `[Service]` (ExecStart=, ExecStartPre=, EnvironmentFile=, Environment=, StateDirectory=,
  WorkingDirectory=, DynamicUser=, AmbientCapabilities=, CapabilityBoundingSet=, NoNewPrivileges=, UMask=) and
  expands the command line as systemd.service(5) "Command lines" says: `${VAR}` is one word, a word `$VAR` splits
  on whitespace, `$$` is `$`; an unset variable fails the test (systemd would run with an empty word);
* gives the process systemd's environment: PATH, the EnvironmentFile= and Environment= variables, STATE_DIRECTORY;
  working directory `/` unless WorkingDirectory= says otherwise; the UMask=;
* through `setpriv`: every unit gets its CapabilityBoundingSet= (the root node agent has only those) and
  NoNewPrivileges=, a `DynamicUser=yes` unit runs as `nobody` with its AmbientCapabilities=: a capability a unit
  forgot fails here (the test checks /proc/<pid>/status: uid, bounding and effective sets). The controller runs
  with HUBNET_ROUTE_BACKEND=none, so with both capability lines emptied as the unit's comment and the doc say.

Substituted, and only these: the program path of ExecStart= (`/usr/local/bin/hubnet`) by this checkout's `hubnet`;
`/var/lib/<StateDirectory>` by a fresh directory (owned by `nobody` for a dynamic user, as systemd chowns it);
the node unit's `/etc/cni/net.d` and `/opt/cni/bin` by temporary directories (the host's are never written); the
`/etc/hubnet/` of EnvironmentFile= by a temporary directory, where the env files are produced from the doc: node.env
by running the doc's own `printf … > /etc/hubnet/node.env && chmod 0600 …` line (path replaced), controller.env and
router.env (the doc lists their variable names only) from those names with test values.

Topology: namespace R (`hnt-r-…`, the hub router: the controller unit with HUBNET_ROUTE_BACKEND=none and the router
agent unit, the HA form) and namespace N (`hnt-n-…`, the node unit), one veth between them carrying the doc's own
addresses (R 192.168.1.1/24, N 192.168.1.11/24: the namespaces are private, so the doc's values are used verbatim).
The checks are an operator's: /readyz, the router `up` in GET /v1/routers, the node active with its route
programmed, `10.244.N.0/24 via 192.168.1.11 proto 44` in R's kernel, the bridge v-net-0 with the gateway in N; then
SIGTERM (systemd's stop) ends every process cleanly within a few seconds. Not covered: systemd's sandboxing itself
(ProtectSystem=, PrivateTmp=, SystemCallFilter=, …; tests/unit/test_systemd_units.py verifies the unit files),
Restart=, ordering between units, and PostgreSQL (the controller runs on SQLite in its state directory).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hubnet.cli.controllers import ENV as CONTROLLERS_ENV
from tests.e2e.conftest import need_lab
from tests.support.netns import add_netns, del_netns, new_name, sh
from tests.support.prereq import need

pytestmark = [pytest.mark.e2e, pytest.mark.netns]

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALL_MD = ROOT / "docs" / "install.md"
HUBNET = str(Path(sys.executable).with_name("hubnet"))
UNIT_BINARY = "/usr/local/bin/hubnet"
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # systemd's PATH for services
NOBODY = 65534
SYSTEMD_SETS = {"PATH", "LANG", "USER", "LOGNAME", "HOME", "SHELL"}  # set by systemd, not by the unit
ROUTER_ADDR, NODE_ADDR = "192.168.1.1", "192.168.1.11"  # the doc's values (node.env, HUBNET_CONTROLLERS)
PORT = 6780


# -- what systemd does with a unit ------------------------------------------------------------------------------
def service_section(path: Path) -> dict[str, list[str]]:
    """[Service] settings, every assignment of a key in order (systemd's syntax: `#`/`;` comments, `\\` joins)."""
    out: dict[str, list[str]] = {}
    section = ""
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section == "Service" and "=" in line:
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def environment_file(path: Path) -> dict[str, str]:
    """systemd.exec(5) EnvironmentFile=: KEY=VALUE lines, `#`/`;` comments, quotes around a value removed."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, eq, value = line.partition("=")
        assert eq, f"{path.name}: not an assignment: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_command(line: str, env: dict[str, str]) -> list[str]:
    """systemd.service(5) "Command lines": `${VAR}` in a word is replaced (one word), a whole word `$VAR` is split at
    whitespace, `$$` is `$`. The `@-:+!` prefixes are dropped. An unset variable fails (systemd runs with an empty
    string and only logs it: the node would join under an empty name)."""
    line = line.lstrip("@-:+!")

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        assert name in env, f"the command line uses ${{{name}}}, which no EnvironmentFile=/Environment= sets"
        return env[name]

    words: list[str] = []
    for word in shlex.split(line):
        bare = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if bare:
            assert bare.group(1) in env, f"the command line uses ${bare.group(1)}, which nothing sets"
            words.extend(env[bare.group(1)].split())
        else:
            words.append(_VAR.sub(one, word))
    return words


@dataclass
class Unit:
    """One unit as systemd would run it, with the test's substitutions (`paths`: unit path → test path)."""

    name: str
    env_dir: Path  # stands for /etc/hubnet
    paths: dict[str, str]
    settings: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.settings = service_section(UNITS / self.name)

    def one(self, key: str, default: str = "") -> str:
        values = self.settings.get(key, [default])
        return values[-1]

    def substitute(self, text: str) -> str:
        for unit_path, test_path in self.paths.items():
            text = text.replace(unit_path, test_path)
        return text

    @property
    def state_dirs(self) -> list[str]:
        return [f"/var/lib/{d}" for v in self.settings.get("StateDirectory", []) for d in v.split()]

    def environment(self) -> dict[str, str]:
        env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8"}
        if self.one("DynamicUser", "no") == "yes":
            env |= {"USER": "nobody", "LOGNAME": "nobody", "HOME": "/", "SHELL": "/usr/sbin/nologin"}  # as systemd does
        assert set(env) <= SYSTEMD_SETS
        for value in self.settings.get("Environment", []):
            for item in shlex.split(value):
                key, _, val = item.partition("=")
                env[key] = self.substitute(val)
        for value in self.settings.get("EnvironmentFile", []):
            optional = value.startswith("-")
            path = Path(value.lstrip("-"))
            assert path.parent == Path("/etc/hubnet"), f"{self.name}: EnvironmentFile={value} is not in /etc/hubnet"
            local = self.env_dir / path.name
            assert local.exists() or optional, f"{self.name}: the doc never writes {path}"
            env.update(environment_file(local))
        if self.state_dirs:
            env["STATE_DIRECTORY"] = ":".join(self.substitute(d) for d in self.state_dirs)
        assert "RuntimeDirectory" not in self.settings, "RUNTIME_DIRECTORY: add it here when a unit uses it"
        return env

    def argv(self, key: str = "ExecStart") -> list[list[str]]:
        env = self.environment()
        out = []
        for line in self.settings.get(key, []):
            words = expand_command(line, env)
            assert words[0] == UNIT_BINARY, f"{self.name}: {key} runs {words[0]}, not {UNIT_BINARY}"
            out.append([HUBNET, *(self.substitute(w) for w in words[1:])])
        return out

    def wrapper(self) -> list[str]:
        """setpriv doing systemd's part: CapabilityBoundingSet= for every unit (root gets only those), and for a
        DynamicUser= unit the user (nobody) and its AmbientCapabilities=; NoNewPrivileges=."""
        bounding = [c.removeprefix("CAP_").lower() for c in self.one("CapabilityBoundingSet").split()]
        wrap = ["setpriv", "--bounding-set=-all" + "".join(f",+{c}" for c in bounding)]  # empty: none at all
        if self.one("DynamicUser", "no") == "yes":
            wrap += [f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
            caps = [c.removeprefix("CAP_").lower() for c in self.one("AmbientCapabilities").split()]
            if caps:
                wrap += ["--inh-caps=" + ",".join(f"+{c}" for c in caps)]
                wrap += ["--ambient-caps=" + ",".join(f"+{c}" for c in caps)]
        if self.one("NoNewPrivileges", "no") == "yes":
            wrap.append("--no-new-privs")
        return [*wrap, "--"]

    def start(self, ns: str, log: Path) -> subprocess.Popen[bytes]:
        for pre in self.argv("ExecStartPre"):
            done = subprocess.run(["ip", "netns", "exec", ns, *self.wrapper(), *pre], capture_output=True, timeout=30)
            assert done.returncode == 0, f"{self.name}: ExecStartPre {pre} failed: {done.stderr!r}"
        (argv,) = self.argv()
        umask = int(self.one("UMask", "0022"), 8)
        cwd = self.substitute(self.one("WorkingDirectory", "/"))
        with open(log, "wb") as out:
            return subprocess.Popen(
                ["ip", "netns", "exec", ns, *self.wrapper(), *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=cwd,
                umask=umask,
            )


# -- what the doc says -------------------------------------------------------------------------------------------
def doc_env_names() -> dict[str, set[str]]:
    """The table of the "Bare metal: systemd" section: env file → the variable names the doc lists for it."""
    out: dict[str, set[str]] = {}
    for row in re.findall(r"^\| `hubnet-\w+\.service` \|.*\|(.*)\|$", INSTALL_MD.read_text(), re.MULTILINE):
        file, _, names = row.partition(":")
        out[file.strip(" `")] = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", names))
    return out


def doc_write_node_env(env_dir: Path, token: str) -> None:
    """Run the doc's own lines that write /etc/hubnet/node.env (its sh block, `printf` to `chmod`), /etc/hubnet/
    replaced by `env_dir`."""
    text = INSTALL_MD.read_text()
    block = re.search(r"```sh\n(.*?/etc/hubnet/node\.env.*?)```", text, re.DOTALL)
    assert block, "docs/install.md has no sh block writing /etc/hubnet/node.env"
    lines = re.sub(r"\\\n\s*", "", block.group(1)).splitlines()
    (line,) = [x for x in lines if x.startswith("printf ") and "/etc/hubnet/node.env" in x]
    line = line.replace("/etc/hubnet/", f"{env_dir}/")
    done = subprocess.run(["sh", "-ec", line], env={"PATH": SYSTEMD_PATH, "TOKEN": token}, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert (env_dir / "node.env").stat().st_mode & 0o777 == 0o600


def command_reads(unit: Unit) -> set[str]:
    """The variables a unit's command line reads from its environment: the `${VAR}`s of ExecStart= and the HUBNET_*
    variables of the program it runs (test_deploy's list: option envvars, HUBNET_CONTROLLERS, the controller's
    Settings)."""
    from tests.unit.test_deploy import _command, _reads

    (line,) = unit.settings["ExecStart"]
    words = shlex.split(line)
    command, _ = _command(words[1:])
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", line)) | _reads(command, words[1:])


def test_the_env_files_the_doc_lists_are_what_the_units_need(tmp_path: Path) -> None:
    listed = doc_env_names()
    assert set(listed) == {"controller.env", "router.env", "node.env"}
    for name in ("hubnet-router.service", "hubnet-node.service"):
        unit = Unit(name, tmp_path, {})
        env_file = Path(unit.one("EnvironmentFile")).name
        assert listed[env_file] == command_reads(unit), f"{env_file}: the doc's names are not what {name} reads"
    controller = Unit("hubnet-controller.service", tmp_path, {})
    reads = command_reads(controller)
    assert listed["controller.env"] <= reads, "controller.env names a variable the controller does not read"
    set_by_unit = {v.split("=", 1)[0] for v in controller.settings.get("Environment", [])}
    assert not listed["controller.env"] & set_by_unit, "the unit's Environment= would be overridden by the env file"
    doc_write_node_env(tmp_path, "t0ken")
    assert set(environment_file(tmp_path / "node.env")) == listed["node.env"]


# -- the run ---------------------------------------------------------------------------------------------------
@dataclass
class Run:
    router_ns: str
    node_ns: str
    root: Path
    admin: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def api(self, path: str) -> tuple[int, Any]:
        """GET from inside R (the controller listens on 192.168.1.1, the doc's address)."""
        cmd = ["curl", "-s", "-m", "3", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {self.admin}"]
        done = sh(*cmd, f"http://{ROUTER_ADDR}:{PORT}{path}", ns=self.router_ns, check=False)
        body, _, code = done.stdout.rpartition("\n")
        try:
            return int(code or 0), json.loads(body) if body.strip() else None
        except json.JSONDecodeError:
            return int(code or 0), body

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in self.root.glob("*.log"))

    def wait(self, what: str, ok: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            assert not dead, f"exited while waiting for {what}: {dead}\n{self.logs()}"
            if ok():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")


CAP_NAMES = {0: "CHOWN", 1: "DAC_OVERRIDE", 3: "FOWNER", 10: "NET_BIND_SERVICE", 12: "NET_ADMIN", 13: "NET_RAW",
             21: "SYS_ADMIN"}  # fmt: skip


def capabilities(mask: int) -> set[str]:
    return {CAP_NAMES.get(bit, str(bit)) for bit in range(64) if mask >> bit & 1}


def _dirs(base: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        (base / name).mkdir(mode=0o700)
        out.append(base / name)
    return out


@pytest.fixture
def run() -> Iterator[Run]:
    need_lab()
    need(shutil.which("setpriv") is not None, "needs setpriv (util-linux): the dynamic users run as nobody")
    router_ns, node_ns = new_name("r"), new_name("n")
    # the dynamic users' state directories must be reachable by nobody: pytest's tmp_path is under a 0700 directory
    base = Path(tempfile.mkdtemp(prefix="hnt-units-"))
    base.chmod(0o755)
    result = Run(router_ns, node_ns, base, secrets.token_hex(16))
    try:
        add_netns(router_ns)
        add_netns(node_ns)
        tag = secrets.token_hex(3)
        sh("ip", "link", "add", f"hnt-r{tag}", "netns", router_ns, "type", "veth", "peer", "name", f"hnt-n{tag}",
           "netns", node_ns)  # fmt: skip
        sh("ip", "addr", "add", f"{ROUTER_ADDR}/24", "dev", f"hnt-r{tag}", ns=router_ns)
        sh("ip", "link", "set", f"hnt-r{tag}", "up", ns=router_ns)
        sh("ip", "addr", "add", f"{NODE_ADDR}/24", "dev", f"hnt-n{tag}", ns=node_ns)
        sh("ip", "link", "set", f"hnt-n{tag}", "up", ns=node_ns)
        yield result
    finally:
        for proc in result.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        del_netns(node_ns)
        del_netns(router_ns)
        shutil.rmtree(base, ignore_errors=True)  # the logs are in the failure messages


def test_the_three_units_run_as_the_doc_installs_them(run: Run) -> None:
    token = secrets.token_hex(16)
    env_dir, controller_state, router_state, node_state, conf, cni_bin = _dirs(
        run.root, "etc-hubnet", "controller-state", "router-state", "node-state", "cni-net.d", "cni-bin"
    )
    # the env files: node.env by the doc's printf, the others from the names the doc lists (test values)
    doc_write_node_env(env_dir, token)
    listed = doc_env_names()
    controller_values = {
        "HUBNET_LISTEN": f"0.0.0.0:{PORT}",
        "HUBNET_CLUSTER_CIDR": "10.244.0.0/16",
        "HUBNET_ROUTER_ADDRESS": ROUTER_ADDR,
        "HUBNET_ROUTE_BACKEND": "none",  # the HA form: the router agent programs the routes
        "HUBNET_BOOTSTRAP_TOKENS": token,
        "HUBNET_ADMIN_TOKENS": run.admin,
        "HUBNET_DATABASE_URL": "",  # empty: SQLite in the state directory
    }
    router_values = {
        CONTROLLERS_ENV: f"http://{ROUTER_ADDR}:{PORT}",
        "HUBNET_BOOTSTRAP_TOKEN": token,
        "ROUTER_NAME": "r1",
    }
    for file, values in (("controller.env", controller_values), ("router.env", router_values)):
        assert set(values) == listed[file], f"{file}: the doc lists {sorted(listed[file])}"
        (env_dir / file).write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        (env_dir / file).chmod(0o600)

    def unit(name: str, state: Path, **extra: str) -> Unit:
        u = Unit(name, env_dir, {})
        (state_dir,) = u.state_dirs
        u.paths = {state_dir: str(state), **extra}
        if u.one("DynamicUser", "no") == "yes":
            os.chown(state, NOBODY, NOBODY)  # systemd chowns a dynamic user's StateDirectory= to it
        return u

    controller = unit("hubnet-controller.service", controller_state)
    # the unit's comment and the doc: with HUBNET_ROUTE_BACKEND=none "empty both lines" (no capabilities at all)
    assert "empty both lines" in (UNITS / controller.name).read_text() and "empty both lines" in INSTALL_MD.read_text()
    controller.settings["CapabilityBoundingSet"] = controller.settings["AmbientCapabilities"] = [""]
    router = unit("hubnet-router.service", router_state)
    node = unit("hubnet-node.service", node_state, **{"/etc/cni/net.d": str(conf), "/opt/cni/bin": str(cni_bin)})
    node_argv = " ".join(node.argv()[0])
    assert str(conf) in node_argv and str(cni_bin) in node_argv, "the node unit no longer passes its CNI dirs"
    # ProtectSystem=strict: what a unit names on its command line and in its environment, other than its program,
    # is its StateDirectory= or a ReadWritePaths= (all substituted by now: nothing else is left under / )
    for u in (controller, router, node):
        writable = {*u.state_dirs, *(p for v in u.settings.get("ReadWritePaths", []) for p in v.split())}
        assert set(u.paths) == writable, (u.name, sorted(u.paths), sorted(writable))
        (argv,) = u.argv()
        named = [*argv[1:], *(v for k, v in u.environment().items() if k not in SYSTEMD_SETS)]
        outside = [w for w in named if w.startswith("/") and not w.startswith(str(run.root))]
        assert not outside, f"{u.name} names {outside}, neither its StateDirectory= nor a ReadWritePaths="

    t0 = time.monotonic()
    run.procs["controller"] = controller.start(run.router_ns, run.root / "controller.log")
    run.wait("the controller's /readyz", lambda: run.api("/readyz")[0] == 200)
    run.procs["router"] = router.start(run.router_ns, run.root / "router.log")
    run.procs["node"] = node.start(run.node_ns, run.root / "node.log")

    def router_up() -> bool:
        code, body = run.api("/v1/routers")
        return code == 200 and any(r["name"] == "r1" and r["status"] == "up" for r in body["items"])

    def node_ready() -> bool:
        code, body = run.api("/v1/nodes/node-1")
        return code == 200 and body["state"] == "active" and body.get("route_state") == "programmed"

    run.wait("router r1 up in GET /v1/routers", router_up)
    run.wait("node-1 active with its route programmed", node_ready)
    _, record = run.api("/v1/nodes/node-1")
    assert record["address"] == NODE_ADDR and record.get("route_states") == {"r1": "programmed"}, record
    subnet = ipaddress.ip_network(record["subnet"])
    assert subnet.subnet_of(ipaddress.ip_network("10.244.0.0/16")) and subnet.prefixlen == 24
    routes = sh("ip", "route", "show", "proto", "44", ns=run.router_ns).stdout
    assert f"{subnet} via {NODE_ADDR} dev" in routes, routes
    gateway = f"{subnet.network_address + 1}/{subnet.prefixlen}"
    bridge = ["ip", "addr", "show", "dev", "v-net-0"]
    run.wait("v-net-0 with the gateway", lambda: gateway in sh(*bridge, ns=run.node_ns, check=False).stdout)
    # each ran as systemd would run it: the dynamic users as nobody, every one with only its unit's capabilities
    for name, u in (("controller", controller), ("router", router), ("node", node)):
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{run.procs[name].pid}/status").read_text().splitlines()
        )
        uid = int(status["Uid"].split()[1])  # the effective uid
        assert (uid == NOBODY) == (u.one("DynamicUser", "no") == "yes"), f"{name} runs as uid {uid}"
        bounding = {c.removeprefix("CAP_") for c in u.one("CapabilityBoundingSet").split()}
        assert capabilities(int(status["CapBnd"], 16)) == bounding, (name, status["CapBnd"])
        ambient = {c.removeprefix("CAP_") for c in u.one("AmbientCapabilities").split()}
        effective = bounding if uid == 0 else ambient
        assert capabilities(int(status["CapEff"], 16)) == effective, (name, status["CapEff"])
    # once its route is programmed the node is ready: the plugin and the conflist (in the substituted CNI dirs)
    run.wait("the CNI plugin and conflist", lambda: any(conf.glob("*.conflist")) and (cni_bin / "hubnet").exists())
    up = time.monotonic() - t0
    stopped: dict[str, float] = {}

    # systemctl stop: SIGTERM (KillSignal=), a clean exit well within systemd's timeout; clean as systemd.service(5)
    # SuccessExitStatus= counts it: status 0, or death by the SIGTERM it sent (uvicorn re-raises the signal)
    for name in ("node", "router", "controller"):
        proc = run.procs[name]
        proc.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name} did not stop within 5 s of SIGTERM\n{run.logs()}") from None
        assert code in (0, -signal.SIGTERM), f"{name} exited {code} on SIGTERM\n{run.logs()}"
        stopped[name] = round(time.monotonic() - stopping, 1)
    # stopping the agents leaves the network in place (the unit files' promise)
    assert f"{subnet} via {NODE_ADDR}" in sh("ip", "route", "show", "proto", "44", ns=run.router_ns).stdout
    assert gateway in sh(*bridge, ns=run.node_ns).stdout
    assert up < 30, f"took {up:.1f} s to come up"
    print(f"up in {up:.1f} s; stopped in {stopped} s")
