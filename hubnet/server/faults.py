"""Fault injection for the chaos tests: `HUBNET_FAULT=<point>` makes the controller kill itself (SIGKILL, no
clean-up, exactly like `kill -9`) when a registration reaches that point.

Read once when the app is built; when unset, each point costs one comparison of a module global with None.

Points (in the order a registration passes them):
  register:after-choose   a subnet was chosen, nothing written yet
  register:after-insert   the node row is inserted, the transaction not committed
  register:after-commit   committed, the answer not sent
  register:after-program  committed and the route programmed (a synchronous reconcile), the answer not sent
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

POINTS = ("register:after-choose", "register:after-insert", "register:after-commit", "register:after-program")

log = logging.getLogger("hubnet.server")
_armed: str | None = None


def arm(spec: str | None) -> None:
    """Arm one point (None or empty disarms). The node agent reads the same variable for its own points
    (`add:...`), so only `register:` values are ours; an unknown `register:` point is refused: a typo must not
    pass as 'no fault'."""
    global _armed
    spec = (spec or "").strip() or None
    if spec is not None and not spec.startswith("register:"):
        spec = None
    if spec is not None and spec not in POINTS:
        raise ValueError(f"HUBNET_FAULT={spec!r} is not one of {', '.join(POINTS)}")
    _armed = spec
    if spec is not None:
        log.warning("fault injection armed: the controller kills itself at %s", spec)


def arm_from_env() -> None:
    arm(os.environ.get("HUBNET_FAULT"))


def hit(point: str) -> None:
    """Die here (SIGKILL to ourselves) when `point` is the armed one."""
    if _armed is not None and _armed == point:
        os.kill(os.getpid(), signal.SIGKILL)


def before_response(reconciler: Any) -> None:
    """The two points between commit and answer; `after-program` first programs the router synchronously."""
    if _armed is None:
        return
    if _armed == "register:after-program" and reconciler is not None:
        reconciler.reconcile_now("fault-injection")
        hit("register:after-program")
    hit("register:after-commit")
