"""Import contract of the floors (docs/architecture.md): the ground (`hubnet.net`, `hubnet.wire`, `hubnet.loop`,
`hubnet.linux`) imports none of the floors above it; the controller and the node side never import each other;
the router agent uses the node side's client and the controller's framework-free routing parts, and neither
imports it; only the entry points (`hubnet.cli`, `hubnet.lab`) compose them. Lazy imports inside functions count
too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import imported_modules

PACKAGE = Path(__file__).resolve().parents[2] / "hubnet"
GROUND = ("hubnet.net", "hubnet.wire", "hubnet.loop", "hubnet.linux")
# floor → the hubnet packages it must not import
FORBIDDEN = {
    "ground": ("hubnet.server", "hubnet.node", "hubnet.cli", "hubnet.lab", "hubnet.migrations"),
    "hubnet.server": ("hubnet.node", "hubnet.router", "hubnet.cli", "hubnet.lab"),
    "hubnet.migrations": ("hubnet.node", "hubnet.router", "hubnet.cli", "hubnet.lab"),
    "hubnet.node": (
        "hubnet.server",
        "hubnet.router",
        "hubnet.migrations",
        "hubnet.cli",
        "hubnet.lab",
        "fastapi",
        "sqlalchemy",
    ),
    # the HA contract: hubnet.linux, hubnet.wire, the node agent's client, the controller's routing (kernel,
    # reconciler, base) and pure domain — never its API, database, services or the BGP speaker
    "hubnet.router": (
        "hubnet.server.api",
        "hubnet.server.db",
        "hubnet.server.services",
        "hubnet.server.app",
        "hubnet.server.bgp",
        "hubnet.migrations",
        "hubnet.cli",
        "hubnet.lab",
        "fastapi",
        "starlette",
        "uvicorn",
        "sqlalchemy",
        "alembic",
    ),
}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _floor(module: str) -> str | None:
    if module == "hubnet" or module.startswith(GROUND):
        return "ground"
    return next((floor for floor in FORBIDDEN if module == floor or module.startswith(floor + ".")), None)


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module(p))
def test_no_import_runs_up_a_floor(path: Path) -> None:
    floor = _floor(_module(path))
    if floor is None:  # hubnet.cli, hubnet.lab: the top floor may compose everything
        return
    bad = {n for n in imported_modules(path) for f in FORBIDDEN[floor] if n == f or n.startswith(f + ".")}
    assert not bad, f"{_module(path)} ({floor}) imports {sorted(bad)}"


def test_every_module_has_a_known_place() -> None:
    top = {"hubnet.cli", "hubnet.lab"}
    unplaced = [
        _module(p) for p in MODULES if _floor(_module(p)) is None and not any(_module(p).startswith(t) for t in top)
    ]
    assert not unplaced, f"modules outside every floor: {unplaced}"
