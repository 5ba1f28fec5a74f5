"""The tier policy: a missing prerequisite skips on a laptop but fails under CI=true."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when `condition` is false, so a broken CI setup cannot pass as 'skipped'."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def need_root_netns() -> None:
    """Root, iproute2 and network namespaces are required."""
    need(os.geteuid() == 0, "needs root")
    need(shutil.which("ip") is not None, "needs iproute2 (`ip`)")
    need(os.path.isdir("/proc/self/ns"), "needs network namespaces")


def need_programs(*programs: str) -> None:
    """Every program (a name on PATH or an absolute path) is installed: the BGP tier needs gobgpd, BIRD and FRR."""
    missing = [p for p in programs if shutil.which(p) is None]
    need(not missing, f"needs {', '.join(missing)} (scripts/bootstrap.sh installs them)")
