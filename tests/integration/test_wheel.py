"""The wheel an operator builds (`python -m build --wheel`): it carries the compiled CNI plugin, so a node without a
C compiler still gets it, not the Python shim; and installed into a fresh virtualenv with its dependencies, it serves.

Builds the wheel from a clean copy of the source (the build hook compiles fastshim.c), installs it into a fresh
virtualenv with no compiler on PATH and HUBNET_CC empty, and has the installed agent code install the plugin; then
into another fresh virtualenv with its dependencies from the package index, where `hubnet server` answers /readyz.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubnet.node.cni import fastbuild
from tests.integration.support import Server, running
from tests.support.prereq import need

ROOT = Path(__file__).resolve().parents[2]
SKIP = ("build", "dist", "*.egg-info", "__pycache__", ".venv", ".git", ".lab", "state", fastbuild.BINARY)
INSTALL = """
import json, sys
from ipaddress import IPv4Address
from hubnet.node.agent import cniconf
from hubnet.node.agent.config import AgentConfig
config = AgentConfig(name="n1", address=IPv4Address("10.0.0.1"), state_dir=sys.argv[1], cni_bin_dir=sys.argv[2])
print(json.dumps({"packaged": cniconf.PACKAGED_BINARY, "installed": cniconf.install_plugin(config)}))
"""


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run outside the source tree: `python -c` would otherwise import hubnet.node from the working directory."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, env=env, cwd="/")
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(fastbuild.find_compiler() is not None, "needs a C compiler (cc) to build the wheel")
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*SKIP))
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(src)])
    (built,) = (work / "dist").glob("hubnet-*.whl")
    return built


def test_the_wheel_carries_the_compiled_plugin(wheel: Path) -> None:
    assert "-py3-none-linux_" in wheel.name, wheel.name  # a platform wheel, for any Python 3
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo(f"hubnet/node/cni/{fastbuild.BINARY}")
        assert zf.read(info)[:4] == b"\x7fELF"
        assert (info.external_attr >> 16) & stat.S_IXUSR, oct(info.external_attr >> 16)


def test_the_wheel_carries_the_web_console(wheel: Path) -> None:
    """/ui is served from package data: every file of hubnet/server/ui/static is in the wheel."""
    static = ROOT / "hubnet" / "server" / "ui" / "static"
    wanted = {f"hubnet/server/ui/static/{p.name}" for p in static.iterdir()}
    with zipfile.ZipFile(wheel) as zf:
        assert wanted <= set(zf.namelist()), wanted - set(zf.namelist())
    assert "hubnet/server/ui/static/index.html" in wanted


def test_a_node_without_a_compiler_installs_the_compiled_plugin(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    no_cc = {"PATH": str(venv / "bin"), "HUBNET_CC": "", "HOME": str(tmp_path)}
    assert shutil.which("cc", path=no_cc["PATH"]) is None and shutil.which("gcc", path=no_cc["PATH"]) is None
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], env=no_cc)

    bin_dir, state = tmp_path / "cni-bin", tmp_path / "state"
    out = json.loads(_run([python, "-c", INSTALL, str(state), str(bin_dir)], env=no_cc).stdout)
    packaged, installed = Path(out["packaged"]), Path(out["installed"])
    assert packaged.is_relative_to(venv) and os.access(packaged, os.X_OK)
    assert installed == bin_dir / "hubnet" and installed.read_bytes() == packaged.read_bytes()  # the ELF, not the shim
    assert os.access(installed, os.X_OK)
    assert (bin_dir / "hubnet-shim").read_text().startswith(f"#!{python} -IS")

    # and it runs there: VERSION and an unreachable agent go through its Python fallback in that virtualenv
    conf = json.dumps({"cniVersion": "1.0.0", "name": "hubnet", "agentSocket": str(tmp_path / "none.sock")})
    env = {**no_cc, "CNI_PATH": str(bin_dir), "CNI_CONTAINERID": "c1", "CNI_NETNS": "/x", "CNI_IFNAME": "eth0"}
    version = subprocess.run([installed], env={**env, "CNI_COMMAND": "VERSION"}, capture_output=True, timeout=30)
    assert version.returncode == 0 and "1.1.0" in json.loads(version.stdout)["supportedVersions"]
    add = subprocess.run([installed], input=conf.encode(), env={**env, "CNI_COMMAND": "ADD"}, capture_output=True)
    assert add.returncode == 1 and json.loads(add.stdout)["code"] == 11, add.stdout


@dataclass
class InstalledServer(Server):
    """`hubnet server` from the virtualenv the wheel was installed into (not this checkout's)."""

    venv: Path = Path("/nonexistent")

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "hubnet"), "server"]


def test_the_wheel_installs_into_a_fresh_venv_and_serves(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)])  # dependencies from the index
    server = InstalledServer(db_url=f"sqlite:///{tmp_path / 'hubnet.db'}", log_dir=tmp_path, venv=venv)
    with running(server), server.client() as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert client.get("/healthz").status_code == 200
