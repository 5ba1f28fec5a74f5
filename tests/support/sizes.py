"""Test sizes that the long run (`make test-long`, nightly) raises: Hypothesis examples of the state machines."""

from __future__ import annotations

import os

LONG_STEPS = 50


def examples(default: int) -> int:
    """`default` in `make test`; HUBNET_LONG_EXAMPLES (at least `default`) in `make test-long`."""
    long = os.environ.get("HUBNET_LONG_EXAMPLES")
    return max(default, int(long)) if long else default


def steps(default: int) -> int:
    """Steps per example: `default`, or LONG_STEPS in `make test-long` (the checklist's ≤ 50)."""
    return LONG_STEPS if os.environ.get("HUBNET_LONG_EXAMPLES") else default
