"""The web console (/ui, issue 16) in headless Chromium against a real `hubnet server` with 300 nodes.

The pools: a /8 cut into /24s (65,536 cells; the service CIDR 10.96.0.0/12 inside it: 4,096 excluded cells) and an
IPv6 /56 cut into /64s (256 cells). The nodes are registered through the API (60 dual-stack); 30 are deleted
(released, quarantined for HUBNET_QUARANTINE_SECONDS) and 20 made stale (their lease moved into the past in the
database; the reaper, every 0.5 s, marks them); a router agent joins (route state per router). Every figure the
tests compare is read from the page (the legend's cells), never from the API client, and checked against
`GET /v1/pools` and `GET /v1/nodes`. Screenshots land in the test's tmp folder (console-shots/).

The tests run in file order on one browser session, as an admin would: wrong token, sign in, the picture, live
changes, lookup, the other views, phone width, and last what the browser and the server kept of the token.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.browser import access_lines, chromium, wait_for
from tests.integration.support import HUBNET, Server, node_body, running, sql

NODES, DELETED, STALE = 300, 30, 20  # c-0..c-249 active, c-250..c-269 stale, c-270..c-299 deleted
DUAL = {*range(30), *range(260, 270), *range(280, 300)}  # dual-stack: 30 active, 10 stale, 20 deleted
V4, V6 = "10.0.0.0/8", "fd00:10:244::/56"
SHOTS = "console-shots"


class LoggedServer(Server):
    """The controller with uvicorn's access log on: the tests read which calls the browser made, and their status."""

    def command(self) -> list[str]:
        return [HUBNET, "server", "--access-log"]

    @property
    def log(self) -> Path:
        return self.log_dir / f"server-{self.port}-{self.starts}.log"


@pytest.fixture(scope="module")
def server(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    env = {
        "HUBNET_CLUSTER_CIDR": f"{V4},{V6}",
        "HUBNET_NODE_PREFIX": "24",
        "HUBNET_LEASE_TTL_SECONDS": "900",
        "HUBNET_QUARANTINE_SECONDS": "3600",
        "HUBNET_REAPER_INTERVAL_SECONDS": "0.5",
        "HUBNET_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",  # the access log reaches the file as each request ends
    }
    srv = LoggedServer(databases.new("sqlite"), Path(tmp_path_factory.mktemp("console")), extra_env=env)
    with running(srv):
        populate(srv)
        yield srv


def populate(srv: Server) -> None:
    with srv.client(srv.admin) as api:
        for i in range(NODES):
            body = node_body(i, prefix="c")
            if i in DUAL:  # dual-stack: a /64 of the IPv6 pool as well
                body["addresses"] = [body["address"], f"fd00:1::{i + 1:x}"]
            assert api.post("/v1/nodes", json=body).status_code == 201
        router = {"name": "r1", "secret": "r1-" + "s" * 40}  # a router agent: route states per router
        assert api.post("/v1/routers", json=router).status_code == 201
        for i in range(NODES - DELETED, NODES):
            assert api.delete(f"/v1/nodes/c-{i}").status_code == 204
        stale = [f"c-{i}" for i in range(NODES - DELETED - STALE, NODES - DELETED)]
        names = ", ".join(f"'{n}'" for n in stale)
        sql(srv.db_url, f"UPDATE nodes SET expires_at = :t WHERE name IN ({names})", {"t": time.time() - 1})
        wait_for(lambda: len(api.get("/v1/nodes", params={"state": "stale"}).json()["items"]) == STALE, 10, "stale")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(SHOTS)


@pytest.fixture(scope="module")
def browser(server: LoggedServer) -> Iterator[Any]:
    with chromium() as driver:
        driver.get(f"{server.url}/ui/")
        yield driver


def by_id(driver: Any, element_id: str) -> Any:
    return driver.find_element("id", element_id)


def sign_in(driver: Any, token: str) -> None:
    field = by_id(driver, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element("css selector", "#signin-form button[type=submit]").click()


LEGEND = """
const legend = document.querySelector(`.legend[data-pool='${arguments[0]}']`);
if (!legend) return null;
return Object.fromEntries([...legend.querySelectorAll('li')].map(
  (li) => [li.dataset.state, Number(li.querySelector('.count').dataset.count)]));
"""


def legend(driver: Any, pool: str = V4) -> dict[str, int]:
    """The counts the page shows under the picture (data-count of each legend entry), read in one script: the view
    may re-render between two element reads."""
    counts: dict[str, int] = driver.execute_script(LEGEND, pool)
    return counts


def pool_card(driver: Any, selector: str, attribute: str) -> str | None:
    value: str | None = driver.execute_script(
        f"return document.querySelector(\".pool[data-pool='10.0.0.0/8'] {selector}\")?.dataset.{attribute} || null"
    )
    return value


def pools(srv: Server) -> dict[str, Any]:
    with srv.client(srv.admin) as api:
        answer: dict[str, Any] = api.get("/v1/pools").json()
    return answer


def nodes_by_state(srv: Server) -> dict[str, int]:
    with srv.client(srv.admin) as api:
        items = api.get("/v1/nodes", params={"limit": 1000}).json()["items"]
    counts: dict[str, int] = {}
    for node in items:
        counts[node["state"]] = counts.get(node["state"], 0) + 1
    return counts


def agrees_with_api(shown: dict[str, int], pool: dict[str, Any]) -> bool:
    return (
        shown["active"] + shown["stale"] == pool["allocated"]
        and shown["quarantined"] == pool["quarantined"]
        and shown["free"] + shown["quarantined"] == pool["free"]
        and sum(shown.values()) - shown["excluded"] == pool["total"]
    )


def full_shot(driver: Any, path: Path) -> None:
    """A screenshot of the whole page (the window made as tall as the page, then put back)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    size = driver.get_window_size()
    driver.set_window_size(size["width"], min(height + 150, 2400))
    try:
        time.sleep(0.2)
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(size["width"], size["height"])


def no_script_errors(driver: Any) -> None:
    """No CSP violation, no uncaught error in the page (an expected 401 of a refused sign-in is a network entry)."""
    bad = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" and e.get("source") != "network"]
    assert not bad, bad


def test_the_console_is_served_with_a_strict_csp(server: LoggedServer) -> None:
    ui = httpx.get(f"{server.url}/ui/")
    assert ui.status_code == 200 and ui.headers["content-type"].startswith("text/html")
    csp = ui.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert ui.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", ui.text), "inline script"
    assert " style=" not in ui.text and "<style" not in ui.text
    assert "http://" not in ui.text and "https://" not in ui.text, "nothing from another origin"
    for name in ("app.js", "api.js", "space.js", "app.css"):
        asset = httpx.get(f"{server.url}/ui/{name}")
        assert asset.status_code == 200 and "content-security-policy" in asset.headers
    assert httpx.get(f"{server.url}/ui/..%2Fapp.py").status_code == 404
    assert httpx.get(f"{server.url}/ui/nothing.js").status_code == 404
    assert not [p for p in httpx.get(f"{server.url}/openapi.json").json()["paths"] if p.startswith("/ui")]


def test_a_wrong_token_shows_an_error_and_no_data_call_succeeds(
    browser: Any, server: LoggedServer, shots: Path
) -> None:
    before = len(access_lines(server.log))
    sign_in(browser, "adm-not-the-right-token")
    error = wait_for(
        lambda: by_id(browser, "signin-error").is_displayed() and by_id(browser, "signin-error"), 5, "error"
    )
    assert "401" in error.text and "does not know this token" in error.text
    assert by_id(browser, "nav").is_displayed() is False
    assert browser.find_elements("css selector", "#pools *") == []
    browser.save_screenshot(str(shots / "signin-refused.png"))
    sign_in(browser, server.bootstrap)  # a real token, but not an admin's
    wait_for(lambda: "not an admin token (403)" in by_id(browser, "signin-error").text, 5, "the 403 message")
    assert browser.find_elements("css selector", "#pools *") == []
    time.sleep(0.3)  # the access line is written as the answer goes out
    calls = access_lines(server.log)[before:]
    assert ("GET", "/v1/pools", 401) in calls and ("GET", "/v1/pools", 403) in calls
    assert not [c for c in calls if c[1].startswith("/v1/") and c[2] < 300], calls


def test_signing_in_shows_the_pools_counts_per_state(browser: Any, server: LoggedServer, shots: Path) -> None:
    sign_in(browser, server.admin)
    wait_for(lambda: legend(browser), 10, "the legend")
    shown = legend(browser)
    pool = pools(server)["items"][0]
    assert pool["cidr"] == "10.0.0.0/8"
    assert agrees_with_api(shown, pool), (shown, pool)
    states = nodes_by_state(server)
    assert shown["active"] == states["active"] == NODES - DELETED - STALE
    assert shown["stale"] == states["stale"] == STALE
    assert shown["quarantined"] == DELETED
    assert shown["excluded"] == 4096  # 10.96.0.0/12 in /24s
    assert sum(shown.values()) == 65536
    v6 = wait_for(lambda: legend(browser, V6), 5, "the IPv6 pool's legend")
    assert agrees_with_api(v6, pools(server)["items"][1]), v6
    assert v6 == {"active": 30, "stale": 10, "quarantined": 20, "free": 256 - 60, "excluded": 0}
    assert by_id(browser, "live").text == "live"
    ms = float(wait_for(lambda: pool_card(browser, ".timing", "ms"), 5, "the drawing time"))
    assert ms < 1000, f"65,536 cells: states and drawing in {ms} ms"
    assert wait_for(lambda: pool_card(browser, ".agree", "agrees"), 5, "agreement") == "true"
    print(f"65,536 cells: states and drawing in {ms} ms")
    full_shot(browser, shots / "address-space.png")
    no_script_errors(browser)


def point_at_cell(browser: Any, subnet: str, *, click: bool = False) -> None:
    """Move the mouse (and click) on the cell of `subnet`, a /24 of 10.0.0.0/8: 256 columns, by viewport coordinates."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    canvas = browser.find_element("css selector", ".pool[data-pool='10.0.0.0/8'] canvas")
    index = (int(ipaddress.ip_network(subnet).network_address) - int(ipaddress.ip_address("10.0.0.0"))) >> 8
    box = browser.execute_script("arguments[0].scrollIntoView(); return arguments[0].getBoundingClientRect()", canvas)
    cell = box["width"] / 256
    actions = ActionBuilder(browser)
    actions.pointer_action.move_to_location(
        int(box["left"] + (index % 256 + 0.5) * cell), int(box["top"] + (index // 256 + 0.5) * cell)
    )
    if click:
        actions.pointer_action.click()
    actions.perform()


def test_hover_names_the_node_and_a_click_opens_it(browser: Any, server: LoggedServer) -> None:
    with server.client(server.admin) as api:
        node = api.get("/v1/nodes/c-3").json()
    point_at_cell(browser, node["subnet"])
    tip = wait_for(lambda: by_id(browser, "tip").is_displayed() and by_id(browser, "tip").text, 10, "tooltip")
    assert node["subnet"] in tip and "c-3 (active)" in tip and node["address"] in tip and "lease expires" in tip
    point_at_cell(browser, node["subnet"], click=True)
    wait_for(
        lambda: "c-3" in by_id(browser, "node-title").text and by_id(browser, "view-node").is_displayed(), 5, "node"
    )
    browser.execute_script("location.hash = '#node/no-such-node'")
    wait_for(lambda: "no-such-node" in by_id(browser, "view-error").text, 5, "a missing node's message")
    browser.execute_script("location.hash = '#space'")
    browser.refresh()  # a reload: the token was in memory only
    assert wait_for(lambda: by_id(browser, "signin").is_displayed(), 5, "signed out by the reload")
    sign_in(browser, server.admin)
    wait_for(lambda: legend(browser), 10, "the legend again")


def test_a_registration_appears_without_a_reload_and_a_delete_turns_quarantined(
    browser: Any, server: LoggedServer, shots: Path
) -> None:
    browser.execute_script("window.__noReload = 'still here'")
    before = legend(browser)
    with server.client(server.admin) as api:
        started = time.monotonic()
        assert api.post("/v1/nodes", json=node_body(1, prefix="live")).status_code == 201
        after = wait_for(lambda: (s := legend(browser))["active"] == before["active"] + 1 and s, 2, "new node shown")
        shown_in = time.monotonic() - started
        assert after["free"] == before["free"] - 1
        started = time.monotonic()
        assert api.delete("/v1/nodes/live-1").status_code == 204
        after = wait_for(
            lambda: (s := legend(browser))["quarantined"] == before["quarantined"] + 1 and s, 2, "quarantine"
        )
        quarantined_in = time.monotonic() - started
    assert after["active"] == before["active"]
    assert browser.execute_script("return window.__noReload") == "still here"
    wait_for(lambda: agrees_with_api(legend(browser), pools(server)["items"][0]), 10, "the legend equals GET /v1/pools")
    print(f"registration shown after {shown_in:.2f} s, deletion after {quarantined_in:.2f} s")


def test_the_lookup_of_an_ip_opens_its_node(browser: Any, server: LoggedServer, shots: Path) -> None:
    by_id(browser, "nav").find_element("link text", "Nodes").click()
    wait_for(lambda: len(browser.find_elements("css selector", "#nodes-table tbody tr")) == 50, 5, "a page of 50")
    browser.save_screenshot(str(shots / "nodes.png"))
    with server.client(server.admin) as api:
        node = api.get("/v1/nodes/c-42").json()
    ip = str(ipaddress.ip_network(node["subnet"]).network_address + 77)
    query = by_id(browser, "nodes-query")
    query.clear()
    query.send_keys(ip + "\n")
    wait_for(
        lambda: browser.current_url.endswith("#node/c-42") and "c-42" in by_id(browser, "node-title").text, 5, "c-42"
    )
    detail = by_id(browser, "node-detail").text
    assert node["subnet"] in detail and node["address"] in detail
    assert "node.registered" in detail  # its events, from the live feed
    assert "r1" in by_id(browser, "node-routes").text  # its route state per router agent
    browser.save_screenshot(str(shots / "node.png"))


def test_nodes_filter_by_state_search_and_paging(browser: Any, server: LoggedServer) -> None:
    browser.get(f"{server.url}/ui/#nodes")  # the hash only: no reload (same document)
    rows = "#nodes-table tbody tr"
    query = by_id(browser, "nodes-query")
    query.clear()
    query.send_keys("c-10\n")  # c-10, c-100..c-109
    wait_for(lambda: len(browser.find_elements("css selector", rows)) == 11, 5, "11 names with c-10")
    query.clear()
    query.send_keys("\n")
    from selenium.webdriver.support.ui import Select

    Select(by_id(browser, "nodes-state")).select_by_value("stale")
    wait_for(lambda: len(browser.find_elements("css selector", rows)) == STALE, 5, "the stale nodes")
    Select(by_id(browser, "nodes-state")).select_by_value("")
    wait_for(lambda: len(browser.find_elements("css selector", rows)) == 50, 5, "page 1")
    first = browser.find_element("css selector", f"{rows} a").text
    by_id(browser, "nodes-next").click()
    wait_for(lambda: browser.find_element("css selector", f"{rows} a").text != first, 5, "page 2")
    assert "Page 2" in by_id(browser, "nodes-message").text


def test_routes_and_events_views(browser: Any, server: LoggedServer, shots: Path) -> None:
    by_id(browser, "nav").find_element("link text", "Routes").click()
    figures = wait_for(lambda: by_id(browser, "drift-figures").text, 5, "drift figures")
    live = NODES - DELETED + 40  # backend none: every route of a live node is desired; 40 are dual-stack
    assert f"{live}\ndesired" in figures or f"{live} desired" in figures, figures
    assert by_id(browser, "check-result").get_attribute("data-ok") in ("true", "false")

    def router_as_the_api_says() -> bool:  # joined, never reported: syncing, then down (an event: the view follows)
        with server.client(server.admin) as api:
            status = api.get("/v1/routers/r1").json()["status"]
        return f"r1 {status}" in by_id(browser, "routers").text

    wait_for(router_as_the_api_says, 5, "router r1's status")
    browser.save_screenshot(str(shots / "routes.png"))
    by_id(browser, "nav").find_element("link text", "Events").click()
    wait_for(lambda: "node.released" in by_id(browser, "events-table").text, 5, "events")
    with server.client(server.admin) as api:  # the events view follows the feed too
        assert api.post("/v1/nodes", json=node_body(2, prefix="live")).status_code == 201
    wait_for(lambda: "node.registered live-2" in by_id(browser, "events-table").text, 2, "the new event, live")
    browser.save_screenshot(str(shots / "events.png"))
    no_script_errors(browser)


def test_keyboard_reaches_the_views(browser: Any, server: LoggedServer) -> None:
    from selenium.webdriver.common.keys import Keys

    link = by_id(browser, "nav").find_element("link text", "Address space")
    link.send_keys(Keys.ENTER)
    wait_for(lambda: by_id(browser, "view-space").is_displayed() and legend(browser), 5, "space by keyboard")

    def first_cell() -> bool:  # retried while a refresh replaces the picture under the test
        browser.find_element("css selector", ".pool canvas").send_keys(Keys.ARROW_RIGHT)
        return True

    wait_for(first_cell, 5, "focus the picture's first cell")

    def second_cell() -> str | None:  # left twice (stops at the first cell), right once: 10.0.1.0/24 (c-1)
        browser.find_element("css selector", ".pool canvas").send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT)
        browser.find_element("css selector", ".pool canvas").send_keys(Keys.ARROW_RIGHT)
        tip = str(by_id(browser, "tip").text)
        return tip if "10.0.1.0/24" in tip else None

    # Retried: a live refresh may replace the picture between two keys (it keeps focus and cursor, but a key sent to
    # the element being replaced is lost).
    wait_for(second_cell, 10, "the focused cell's tooltip")

    def enter_opens() -> bool:
        if "c-1" not in by_id(browser, "node-title").text:
            browser.find_element("css selector", ".pool canvas").send_keys(Keys.ENTER)
        return "c-1" in by_id(browser, "node-title").text

    wait_for(enter_opens, 10, "Enter opens the node")


def test_phone_width(browser: Any, server: LoggedServer, shots: Path) -> None:
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{server.url}/ui/#space")  # same document: the hash changes only
        wait_for(lambda: legend(browser), 5, "legend")
        time.sleep(0.3)
        for view in ("space", "nodes", "routes", "events"):
            browser.execute_script(f"location.hash = '#{view}'")
            wait_for(lambda v=view: by_id(browser, f"view-{v}").is_displayed(), 5, view)
            time.sleep(0.3)
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{view} is {overflow}px wider than a phone"
            if view in ("space", "nodes"):
                browser.save_screenshot(str(shots / f"phone-{view}.png"))
    finally:
        browser.set_window_size(1280, 900)


def test_the_token_is_kept_nowhere_but_in_memory(browser: Any, server: LoggedServer) -> None:
    by_id(browser, "signout").click()
    wait_for(lambda: by_id(browser, "signin").is_displayed(), 5, "the sign-in form after signing out")
    assert not by_id(browser, "nav").is_displayed() and browser.find_elements("css selector", "#pools *") == []
    token = server.admin
    kept = browser.execute_script(
        "return [JSON.stringify(localStorage), JSON.stringify(sessionStorage), document.cookie, location.href,"
        " performance.getEntries().map((e) => e.name).join(' ')]"
    )
    assert localstorage_empty(kept[0]) and localstorage_empty(kept[1]) and kept[2] == ""
    for text in kept:
        assert token not in text
    assert browser.get_cookies() == []
    logs = "".join(p.read_text(errors="replace") for p in server.log_dir.glob("*.log"))
    assert "/v1/pools" in logs and "/v1/events?since=" in logs  # the access log is on: the browser's calls are there
    assert token not in logs
    assert not [path for _, path, _ in access_lines(server.log) if token in path]


def localstorage_empty(text: str) -> bool:
    return text == "{}"


ADDRESSES = [
    "10.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "::",
    "::1",
    "fd00::",
    "fd00:10:244:1::",
    "1:0:0:1:0:0:0:1",
    "2001:db8:0:0:1:0:0:1",
    "fd00:0:0:0:0:0:0:0",
    "FD00:10:244::ABCD",
    "1:2:3:4:5:6:7:8",
]
NOT_ADDRESSES = ["1.2.3", "1.2.3.256", "1::2::3", "x", "1:2:3:4:5:6:7:8:9", "10.0.0.1/24", ""]


def test_the_address_math_of_the_page_agrees_with_python(browser: Any) -> None:
    """net.js, as the browser runs it: parse and format every address as Python's ipaddress does."""
    answer = browser.execute_async_script(
        """
        const [good, bad, done] = arguments;
        import('/ui/net.js').then((net) => done({
          formatted: good.map((a) => { const p = net.parseAddress(a); return net.formatAddress(p.family, p.value); }),
          refused: bad.filter((a) => !net.isAddress(a)),
        })).catch((error) => done({error: String(error)}));
        """,
        ADDRESSES,
        NOT_ADDRESSES,
    )
    assert answer.get("error") is None, answer
    assert answer["formatted"] == [ipaddress.ip_address(a).compressed for a in ADDRESSES]
    assert answer["refused"] == NOT_ADDRESSES
