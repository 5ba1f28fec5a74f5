"""The lab's errors: each one is shown to the user as one clear line (the CLI maps them to exit code 1)."""

from __future__ import annotations

import os
import shutil


class LabError(Exception):
    """A lab operation failed; the message says what and what to do."""


class LabExists(LabError):
    """`up` found a lab of that name already (state directory or namespaces)."""


class LabMissing(LabError):
    """`status` / `check` found no lab of that name."""


class PrerequisiteMissing(LabError):
    """Not root, or iproute2 is not installed."""


def require_host() -> None:
    """The lab needs root (namespaces, netlink) and iproute2 (`ip netns exec` starts the processes)."""
    if os.geteuid() != 0:
        raise PrerequisiteMissing("the lab needs root (network namespaces): run it with sudo")
    if shutil.which("ip") is None:
        raise PrerequisiteMissing("the lab needs iproute2 (`ip`): install it (apt-get install iproute2)")
