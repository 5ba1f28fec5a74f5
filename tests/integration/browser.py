"""Headless Chromium (Debian's `chromium` + `chromedriver`) driven by selenium, for the console tests.

No browser is downloaded: the driver and the browser are the Debian packages scripts/bootstrap.sh installs. Missing,
they skip the test on a laptop and fail it under CI=true (tests/support/prereq.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tests.support.prereq import need, need_programs

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
T = TypeVar("T")


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium session, quit at the end (its processes die with it)."""
    need_programs(CHROMIUM, CHROMEDRIVER)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:  # pragma: no cover - the `test` extra installs it
        need(False, "needs selenium (pip install -e '.[test]')")
        raise
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # a stale element while the view re-renders: try again
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


REQUEST = re.compile(r'"(GET|POST|DELETE|PUT|PATCH) (\S+) HTTP/[0-9.]+" (\d{3})')


def access_lines(log: Path) -> list[tuple[str, str, int]]:
    """(method, path with query, status) of every request in uvicorn's access log."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [(m[1], m[2], int(m[3])) for m in REQUEST.finditer(text)]
