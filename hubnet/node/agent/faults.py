"""Fault injection for crash tests: `HUBNET_FAULT=add:after-veth` makes the agent kill itself (SIGKILL) there;
`HUBNET_FAULT=add:after-veth:fail` makes the step fail instead (a netlink error), to exercise the undo path.

Points of an ADD: after-reserve, after-veth, after-move, after-address, before-result. Read once per call, so a
test can restart the agent without the variable.
"""

from __future__ import annotations

import os
import signal

from hubnet.linux.errors import LinuxError

ADD_POINTS = ("after-reserve", "after-veth", "after-move", "after-address", "before-result")


def point(command: str, where: str) -> None:
    """Die here, like kill -9, when HUBNET_FAULT names this command and point; raise LinuxError with `:fail`."""
    fault = os.environ.get("HUBNET_FAULT")
    if fault == f"{command}:{where}":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == f"{command}:{where}:fail":
        raise LinuxError(f"injected fault at {command}:{where}")
