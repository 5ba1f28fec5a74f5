"""A private Docker engine for one test, and a stand-in for the Dockerfile's base image built from Debian packages.

The engine (Debian's `docker.io`, 20.10) is our child: started by its own pid with every root of its own under
`/tmp/hnt-dk-…`, a tmpfs (data, exec, socket, pid file), `--iptables=false --ip6tables=false` (the host's firewall
is left alone), `--bridge=none` (no `docker0`), and stopped by that pid; whatever it leaves (containerd shims,
mounts) is removed by pid and by path under that root. It dies with the test process (PDEATHSIG: SIGTERM, so it
still shuts its containers down).

There is no registry of base images on these machines: `import_base` debootstraps Debian bookworm (python 3.11,
as the official `python:3.11-slim-bookworm`) with a virtualenv at /usr/local (so `python`, `pip` and
`pip install --prefix` lay out files as in the official image), the host's CA bundle and pip configuration (pip
reaches PyPI as the host does), and imports it under the Dockerfile's `FROM` tag. The tarball is cached in
/var/tmp/hnt-docker-cache, keyed by what goes into it.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's CLI, the daemon's own version (/usr/local/bin/docker may be another)
COMPOSE = "/usr/bin/docker-compose"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
PROGRAMS = (DOCKERD, DOCKER, COMPOSE, DEBOOTSTRAP, "/usr/bin/containerd", "/usr/sbin/runc")
PREFIX = "hnt-dk-"
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
# python3.11 + venv (ensurepip's wheels) as python:3.11-slim-bookworm; the rest is what the Dockerfile's final stage
# installs anyway (installed here, its apt-get has nothing to fetch but the index).
PACKAGES = ("python3", "python3-venv", "ca-certificates", "iproute2", "nftables", "gobgpd")
HOST_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf")
CACHE = Path("/var/tmp/hnt-docker-cache")
START_TIMEOUT = 60
TMPFS_SIZE = "6g"
STOP_TIMEOUT = 60
PR_SET_PDEATHSIG = 1


@dataclass
class Engine:
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.root / 'docker.sock'}"}

    def run(self, *argv: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`argv` with DOCKER_HOST pointing at this engine; with `check`, a failure raises with its output."""
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            output = done.stdout[-4000:] + done.stderr[-4000:]
            raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n{output}")
        return done

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(DOCKER, *args, timeout=timeout, check=check)


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_engine() -> Engine:
    """Start dockerd on private roots (a short path: containerd's socket lives under it) and wait for its API."""
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
    # On a tmpfs of its own: removing the engine's layers file by file took ~50 s on a test machine's disk, and
    # unmounting takes none. `size` is a ceiling (the lab's layers take ~1.5 GB), not a reservation.
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "hnt-dk", str(root)], check=True)
    argv = [
        DOCKERD,
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'docker.pid'}",
        f"--host=unix://{root / 'docker.sock'}",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        "--userland-proxy=false",
    ]
    with open(root / "dockerd.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    engine = Engine(root, process)
    deadline = time.monotonic() + START_TIMEOUT
    while engine.docker("version", check=False, timeout=10).returncode != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            log_tail = (root / "dockerd.log").read_text(errors="replace")[-3000:]
            stop_engine(engine)
            raise AssertionError(f"dockerd did not come up (exit {process.poll()}):\n{log_tail}")
        time.sleep(0.5)
    driver = engine.docker("info", "--format", "{{.Driver}}").stdout.strip()
    if driver != "overlay2":  # vfs copies every layer in full: the build would not fit the test's time
        stop_engine(engine)
        raise AssertionError(f"dockerd chose the storage driver {driver!r}, not overlay2")
    return engine


def stop_engine(engine: Engine) -> None:
    """Stop dockerd by its pid, then remove what it may have left: processes and mounts under its root, the root."""
    if engine.process.poll() is None:
        engine.process.terminate()
        try:
            engine.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            engine.process.kill()
            engine.process.wait(10)
    for pid in processes_under(engine.root):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    unmount_under(engine.root)
    shutil.rmtree(engine.root, ignore_errors=True)


def processes_under(root: Path) -> list[int]:
    """Pids whose command line names `root` (containerd and its shims name their sockets and state there)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as fh:
            if str(root).encode() in fh.read():
                found.append(int(entry))
    return found


def mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    return [p for p in points if p == str(root) or p.startswith(f"{root}/")]


def unmount_under(root: Path) -> None:
    for point in reversed(mounts_under(root)):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def base_tarball() -> Path:
    """The stand-in base image's root filesystem as a tarball: from the cache, or debootstrapped now (~1.5 min)."""
    key = hashlib.sha256(repr((MIRROR, SUITE, PACKAGES)).encode())
    for name in HOST_FILES:
        key.update(Path(name).read_bytes() if Path(name).exists() else b"-")
    tarball = CACHE / f"base-{SUITE}-{key.hexdigest()[:16]}.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix=PREFIX + "base-", dir="/var/tmp"))
    try:
        _debootstrap(rootfs)
        partial = tarball.with_suffix(f".{os.getpid()}.partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True, capture_output=True)
        partial.rename(tarball)  # atomic: a concurrent or interrupted run never sees half a tarball
    finally:
        unmount_under(rootfs)
        shutil.rmtree(rootfs, ignore_errors=True)
    return tarball


def _debootstrap(rootfs: Path) -> None:
    argv = [DEBOOTSTRAP, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), MIRROR]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"debootstrap exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    # A virtualenv at /usr/local: `python`/`pip` on PATH, and `pip install --prefix=/install` + `COPY /install
    # /usr/local` land in its site-packages, as in the official image (Debian's own python would refuse pip
    # installs, PEP 668, and put a prefix install under local/lib/…/dist-packages).
    subprocess.run(["chroot", str(rootfs), "/usr/bin/python3", "-m", "venv", "/usr/local"], check=True)
    for name in HOST_FILES:
        if Path(name).exists():
            shutil.copyfile(name, rootfs / name.lstrip("/"))
    subprocess.run(["chroot", str(rootfs), "apt-get", "clean"], check=True)
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)


def import_base(engine: Engine, tag: str) -> None:
    """Import the stand-in base under `tag` (the Dockerfile's FROM), with the official image's PATH and CMD."""
    tarball = base_tarball()
    argv = [DOCKER, "import", "--change", "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"]
    argv += ["--change", 'CMD ["python3"]', str(tarball), tag]
    engine.run(*argv, timeout=300)


@contextmanager
def engine() -> Iterator[Engine]:
    """A private dockerd for the duration of the block, stopped and cleaned away whatever happens inside."""
    started = start_engine()
    try:
        yield started
    finally:
        stop_engine(started)
