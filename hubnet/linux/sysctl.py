"""sysctls through /proc/sys (of the calling process's network namespace)."""

from __future__ import annotations

from hubnet.linux.errors import LinuxError

IP_FORWARD = "net.ipv4.ip_forward"


def _path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def read(name: str) -> str:
    try:
        with open(_path(name)) as f:
            return f.read().strip()
    except OSError as exc:
        raise LinuxError(f"failed to read sysctl {name}: {exc.strerror}", errno=exc.errno) from None


def ensure(name: str, value: str) -> bool:
    """Set the sysctl when it differs; True when it was changed."""
    if read(name) == value:
        return False
    try:
        with open(_path(name), "w") as f:
            f.write(value)
    except OSError as exc:
        raise LinuxError(f"failed to set sysctl {name}={value}: {exc.strerror}", errno=exc.errno) from None
    return True
