"""Snapshots and Applets tabs against the APIs of issues 5 and 6.

Those routes are built on other branches. Until they are merged these tests skip
with that reason (reported to the lead); after the merge they run unchanged.
"""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.web._browser import Console, browser, console, page  # noqa: F401 (fixtures)


def _route_missing(response: httpx.Response) -> bool:
    return response.status_code in (404, 405) and response.json().get("code") in (
        "not_found",
        "method_not_allowed",
    )


def test_snapshot_restore_with_confirmation(
    page: Page, console: Console, live_server: LiveServer, http: httpx.Client, agent: str
) -> None:
    sid = "safe_named_snap"
    assert http.post(f"/v1/agents/{agent}/sessions", json={"id": sid}).status_code == 201
    base = f"/v1/agents/{agent}/sessions/{sid}"
    first = {"version": 1, "updatedAt": 1_700_000_000_000, "handleKey": None, "snapshot": {"n": 1}}
    response = http.put(f"{base}/snapshot", json=first)
    if _route_missing(response):
        pytest.skip("the snapshots API (issue 5) is not in this branch yet")
    assert response.status_code == 200, response.text
    second = {**first, "updatedAt": 1_700_000_060_000, "snapshot": {"n": 2, "extra": True}}
    assert http.put(f"{base}/snapshot", json=second).status_code == 200
    page.goto(f"{live_server.url}/ui/agents/{agent}/sessions/{sid}/snapshots")
    expect(page.locator("pre.text")).to_contain_text('"n": 2')
    page.get_by_role("button", name="Diff").click()
    expect(page.locator(".diff")).to_contain_text("/n changed")
    page.get_by_role("button", name="Restore").click()
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("becomes the latest")
    dialog.get_by_role("button", name="Restore").click()
    expect(page.locator("pre.text")).to_contain_text('"n": 1')
    assert http.get(f"{base}/snapshot").json()["snapshot"] == {"n": 1}


PROBE = """
const result = {};
try { result.cookie = document.cookie; } catch (e) { result.cookie = "blocked"; }
try { result.parent = String(window.parent.document.title); }
catch (e) { result.parent = "blocked"; }
try { result.storage = String(window.parent.sessionStorage.length); }
catch (e) { result.storage = "blocked"; }
const out = document.createElement("pre");
out.id = "probe";
out.textContent = JSON.stringify(result);
document.body.append(out);
"""


def test_an_applet_runs_sandboxed_and_cannot_read_the_ui(
    page: Page, console: Console, live_server: LiveServer, http: httpx.Client, agent: str
) -> None:
    sid = "safe_named_applet"
    assert http.post(f"/v1/agents/{agent}/sessions", json={"id": sid}).status_code == 201
    response = http.put(
        f"/v1/agents/{agent}/applets/probe",
        json={"name": "Probe", "html": "<h1>probe</h1>", "js": PROBE},
    )
    if _route_missing(response):
        pytest.skip("the applets API (issue 6) is not in this branch yet")
    assert response.status_code in (200, 201), response.text
    page.goto(live_server.url + "/")
    page.evaluate("document.cookie = 'ui_secret=1; path=/'; sessionStorage.setItem('x', '1')")
    page.goto(f"{live_server.url}/ui/agents/{agent}/sessions/{sid}/applets/probe")
    frame = page.frame_locator("iframe.applet-frame")
    probe = frame.locator("#probe")
    expect(probe).to_be_visible()
    result = json.loads(probe.text_content() or "{}")
    assert result == {"cookie": "blocked", "parent": "blocked", "storage": "blocked"}
    assert page.locator("iframe.applet-frame").get_attribute("sandbox") == "allow-scripts"
    # Chromium reports the refused cross-origin access itself; that is the point here.
    console.errors[:] = [e for e in console.errors if "Blocked a frame" not in e]
