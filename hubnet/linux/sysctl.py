"""sysctls through /proc/sys (of the calling thread's network namespace).

A name is dotted (`net.ipv4.ip_forward`) or, when it holds an interface name (which may contain dots), a path
under /proc/sys (`net/ipv6/conf/v-net-0/disable_ipv6`: see `interface`).
"""

from __future__ import annotations

import errno

from hubnet.linux.errors import LinuxError

IP_FORWARD = "net.ipv4.ip_forward"
IPV6_FORWARDING = "net.ipv6.conf.all.forwarding"


def interface(family: int, ifname: str, key: str) -> str:
    """The per-interface sysctl `key` of `ifname` (4: net/ipv4/conf, 6: net/ipv6/conf) as a path name."""
    return f"net/ipv{family}/conf/{ifname}/{key}"


def _path(name: str) -> str:
    return "/proc/sys/" + (name if "/" in name else name.replace(".", "/"))


def read(name: str) -> str:
    try:
        with open(_path(name)) as f:
            return f.read().strip()
    except OSError as exc:
        raise LinuxError(f"failed to read sysctl {name}: {exc.strerror}", errno=exc.errno) from None


def write(name: str, value: str) -> None:
    """Set the sysctl unconditionally (one write, no read)."""
    try:
        with open(_path(name), "w") as f:
            f.write(value)
    except OSError as exc:
        raise LinuxError(f"failed to set sysctl {name}={value}: {exc.strerror}", errno=exc.errno) from None


def ensure(name: str, value: str) -> bool:
    """Set the sysctl when it differs; True when it was changed."""
    if read(name) == value:
        return False
    write(name, value)
    return True


def tune(name: str, value: str) -> bool:
    """Set a sysctl that only makes things faster; False (nothing set) when /proc/sys is read-only.

    Container runtimes mount /proc/sys read-only in every unprivileged container (the docker-compose lab's nodes):
    there the setting is skipped, not failed. Any other error is raised as `write` raises it.
    """
    try:
        ensure(name, value)
    except LinuxError as exc:
        if exc.errno == errno.EROFS:
            return False
        raise
    return True
