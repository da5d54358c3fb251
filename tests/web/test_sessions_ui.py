"""Agents and sessions in the browser; auth; quality (width, colour scheme, weight)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer, http_client, small_limits
from tests.web._browser import Console, browser, console, new_page, page  # noqa: F401 (fixtures)

# Chromium under a fully loaded 2-core machine: a failure must repeat 3 times to count
# (docs/DESIGN.md §17, known limitations: the one known race).
pytestmark = pytest.mark.flaky(reruns=2)

FIRST_VIEW_BUDGET = 500_000  # bytes transferred for the first view (issue 8)


def make_sessions(http: httpx.Client, agent: str, ids: list[str]) -> None:
    for sid in ids:
        response = http.post(f"/v1/agents/{agent}/sessions", json={"id": sid})
        assert response.status_code == 201, response.text


def test_create_a_session_from_the_list(
    page: Page, live_server: LiveServer, agent: str, http: httpx.Client
) -> None:
    page.goto(f"{live_server.url}/ui/agents/{agent}")
    expect(page.get_by_role("cell", name="No sessions.")).to_be_visible()
    page.get_by_role("button", name="New session").click()
    page.get_by_label("Id (empty: a new UUID)").fill("unsafe_named_scratch")
    page.locator("dialog").get_by_label("Mode").select_option("unsafe")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"/sessions/unsafe_named_scratch/files$"))
    expect(page.get_by_role("heading", name="unsafe_named_scratch")).to_be_visible()
    assert http.get(f"/v1/agents/{agent}/sessions/unsafe_named_scratch").json()["mode"] == "unsafe"


def test_an_invalid_session_id_is_explained_in_the_dialog(
    page: Page, console: Console, live_server: LiveServer, agent: str
) -> None:
    console.allowed_statuses.add(400)
    page.goto(f"{live_server.url}/ui/agents/{agent}")
    page.get_by_role("button", name="New session").click()
    page.get_by_label("Id (empty: a new UUID)").fill("safe_named_bad id")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("dialog .error")).to_be_visible()
    expect(page.locator("dialog")).to_be_visible()


def test_filter_search_and_page_through_sessions(
    page: Page, console: Console, live_server: LiveServer, agent: str, http: httpx.Client
) -> None:
    console.allowed_statuses.add(404)
    make_sessions(
        http, agent, ["safe_named_a1", "safe_auto_b2", "unsafe_named_c3", "safe_named_d4"]
    )
    page.goto(f"{live_server.url}/ui/agents/{agent}?limit=2")
    links = page.locator("table.list tbody td:first-child a")
    expect(links).to_have_text(["safe_auto_b2", "safe_named_a1"])
    page.get_by_role("link", name="Next →").click()
    expect(links).to_have_text(["safe_named_d4", "unsafe_named_c3"])
    page.get_by_role("button", name="← Previous").click()
    expect(links).to_have_text(["safe_auto_b2", "safe_named_a1"])
    page.goto(f"{live_server.url}/ui/agents/{agent}")
    page.get_by_label("Mode").select_option("unsafe")
    expect(links).to_have_text(["unsafe_named_c3"])
    page.get_by_label("Mode").select_option("")
    page.get_by_label("Type").select_option("named")
    expect(links).to_have_text(["safe_named_a1", "safe_named_d4", "unsafe_named_c3"])
    page.get_by_label("Search by id").fill("d4")
    expect(links).to_have_text(["safe_named_d4"])
    page.get_by_label("Search by id").fill("safe_named_nope")
    page.get_by_label("Search by id").press("Enter")
    expect(page.locator(".toast.error")).to_be_visible()
    page.get_by_label("Search by id").fill("safe_auto_b2")
    page.get_by_label("Search by id").press("Enter")
    expect(page).to_have_url(re.compile(r"/sessions/safe_auto_b2/files$"))


def test_delete_a_session_says_what_is_lost(
    page: Page, live_server: LiveServer, agent: str, http: httpx.Client
) -> None:
    make_sessions(http, agent, ["safe_named_gone", "safe_named_stays"])
    base = f"/v1/agents/{agent}/sessions/safe_named_gone/fs"
    http.post(f"{base}/a/b.txt", json={"content": "x"})
    http.post(f"{base}/c.txt", json={"content": "y"})
    page.goto(f"{live_server.url}/ui/agents/{agent}")
    page.get_by_role("button", name="Delete session safe_named_gone").click()
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("3 files and folders, all its outputs and all its snapshots")
    dialog.get_by_role("button", name="Delete session").click()
    expect(page.get_by_role("link", name="safe_named_gone")).to_have_count(0)
    expect(page.get_by_role("link", name="safe_named_stays")).to_be_visible()
    assert http.get(f"/v1/agents/{agent}/sessions/safe_named_gone").status_code == 404


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = small_limits(tmp_path_factory.mktemp("guarded"), admin_token="s3cret-token")
    server = LiveServer(settings).start()
    yield server
    server.stop()


def test_the_ui_asks_for_a_token_and_keeps_it_only_in_the_tab(
    page: Page, console: Console, guarded_server: LiveServer
) -> None:
    console.allowed_statuses.add(401)
    headers = {"Authorization": "Bearer s3cret-token"}
    with http_client(guarded_server.url, headers=headers) as admin:
        admin.post("/v1/agents/tok-agent/sessions", json={"id": "safe_named_t"})
        admin.post(
            "/v1/agents/tok-agent/sessions/safe_named_t/fs/hello.txt", json={"content": "hi"}
        )
    page.goto(f"{guarded_server.url}/ui/agents/tok-agent/sessions/safe_named_t/files")
    page.get_by_label("Bearer token").fill("wrong")
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("dialog")).to_contain_text("not valid")
    page.get_by_label("Bearer token").fill("s3cret-token")
    page.get_by_role("button", name="Use token").click()
    expect(page.get_by_role("link", name="hello.txt")).to_be_visible()
    expect(page.locator("#live")).to_have_text("● live")  # the feed uses the token too
    assert page.evaluate("sessionStorage.getItem('sessionbox.token')") == "s3cret-token"
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    page.get_by_role("button", name="Forget token").click()
    expect(page.get_by_label("Bearer token")).to_be_visible()


def test_first_view_is_small_and_clean(
    new_page: Callable[..., Page], live_server: LiveServer, agent: str, http: httpx.Client
) -> None:
    make_sessions(http, agent, ["safe_named_weight"])
    http.post(
        f"/v1/agents/{agent}/sessions/safe_named_weight/fs/m.rs", json={"content": "fn m() {}"}
    )
    file_view = f"/ui/agents/{agent}/sessions/safe_named_weight/files/m.rs"
    for url, ready in (("/", "main h1"), (file_view, ".cm-content")):
        tab = new_page()  # a fresh context: nothing cached
        sizes: list[int] = []
        tab.on(
            "requestfinished",
            lambda request, sizes=sizes: sizes.append(
                request.sizes()["responseBodySize"] + request.sizes()["responseHeadersSize"]
            ),
        )
        tab.goto(live_server.url + url)
        expect(tab.locator(ready)).to_be_visible()
        tab.wait_for_timeout(500)  # let late requests finish (the count is what matters)
        assert 0 < sum(sizes) < FIRST_VIEW_BUDGET, (url, sum(sizes))
    headers = httpx.get(live_server.url + "/").headers
    assert "script-src 'self'" in headers["content-security-policy"]


def test_usable_at_375_px_and_in_dark_mode(
    new_page: Callable[..., Page], live_server: LiveServer, agent: str, http: httpx.Client
) -> None:
    make_sessions(http, agent, ["safe_named_phone"])
    http.post(
        f"/v1/agents/{agent}/sessions/safe_named_phone/fs/src/a-rather-long-file-name-for-a-phone.rs",
        json={"content": "fn x() {}"},
    )
    phone = new_page(
        viewport={"width": 375, "height": 740}, color_scheme="dark", is_mobile=True, has_touch=True
    )
    for url in (
        f"/ui/agents/{agent}",
        f"/ui/agents/{agent}/sessions/safe_named_phone/files/src",
        f"/ui/agents/{agent}/sessions/safe_named_phone/files/src/a-rather-long-file-name-for-a-phone.rs",
    ):
        phone.goto(live_server.url + url)
        expect(phone.locator("main h1")).to_be_visible()
        expect(phone.locator("table.list, .cm-content")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375, url
    dark = phone.evaluate("getComputedStyle(document.body).backgroundColor")
    light_page = new_page(color_scheme="light")
    light_page.goto(live_server.url + "/")
    light = light_page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark != light
    assert dark == "rgb(21, 23, 27)"


def test_session_tabs_without_their_api_say_so(
    page: Page, console: Console, live_server: LiveServer, agent: str, http: httpx.Client
) -> None:
    """Outputs/snapshots/applets routes come from other branches; until then the tabs degrade."""
    make_sessions(http, agent, ["safe_named_tabs"])
    probe = http.get(f"/v1/agents/{agent}/sessions/safe_named_tabs/outputs")
    console.allowed_statuses.update({404, 405})
    page.goto(f"{live_server.url}/ui/agents/{agent}/sessions/safe_named_tabs/files")
    for tab in ("Outputs", "Snapshots", "Applets"):
        page.get_by_role("link", name=tab, exact=True).click()
        expect(page.get_by_role("link", name=tab, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        if probe.status_code == 404:
            expect(page.locator(".tab-body")).to_contain_text("not available on this server")
