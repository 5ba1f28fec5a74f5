"""/docs and /redoc work without internet: the pages name no other host, and every script, stylesheet and icon
they load comes from the controller itself (a router's management network has no way out)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.integration.conftest import fresh_db
from tests.integration.support import Databases, Server, running

PAGES = {"swagger ui": "/docs", "redoc": "/redoc"}
MIN_ASSET_BYTES = 1000  # the smallest real asset, the favicon, is ~5 kB; an error page or stub is far less


class _Assets(HTMLParser):
    """The URLs a browser loads from a page: <script src>, <link href> (stylesheets, icons), <img src>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def _assets(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module")
def server(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    url = fresh_db(databases, "sqlite")
    with running(Server(url, Path(tmp_path_factory.mktemp("docs")))) as srv:
        yield srv


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_page_names_no_other_host(server: Server, path: str) -> None:
    page = httpx.get(f"{server.url}{path}", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    absolute = re.findall(r"""(?:https?:)?//[^\s'"<>)]+""", page.text)
    assert [url for url in absolute if urlsplit(url).netloc != urlsplit(server.url).netloc] == [], page.text


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_every_asset_is_served_by_the_controller(server: Server, path: str) -> None:
    page_url = f"{server.url}{path}"
    assets = _assets(httpx.get(page_url, timeout=10).text)
    assert any(url.endswith(".js") for url in assets), assets  # the page cannot render without its script
    for asset in assets:
        assert urlsplit(urljoin(page_url, asset)).netloc == urlsplit(server.url).netloc, asset
        answer = httpx.get(urljoin(page_url, asset), timeout=10)
        assert answer.status_code == 200 and len(answer.content) >= MIN_ASSET_BYTES, (asset, answer.status_code)


def test_swagger_ui_loads_the_openapi_document_from_the_controller(server: Server) -> None:
    page = httpx.get(f"{server.url}/docs", timeout=10).text
    spec = re.search(r"""url:\s*'([^']+)'""", page)
    assert spec is not None, page
    assert httpx.get(urljoin(f"{server.url}/docs", spec.group(1)), timeout=10).json()["paths"]
