"""Import contract: the controller's domain is pure (stdlib only); frameworks stay in their own layers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.imports import imported_modules

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "hubnet" / "server"
PURE_SHARED = ("hubnet.net", "hubnet.wire")  # the ground floor's stdlib-only modules the domain may use


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", sorted((SERVER / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_imports_only_stdlib_and_domain(path: Path) -> None:
    foreign = {
        name
        for name in imported_modules(path)
        if _top(name) not in sys.stdlib_module_names and not name.startswith(("hubnet.server.domain", *PURE_SHARED))
    }
    assert not foreign, f"{path.name} imports {sorted(foreign)}"


@pytest.mark.parametrize("module", PURE_SHARED)
def test_shared_pure_modules_import_only_stdlib(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    foreign = {name for name in imported_modules(path) if _top(name) not in sys.stdlib_module_names}
    assert not foreign, f"{module} imports {sorted(foreign)}"


@pytest.mark.parametrize("layer", ["domain", "services", "api"])
def test_no_sqlalchemy_outside_db(layer: str) -> None:
    offenders = [
        p.name for p in (SERVER / layer).glob("*.py") if any(_top(n) == "sqlalchemy" for n in imported_modules(p))
    ]
    assert not offenders


@pytest.mark.parametrize("layer", ["domain", "services", "db"])
def test_no_web_framework_below_api(layer: str) -> None:
    web = {"fastapi", "starlette", "uvicorn"}
    offenders = [p.name for p in (SERVER / layer).glob("*.py") if any(_top(n) in web for n in imported_modules(p))]
    assert not offenders


def test_in_memory_database_needs_no_sqlalchemy() -> None:
    assert not {n for n in imported_modules(SERVER / "db" / "memory.py") if _top(n) == "sqlalchemy"}


def test_services_reach_persistence_through_their_ports() -> None:
    """The use cases are written against hubnet.server.services.ports; only the generic write batcher comes from db."""
    offenders = {
        f"{p.name}: {n}"
        for p in (SERVER / "services").glob("*.py")
        for n in imported_modules(p)
        if n.startswith("hubnet.server.db") and n != "hubnet.server.db.batch"
    }
    assert not offenders
