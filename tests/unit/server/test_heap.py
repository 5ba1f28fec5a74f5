"""The server's start-up heap is frozen once started (`create_app(freeze_heap=True)`, what `hubnet server` builds):
objects built before the lifespan ran are out of the collector's sight, objects built later are not, and an app
built without it (tests) freezes nothing. Each case in its own interpreter: a freeze lasts for the process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CODE = """
import gc, sys
from fastapi.testclient import TestClient
from hubnet.server.app import create_app
from hubnet.server.db.memory import MemoryDatabase
from tests.unit.server.fakes import Clock, settings

class Marker:
    pass

before = Marker()
app = create_app(settings(route_backend="none"), database=MemoryDatabase(clock=Clock()), background=False,
                 freeze_heap=sys.argv[1] == "on")
with TestClient(app) as client:
    assert client.get("/healthz").status_code == 200
    after = Marker()
    tracked = {id(o) for o in gc.get_objects()}
    print(gc.get_freeze_count(), id(before) in tracked, id(after) in tracked)
"""


@pytest.mark.parametrize("freeze", ["on", "off"])
def test_the_start_up_heap_is_frozen_only_when_asked(freeze: str) -> None:
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", CODE, freeze], check=True, timeout=120, cwd=root, capture_output=True, text=True
    ).stdout.split()
    frozen, before_tracked, after_tracked = int(out[0]), out[1] == "True", out[2] == "True"
    assert after_tracked  # what is built while serving stays collectable
    if freeze == "on":
        assert frozen > 10_000 and not before_tracked  # FastAPI, pydantic, the app: tens of thousands of objects
    else:
        assert frozen == 0 and before_tracked
