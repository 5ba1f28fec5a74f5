"""A daemon the controller owns as its child: it dies with us, its output reaches our log, and we reap it.

Dying with the parent: the child sets PR_SET_PDEATHSIG=SIGKILL before it execs. The kernel sends that signal
when the *thread* that forked the child exits, not the process — a speaker restarted from a reconcile thread that
later ends would be killed with it. So every fork happens on one thread that lives as long as the process
(`_Forker`), whoever asks. SIGKILL (never SIGTERM) matters for a BGP speaker: gobgpd answers SIGTERM with a
NOTIFICATION to every peer, and peers drop the routes of a speaker that said goodbye, graceful restart or not —
which is also why the child runs in a session of its own: a signal to our process group never reaches it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from queue import SimpleQueue
from typing import IO

log = logging.getLogger("hubnet.bgp")

PR_SET_PDEATHSIG = 1
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the forked child must not load libraries

Job = tuple[Callable[[], subprocess.Popen[bytes]], "Future[subprocess.Popen[bytes]]"]


class _Forker:
    """The one long-lived thread that forks children (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: SimpleQueue[Job] = SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def spawn(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hubnet-forker", daemon=True)
                self._thread.start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((start, done))
        return done.result()

    def _run(self) -> None:
        while True:
            start, done = self._jobs.get()
            try:
                done.set_result(start())
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)


_FORKER = _Forker()


def _die_with(parent: int, netns_fd: int | None) -> Callable[[], None]:
    """The child's preexec: ask for SIGKILL when the forking thread ends; enter the namespace when asked."""

    def preexec() -> None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect: nobody would kill us later
            os.kill(os.getpid(), signal.SIGKILL)
        if netns_fd is not None and _libc.setns(netns_fd, CLONE_NEWNET) != 0:
            os._exit(127)

    return preexec


class Child:
    """A running child process. `lines` gets each line it prints (stdout and stderr), on a reader thread."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        lines: Callable[[str], None],
        netns: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        fd = _open_netns(netns) if netns else None
        try:
            preexec = _die_with(os.getpid(), fd)
            self.process = _FORKER.spawn(
                lambda: subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    preexec_fn=preexec,  # prctl and setns must run between fork and exec
                    env=env,
                    # Its own session and process group: a signal to the controller's group (Ctrl-C, `kill --
                    # -PGID`, systemd's KillMode=control-group) must not reach gobgpd as SIGTERM/SIGINT, which
                    # it answers with a NOTIFICATION to every peer. It still dies by PDEATHSIG with us.
                    start_new_session=True,
                )
            )
        finally:
            if fd is not None:
                os.close(fd)
        assert self.process.stdout is not None
        self._reader = threading.Thread(
            target=_read_lines,
            args=(self.process.stdout, lines),
            name=f"hubnet-{os.path.basename(argv[0])}-log",
            daemon=True,
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL and reap (idempotent); the log reader ends with the child's output."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.wait(timeout)
        self._reader.join(timeout)


def _open_netns(netns: str) -> int:
    from hubnet.linux.netns import open_fd  # pyroute2 comes with it: only tests and the lab name a namespace

    return open_fd(netns)


def _read_lines(stream: IO[bytes], lines: Callable[[str], None]) -> None:
    with stream:
        for raw in stream:
            try:
                lines(raw.decode("utf-8", "replace").rstrip("\n"))
            except Exception:  # a bad line must not stop the reader: the child would block on a full pipe
                log.exception("failed to handle a line of a child's output")
