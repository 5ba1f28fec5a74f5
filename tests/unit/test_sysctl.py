"""`sysctl.tune`: an optional setting is skipped where /proc/sys is read-only (an unprivileged container), any other
failure still raises."""

from __future__ import annotations

import errno

import pytest

from hubnet.linux import sysctl
from hubnet.linux.errors import LinuxError


def _failing(code: int) -> object:
    def ensure(name: str, value: str) -> bool:
        raise LinuxError(f"failed to set sysctl {name}={value}", errno=code)

    return ensure


def test_read_only_proc_sys_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysctl, "ensure", _failing(errno.EROFS))
    assert sysctl.tune("net/ipv6/conf/veth0/disable_ipv6", "1") is False


def test_other_errors_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysctl, "ensure", _failing(errno.ENOENT))
    with pytest.raises(LinuxError):
        sysctl.tune("net/ipv6/conf/gone/disable_ipv6", "1")


def test_a_writable_setting_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(sysctl, "ensure", lambda name, value: calls.append((name, value)) or True)
    assert sysctl.tune("net/ipv6/conf/veth0/accept_dad", "0") is True
    assert calls == [("net/ipv6/conf/veth0/accept_dad", "0")]
