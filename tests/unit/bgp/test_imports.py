"""gRPC is the controller's, and only when the bgp backend is chosen: the node side (agent, CNI plugin) never
imports it, and building the app or the other backends does not load it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.imports import imported_modules

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("grpc", "google.protobuf", "hubnet.server.bgp")


def test_the_node_side_never_imports_grpc() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "hubnet" / "node").rglob("*.py"))
        for name in imported_modules(path)
        if name.startswith(HEAVY)
    }
    assert not offenders


def test_the_registry_and_the_kernel_backend_load_no_grpc() -> None:
    code = (
        "import sys\n"
        "from hubnet.server.routing.backends import make_backend\n"
        "make_backend('fake')\n"
        "import hubnet.server.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
