"""/ui: the web console (docs/console.md), static files from the installed package under a strict CSP.

The console is a client of the documented `/v1` API and nothing else: these routes serve files only, need no
credential (the files hold no data) and stay out of the OpenAPI document. The admin token lives in a JavaScript
variable of the tab: never in a cookie (so no CSRF surface), the URL or web storage.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from hubnet.server.domain.errors import NotFound

router = APIRouter(include_in_schema=False)

# No inline script or style, nothing from another origin, no framing; data calls only to this controller.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}


def _file(name: str) -> Response:
    """One file of hubnet/server/ui/static by its bare name (no path: nothing outside the folder is reachable)."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    item = resources.files("hubnet.server.ui").joinpath("static", name)
    if "/" in name or suffix not in TYPES or not item.is_file():
        raise NotFound(f"no console file {name!r}")
    return Response(item.read_bytes(), media_type=TYPES[suffix], headers=HEADERS)


@router.get("/ui")
def ui_root() -> Response:
    return RedirectResponse("/ui/", status_code=308)


@router.get("/ui/")
def ui_index() -> Response:
    return _file("index.html")


@router.get("/ui/{name}")
def ui_file(name: str) -> Response:
    return _file(name)
