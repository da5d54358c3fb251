"""The snapshot REST contract (issue 5, DESIGN.md §6), on a real server, on every store."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from tests.api.test_fs_api import problem
from tests.conftest import http_client


@pytest.fixture
def base(http: httpx.Client, agent: str) -> str:
    """``/v1/agents/{a}/sessions/{s}`` of a fresh session."""
    response = http.post(f"/v1/agents/{agent}/sessions", json={})
    assert response.status_code == 201, response.text
    return f"/v1/agents/{agent}/sessions/{response.json()['id']}"


def envelope(stamp: int, **snapshot: Any) -> dict[str, Any]:
    return {"version": 1, "updatedAt": stamp, "handleKey": None, "snapshot": snapshot}


def test_put_get_and_etag(http: httpx.Client, base: str) -> None:
    problem(http.get(f"{base}/snapshot"), 404, "snapshot_not_found")
    body = envelope(1731576000000, filters=[{"col": "a"}], font="inter")
    put = http.put(f"{base}/snapshot", json=body)
    assert put.status_code == 200, put.text
    assert put.json() == body
    etag = put.headers["etag"]
    got = http.get(f"{base}/snapshot")
    assert got.status_code == 200 and got.json() == body
    assert got.headers["etag"] == etag
    assert got.headers["content-type"].startswith("application/json")
    cached = http.get(f"{base}/snapshot", headers={"If-None-Match": etag})
    assert cached.status_code == 304


def test_history_rotation_get_and_restore(http: httpx.Client, base: str) -> None:
    for stamp in (100, 200, 300, 400, 500):
        assert http.put(f"{base}/snapshot", json=envelope(stamp, i=stamp)).status_code == 200
    history = http.get(f"{base}/snapshots").json()["data"]
    assert [h["updatedAt"] for h in history] == [400, 300, 200]
    assert all(h["size_bytes"] > 0 and h["created_at"].endswith("Z") for h in history)
    assert http.get(f"{base}/snapshots/300").json() == envelope(300, i=300)
    assert http.get(f"{base}/snapshots/500").json() == envelope(500, i=500)
    problem(http.get(f"{base}/snapshots/100"), 404, "snapshot_not_found")
    restored = http.post(f"{base}/snapshots/200/restore")
    assert restored.status_code == 200 and restored.json() == envelope(200, i=200)
    assert restored.headers["etag"] == http.get(f"{base}/snapshot").headers["etag"]
    assert http.get(f"{base}/snapshot").json()["updatedAt"] == 200
    assert [h["updatedAt"] for h in http.get(f"{base}/snapshots").json()["data"]] == [500, 400, 300]
    problem(http.post(f"{base}/snapshots/100/restore"), 404, "snapshot_not_found")
    deleted = http.delete(f"{base}/snapshot")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": 4}
    problem(http.get(f"{base}/snapshot"), 404, "snapshot_not_found")
    assert http.get(f"{base}/snapshots").json() == {"data": []}


def test_snapshots_are_files_of_the_snapshots_volume(http: httpx.Client, base: str) -> None:
    http.put(f"{base}/snapshot", json=envelope(1, a=1))
    http.put(f"{base}/snapshot", json=envelope(2, a=2))
    # the user-visible filesystem stays clean
    assert http.get(f"{base}/fs").json()["data"] == []


def test_if_match(http: httpx.Client, base: str) -> None:
    problem(
        http.put(f"{base}/snapshot", json=envelope(1), headers={"If-Match": '"x"'}),
        412,
        "precondition_failed",
    )
    first = http.put(f"{base}/snapshot", json=envelope(1, tab="a"))
    tab_a = first.headers["etag"]
    second = http.put(f"{base}/snapshot", json=envelope(2, tab="a"), headers={"If-Match": tab_a})
    assert second.status_code == 200
    # tab b still holds the first ETag: refused, nothing written
    problem(
        http.put(f"{base}/snapshot", json=envelope(3, tab="b"), headers={"If-Match": tab_a}),
        412,
        "precondition_failed",
    )
    assert http.get(f"{base}/snapshot").json()["snapshot"] == {"tab": "a"}
    for stamp, garbage in enumerate(("", "W/", '"', "*,,", "a , b", '"0.1", W/"x"'), start=10):
        response = http.put(
            f"{base}/snapshot", json=envelope(stamp, g=garbage), headers={"If-Match": garbage}
        )
        assert response.status_code == (200 if "*" in garbage else 412), response.text


def test_same_updated_at_conflict_and_idempotence(http: httpx.Client, base: str) -> None:
    first = http.put(f"{base}/snapshot", json=envelope(7, a=1))
    again = http.put(f"{base}/snapshot", json=envelope(7, a=1))
    assert again.status_code == 200 and again.headers["etag"] == first.headers["etag"]
    problem(http.put(f"{base}/snapshot", json=envelope(7, a=2)), 409, "snapshot_conflict")
    assert http.get(f"{base}/snapshots").json() == {"data": []}


def test_resolve_handle(http: httpx.Client, base: str) -> None:
    made = http.post(f"{base}/fs/data/sales.csv", json={"content": "a,b\n"})
    body = envelope(1) | {"handleKey": "/data/sales.csv"}
    http.put(f"{base}/snapshot", json=body)
    got = http.get(f"{base}/snapshot", params={"resolve_handle": "true"}).json()
    assert got["handle"] == {
        "path": "/data/sales.csv",
        "exists": True,
        "etag": made.headers["etag"],
    }
    assert "handle" not in http.get(f"{base}/snapshot").json()
    http.delete(f"{base}/fs/data/sales.csv")
    got = http.get(f"{base}/snapshot", params={"resolve_handle": "true"})
    assert got.status_code == 200
    assert got.json()["handle"] == {
        "path": "/data/sales.csv",
        "exists": False,
        "etag": None,
        "code": "missing_handle",
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "invalid_input"),
        (b"{", 400, "invalid_input"),
        (b"\xff\xfe\x00", 400, "invalid_input"),
        (b'{"version": 1, "updatedAt": NaN, "snapshot": {}}', 400, "invalid_input"),
        (b"[" * 50_000 + b"]" * 50_000, 400, "invalid_input"),
        (b"1" * 5000, 400, "invalid_input"),
        (b"[]", 422, "snapshot_invalid"),
        (b"null", 422, "snapshot_invalid"),
        (b"{}", 422, "snapshot_invalid"),
        (b'{"version": 1, "updatedAt": 1}', 422, "snapshot_invalid"),
        (b'{"version": 1, "updatedAt": 1, "snapshot": []}', 422, "snapshot_invalid"),
        (b'{"version": 1, "updatedAt": 1, "snapshot": "x"}', 422, "snapshot_invalid"),
        (b'{"version": "1", "updatedAt": 1, "snapshot": {}}', 422, "snapshot_invalid"),
        (b'{"version": true, "updatedAt": 1, "snapshot": {}}', 422, "snapshot_invalid"),
        (b'{"version": 1, "updatedAt": 1.5, "snapshot": {}}', 422, "snapshot_invalid"),
        (b'{"version": 1, "updatedAt": -3, "snapshot": {}}', 422, "snapshot_invalid"),
        (b'{"version": 1, "updatedAt": 1e3, "snapshot": {}}', 422, "snapshot_invalid"),
        (
            b'{"version": 1, "updatedAt": 1, "snapshot": {}, "handleKey": 1}',
            422,
            "snapshot_invalid",
        ),
        (b'{"version": 1, "updatedAt": 1, "snapshot": {}, "extra": 1}', 422, "snapshot_invalid"),
        (b'{"version": 1, "updatedAt": 1, "snapshot": {"s": "\\ud800"}}', 422, "snapshot_invalid"),
    ],
)
def test_hostile_bodies(http: httpx.Client, base: str, body: bytes, status: int, code: str) -> None:
    response = http.put(
        f"{base}/snapshot", content=body, headers={"content-type": "application/json"}
    )
    problem(response, status, code)
    problem(http.get(f"{base}/snapshot"), 404, "snapshot_not_found")


def test_too_large_and_quota(http: httpx.Client, base: str) -> None:
    huge = json.dumps(envelope(1, x="y" * (10 * 1000 * 1000))).encode()
    problem(
        http.put(f"{base}/snapshot", content=huge, headers={"content-type": "application/json"}),
        413,
        "too_large",
    )
    # the test server's session quota is 8 MiB and files 3 MiB: fill it, then save
    for i in range(2):
        http.put(f"{base}/fs/f{i}", content=b"x" * (3 * 1024 * 1024 - 1))
    response = http.put(f"{base}/snapshot", json=envelope(1, x="y" * (2_500_000)))
    problem(response, 507, "quota_exceeded")
    problem(http.get(f"{base}/snapshot"), 404, "snapshot_not_found")


def test_bad_path_values(http: httpx.Client, base: str, agent: str) -> None:
    problem(http.get(f"{base}/snapshots/abc"), 422, "validation_failed")
    problem(http.get(f"{base}/snapshots/-1"), 422, "validation_failed")
    problem(http.post(f"{base}/snapshots/{2**60}/restore"), 422, "validation_failed")
    problem(
        http.get(f"/v1/agents/{agent}/sessions/safe_named_ghost/snapshot"), 404, "session_not_found"
    )
    problem(
        http.put(f"/v1/agents/{agent}/sessions/not a session/snapshot", json=envelope(1)),
        400,
        "session_id_invalid",
    )
    problem(http.patch(f"{base}/snapshot", json={}), 405, "method_not_allowed")


def test_static_module_is_served(http: httpx.Client) -> None:
    response = http.get("/static/sessionbox.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "export function createAutosaver" in response.text
    problem(http.get("/static/nope.js"), 404, "not_found")


def test_openapi_documents_the_snapshot_routes(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    prefix = "/v1/agents/{agent_id}/sessions/{session_id}"
    for path in ("/snapshot", "/snapshots", "/snapshots/{updated_at}"):
        assert prefix + path in spec["paths"]
    put = spec["paths"][prefix + "/snapshot"]["put"]
    schema = put["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"version", "updatedAt", "snapshot"}


def test_concurrent_puts_over_http(live_server: Any, base: str) -> None:
    """Writers race over real HTTP: acknowledged saves survive, history stays bounded."""
    writers, per_writer = 4, 6
    acknowledged: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def write(worker: int) -> None:
        with http_client(live_server.url, timeout=60) as client:
            for i in range(per_writer):
                stamp = 10_000 + i * writers + worker
                response = client.put(f"{base}/snapshot", json=envelope(stamp, w=worker, i=i))
                if response.status_code != 200:
                    failures.append(response.text)
                    continue
                with lock:
                    acknowledged.append(stamp)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with http_client(live_server.url) as client:
        latest = client.get(f"{base}/snapshot").json()
        history = [h["updatedAt"] for h in client.get(f"{base}/snapshots").json()["data"]]
    assert latest["updatedAt"] in acknowledged
    assert latest == envelope(latest["updatedAt"], **latest["snapshot"])
    assert len(history) == 3
    assert set(sorted(acknowledged)[-3:]) <= {latest["updatedAt"], *history}
