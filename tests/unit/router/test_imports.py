"""`hubnet router join` runs on a router host: its import graph holds no web framework, no database library and no
migration tool (the HA contract), whatever the controller's packages around the routing code import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "grpc")
# join imports these lazily; `hubnet node join` imports hubnet.router.direct (direct mode's peer routes) the same way
ENTRY = ("hubnet.cli.router", "hubnet.router.agent", "hubnet.server.routing.kernel", "hubnet.router.direct")


def _file(module: str) -> Path | None:
    base = ROOT / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path) -> set[str]:
    """Absolute imports of a file, lazy ones included; `from pkg import mod` names `pkg.mod` too."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph(roots: tuple[str, ...]) -> dict[str, str]:
    """Every module reachable from `roots` (hubnet's followed, with their parent packages) → who imports it."""
    seen: dict[str, str] = {root: "<entry>" for root in roots}
    todo = list(roots)
    while todo:
        module = todo.pop()
        parts = module.split(".")
        parents = [".".join(parts[:i]) for i in range(1, len(parts))]
        path = _file(module)
        found = _imports(path) if path is not None else set()
        for name in (*parents, *found):
            if name not in seen and (not name.startswith("hubnet") or _file(name) is not None):
                seen[name] = module
                if name.startswith("hubnet"):
                    todo.append(name)
    return seen


def test_the_import_graph_of_router_join_has_no_server_framework() -> None:
    graph = _graph(ENTRY)
    bad = {name: by for name, by in graph.items() if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"imported (module → by): {bad}"
    assert not any(
        name.startswith(("hubnet.server.api", "hubnet.server.db", "hubnet.server.services")) for name in graph
    )
    assert "hubnet.server.routing.reconciler" in graph and "hubnet.node.agent.client" in graph  # the graph is real


def test_loading_router_join_loads_none_of_them() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in ENTRY)
        + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
