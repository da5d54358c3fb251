"""Outputs (issue 6 items 1-2) over real HTTP, on every store."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.api.test_fs_api import problem


@pytest.fixture
def outputs_url(http: httpx.Client, agent: str) -> str:
    response = http.post(f"/v1/agents/{agent}/sessions", json={})
    assert response.status_code == 201, response.text
    return f"/v1/agents/{agent}/sessions/{response.json()['id']}/outputs"


def store(http: httpx.Client, url: str, data: str = "hello", **meta: object) -> dict[str, object]:
    body: dict[str, object] = {"data": data, "metadata": {"type": "terminal", **meta}}
    response = http.post(url, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_store_and_read(http: httpx.Client, outputs_url: str) -> None:
    created = store(http, outputs_url, "$ ls\na b", command="ls", color="green")
    assert created["id"] == "out_1" and created["marker"] == "[output:out_1]"
    meta = created["metadata"]
    assert isinstance(meta, dict) and meta["color"] == "green" and meta["command"] == "ls"
    assert "createdAt" in meta
    read = http.get(f"{outputs_url}/out_1")
    assert read.status_code == 200
    assert read.json()["data"] == "$ ls\na b" and read.json()["encoding"] == "text"
    etag = read.headers["etag"]
    assert http.get(f"{outputs_url}/out_1", headers={"If-None-Match": etag}).status_code == 304
    assert http.get(f"{outputs_url}/out_1", headers={"If-None-Match": '"x"'}).status_code == 200


def test_ids_increase_and_are_never_reused(http: httpx.Client, outputs_url: str) -> None:
    assert [store(http, outputs_url)["id"] for _ in range(3)] == ["out_1", "out_2", "out_3"]
    assert http.delete(f"{outputs_url}/out_3").status_code == 204
    problem(http.get(f"{outputs_url}/out_3"), 404, "output_not_found")
    problem(http.delete(f"{outputs_url}/out_3"), 404, "output_not_found")
    assert store(http, outputs_url)["id"] == "out_4"


def test_concurrent_posts_get_unique_increasing_ids(http: httpx.Client, outputs_url: str) -> None:
    def post(i: int) -> int:
        return int(str(store(http, outputs_url, f"n{i}")["id"])[4:])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(post, range(24)))
    assert sorted(ids) == list(range(1, 25))
    listed = http.get(outputs_url, params={"limit": 100}).json()["data"]
    assert [o["id"] for o in listed] == [f"out_{n}" for n in range(1, 25)]


def test_kinds_by_extension_and_raw(http: httpx.Client, outputs_url: str, agent: str) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00"
    image = http.post(
        outputs_url,
        json={
            "data": base64.b64encode(png).decode(),
            "encoding": "base64",
            "metadata": {"type": "image", "mimeType": "image/png"},
        },
    ).json()
    raw = http.get(f"{outputs_url}/{image['id']}", params={"raw": 1})
    assert raw.content == png and raw.headers["content-type"] == "image/png"
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in raw.headers
    assert http.get(f"{outputs_url}/{image['id']}").json()["encoding"] == "base64"
    for mime in ("text/html", "image/svg+xml", "application/xml", "text/javascript"):
        active = store(http, outputs_url, "<script>alert(1)</script>", mimeType=mime)
        served = http.get(f"{outputs_url}/{active['id']}", params={"raw": "1"})
        assert served.headers["content-disposition"].startswith("attachment"), mime
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-type"].startswith(mime)
    plain = store(http, outputs_url, "just text")
    text = http.get(f"{outputs_url}/{plain['id']}", params={"raw": "1"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == "just text"
    assert "content-disposition" not in text.headers
    data = store(http, outputs_url, '{"a": 1}', mimeType="application/json")
    session = outputs_url.split("/")[5]
    fs = http.get(f"/v1/agents/{agent}/sessions/{session}/fs").json()
    assert fs["data"] == []  # outputs live in their own volume
    assert http.get(f"{outputs_url}/{data['id']}", params={"raw": 1}).json() == {"a": 1}


def test_list_pages_and_filters(http: httpx.Client, outputs_url: str) -> None:
    for i in range(5):
        body = {"data": str(i), "metadata": {"type": "file" if i % 2 else "raw"}}
        assert http.post(outputs_url, json=body).status_code == 201
    first = http.get(outputs_url, params={"limit": 2}).json()
    assert [o["id"] for o in first["data"]] == ["out_1", "out_2"]
    assert "data" not in first["data"][0] or first["data"][0].get("data") is None
    second = http.get(outputs_url, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [o["id"] for o in second["data"]] == ["out_3", "out_4"]
    files = http.get(outputs_url, params={"type": "file"}).json()["data"]
    assert [o["id"] for o in files] == ["out_2", "out_4"]
    problem(http.get(outputs_url, params={"type": "video"}), 400, "invalid_input")
    problem(http.get(outputs_url, params={"cursor": "%%%"}), 400, "cursor_invalid")


def test_resolve_markers(http: httpx.Client, outputs_url: str) -> None:
    store(http, outputs_url, "one")
    store(http, outputs_url, "two")
    text = "[output:out_2] shown; then [output:out_9] and [output:out_1] and [output:out_2]"
    result = http.post(f"{outputs_url}/resolve", json={"text": text}).json()
    assert [o["id"] for o in result["found"]] == ["out_2", "out_1"]
    assert [o["data"] for o in result["found"]] == ["two", "one"]
    assert result["missing"] == ["out_9"]
    messages = [
        {"type": "tool_result", "data": {"content": "[output:out_1] Displayed /a.txt"}},
        "plain [output:out_3]",
        {"nested": [["[output:out_2]"]]},
    ]
    result = http.post(f"{outputs_url}/resolve", json={"messages": messages}).json()
    assert [o["id"] for o in result["found"]] == ["out_1", "out_2"]
    assert result["missing"] == ["out_3"]
    assert http.post(f"{outputs_url}/resolve", json={}).json() == {"found": [], "missing": []}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"data": "x", "metadata": {"type": "video"}}, 400, "invalid_input"),
        ({"data": "x", "metadata": {}}, 400, "invalid_input"),
        ({"data": "x"}, 422, "validation_failed"),
        ({"data": "x", "metadata": {"type": "raw"}, "extra": 1}, 422, "validation_failed"),
        ({"data": 5, "metadata": {"type": "raw"}}, 422, "validation_failed"),
        ({"data": "x", "metadata": {"type": "raw", "mimeType": 3}}, 400, "invalid_input"),
        ({"data": "x", "metadata": {"type": "raw", "mimeType": "a\r\nb: c"}}, 400, "invalid_input"),
        ({"data": "x", "metadata": {"type": "raw", "mimeType": "html"}}, 400, "invalid_input"),
        (
            {"data": "%%%", "encoding": "base64", "metadata": {"type": "image"}},
            400,
            "encoding_invalid",
        ),
        ({"data": "x", "encoding": "hex", "metadata": {"type": "raw"}}, 422, "validation_failed"),
        ({"data": "x", "metadata": {"type": "raw", "big": "y" * 70_000}}, 400, "invalid_input"),
        ({"data": "x", "metadata": ["type", "raw"]}, 422, "validation_failed"),
    ],
)
def test_hostile_posts(
    http: httpx.Client, outputs_url: str, body: dict[str, object], status: int, code: str
) -> None:
    problem(http.post(outputs_url, json=body), status, code)
    assert http.get(outputs_url).json()["data"] == []


@pytest.mark.parametrize(
    "output_id", ["out_0", "out_01", "abc", "out_", "out_-1", "out_1.txt", "out_" + "9" * 30]
)
def test_bad_ids_are_404(http: httpx.Client, outputs_url: str, output_id: str) -> None:
    store(http, outputs_url)
    problem(http.get(f"{outputs_url}/{output_id}"), 404, "output_not_found")
    problem(http.delete(f"{outputs_url}/{output_id}"), 404, "output_not_found")


def test_malformed_bodies(http: httpx.Client, outputs_url: str) -> None:
    bad = http.post(outputs_url, content=b"{nope", headers={"content-type": "application/json"})
    problem(bad, 400, "body_invalid")
    problem(http.post(f"{outputs_url}/resolve", json={"text": 3}), 422, "validation_failed")
    deep: object = "[output:out_1]"
    for _ in range(100):
        deep = [deep]
    problem(http.post(f"{outputs_url}/resolve", json={"messages": deep}), 400, "invalid_input")


def test_unknown_session_and_session_delete(http: httpx.Client, agent: str) -> None:
    problem(
        http.post(
            f"/v1/agents/{agent}/sessions/safe_named_nope/outputs",
            json={"data": "x", "metadata": {"type": "raw"}},
        ),
        404,
        "session_not_found",
    )
    base = f"/v1/agents/{agent}/sessions"
    assert http.post(base, json={"id": "safe_named_again"}).status_code == 201
    url = f"{base}/safe_named_again/outputs"
    store(http, url, "first life")
    assert http.delete(f"{base}/safe_named_again").status_code == 204
    problem(http.get(f"{url}/out_1"), 404, "session_not_found")
    assert http.post(base, json={"id": "safe_named_again"}).status_code == 201
    problem(http.get(f"{url}/out_1"), 404, "output_not_found")
    store(http, url, "second life")
    assert http.get(f"{url}/out_1").json()["data"] == "second life"


def test_foreign_cursor_is_refused(http: httpx.Client, outputs_url: str) -> None:
    store(http, outputs_url)
    forged = base64.urlsafe_b64encode(b"zz").decode().rstrip("=")
    problem(http.get(outputs_url, params={"cursor": forged}), 400, "cursor_invalid")
