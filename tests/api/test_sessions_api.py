"""Sessions over HTTP (issue 3 §3), on every store."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.test_fs_api import problem


def test_create_defaults_to_uuid7(http: httpx.Client, agent: str) -> None:
    created = http.post(f"/v1/agents/{agent}/sessions", json={})
    assert created.status_code == 201
    body = created.json()
    assert uuid.UUID(body["id"]).version == 7
    assert body["agent_id"] == agent and body["mode"] == "safe"
    assert body["partition"] == f"persist:{body['id']}"
    assert {"created_at", "last_active_at"} <= body.keys()
    assert http.post(f"/v1/agents/{agent}/sessions").status_code == 201  # no body at all


def test_create_with_partition_id(http: httpx.Client, agent: str) -> None:
    body = http.post(f"/v1/agents/{agent}/sessions", json={"id": "unsafe_auto_panels~term"}).json()
    assert (body["id"], body["mode"], body["type"]) == ("unsafe_auto_panels~term", "unsafe", "auto")
    problem(
        http.post(f"/v1/agents/{agent}/sessions", json={"id": "unsafe_auto_panels~term"}),
        409,
        "exists",
    )
    problem(
        http.post(f"/v1/agents/{agent}/sessions", json={"id": "safe_named_x", "mode": "unsafe"}),
        400,
        "invalid_input",
    )


@pytest.mark.parametrize("bad", ["x", "safe_auto_", "safe_auto_a/b", "SAFE_auto_x", "../x", " "])
def test_invalid_ids(http: httpx.Client, agent: str, bad: str) -> None:
    problem(http.post(f"/v1/agents/{agent}/sessions", json={"id": bad}), 400, "session_id_invalid")


def test_list_pages_and_filters(http: httpx.Client, agent: str) -> None:
    ids = [f"safe_named_s{i:02d}" for i in range(7)] + ["unsafe_named_u"]
    for sid in ids:
        assert http.post(f"/v1/agents/{agent}/sessions", json={"id": sid}).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = http.get(f"/v1/agents/{agent}/sessions", params=params).json()
        seen += [s["id"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)
    unsafe = http.get(f"/v1/agents/{agent}/sessions", params={"mode": "unsafe"}).json()
    assert [s["id"] for s in unsafe["data"]] == ["unsafe_named_u"]
    problem(
        http.get(f"/v1/agents/{agent}/sessions", params={"cursor": "%%%"}), 400, "cursor_invalid"
    )
    assert agent in http.get("/v1/agents", params={"limit": 1000}).json()["data"]


def test_get_and_delete(http: httpx.Client, agent: str) -> None:
    sid = http.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    http.put(f"/v1/agents/{agent}/sessions/{sid}/fs/a/b.txt", json={"content": "x"})
    assert http.get(f"/v1/agents/{agent}/sessions/{sid}").json()["id"] == sid
    assert http.delete(f"/v1/agents/{agent}/sessions/{sid}").status_code == 204
    problem(http.get(f"/v1/agents/{agent}/sessions/{sid}"), 404, "session_not_found")
    problem(http.get(f"/v1/agents/{agent}/sessions/{sid}/fs/a/b.txt"), 404, "session_not_found")
    problem(http.delete(f"/v1/agents/{agent}/sessions/{sid}"), 404, "session_not_found")
    again = http.post(f"/v1/agents/{agent}/sessions", json={"id": sid})
    assert again.status_code == 201
    assert http.get(f"/v1/agents/{agent}/sessions/{sid}/fs").json()["data"] == []


def test_other_agents_sessions_are_not_found(http: httpx.Client, agent: str) -> None:
    sid = http.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    problem(http.get(f"/v1/agents/{agent}-other/sessions/{sid}"), 404, "session_not_found")


def test_openapi_and_docs(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert "/v1/agents/{agent_id}/sessions/{session_id}/fs/{path}" in spec["paths"]
    assert "/v1/agents/{agent_id}/sessions/{session_id}/fs/_/grep" in spec["paths"]
    assert http.get("/docs").status_code == 200
    assert http.get("/healthz").json() == {"status": "ok"}


def test_unknown_route_is_a_problem(http: httpx.Client) -> None:
    problem(http.get("/v2/nothing"), 404, "not_found")
    problem(http.patch("/healthz"), 405, "method_not_allowed")


def test_list_filters_by_type_and_mode(http: httpx.Client, agent: str) -> None:
    base = f"/v1/agents/{agent}/sessions"
    uuid_id = http.post(base, json={}).json()["id"]
    for sid in ("safe_auto_p", "unsafe_auto_q", "safe_named_n"):
        assert http.post(base, json={"id": sid}).status_code == 201

    def ids(**params: str) -> list[str]:
        return [s["id"] for s in http.get(base, params=params).json()["data"]]

    assert ids(type="auto") == ["safe_auto_p", "unsafe_auto_q"]
    assert ids(type="auto", mode="safe") == ["safe_auto_p"]
    assert ids(type="named") == ["safe_named_n"]
    assert ids(type="uuid") == [uuid_id]
    assert ids(mode="safe") == sorted([uuid_id, "safe_auto_p", "safe_named_n"])
    problem(http.get(base, params={"type": "other"}), 422, "validation_failed")
    problem(http.get(base, params={"mode": "SAFE"}), 422, "validation_failed")


def test_ttl_sets_expires_at(http: httpx.Client, agent: str) -> None:
    body = http.post(f"/v1/agents/{agent}/sessions", json={"ttl_seconds": 3600}).json()
    assert body["expires_at"] is not None and body["expires_at"] > body["created_at"]
    problem(
        http.post(f"/v1/agents/{agent}/sessions", json={"ttl_seconds": 0}),
        422,
        "validation_failed",
    )


@pytest.mark.parametrize("cursor", ["AAAA", "AA", "_w"])
def test_a_cursor_decoding_to_nul_is_400_on_every_store(
    http: httpx.Client, agent: str, cursor: str
) -> None:
    """Regression: on PostgreSQL a NUL in the decoded key reached psycopg and was a 500."""
    http.post(f"/v1/agents/{agent}/sessions", json={})
    problem(http.get("/v1/agents", params={"cursor": cursor}), 400, "cursor_invalid")
    problem(
        http.get(f"/v1/agents/{agent}/sessions", params={"cursor": cursor}), 400, "cursor_invalid"
    )
