"""The agent's unix socket (real sockets in a temp dir, a stub dispatch): timeouts and the single-instance lock."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from hubnet.node.agent.server import AgentSocketServer, AlreadyRunning, lock_state_dir


def test_a_client_that_never_half_closes_does_not_block_stop(tmp_path: Path) -> None:
    server = AgentSocketServer(str(tmp_path / "agent.sock"), lambda req: None, request_timeout=0.3)
    server.start()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(tmp_path / "agent.sock"))
        client.sendall(b'{"half": ')  # ... and never shuts down its write side
        time.sleep(0.1)  # the handler is now blocked reading
        stopper = threading.Thread(target=server.stop, daemon=True)
        started = time.monotonic()
        stopper.start()
        stopper.join(5)
        assert not stopper.is_alive(), "stop() hung on a client that never finished its request"
        assert time.monotonic() - started < 3
        assert client.recv(100) == b""  # the agent dropped the connection
    finally:
        client.close()


def test_a_second_lock_on_the_state_dir_fails_with_a_clear_error(tmp_path: Path) -> None:
    fd = lock_state_dir(str(tmp_path))
    try:
        with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
            lock_state_dir(str(tmp_path))
    finally:
        os.close(fd)
    os.close(lock_state_dir(str(tmp_path)))  # released with the fd: the next agent gets it
