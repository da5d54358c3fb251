"""POST /v1/agents/{a}/sessions/resolve (issue 4 §2), on a real server, on every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import sessionbox
from sessionbox.errors import InvalidInput, ModeMismatch, PanelPathInvalid
from sessionbox.store._sqlstore import SqlStore
from tests.api.test_fs_api import problem


def resolve(http: httpx.Client, agent: str, **body: Any) -> httpx.Response:
    return http.post(f"/v1/agents/{agent}/sessions/resolve", json=body)


def test_auto_session_is_idempotent_and_keeps_files(http: httpx.Client, agent: str) -> None:
    first = resolve(http, agent, mode="safe", panel_path="panels/editor")
    assert first.status_code == 201
    assert first.json() == {
        "session_id": "safe_auto_panels~editor",
        "partition": "persist:safe_auto_panels~editor",
        "resumable": True,
        "created": True,
    }
    fs = f"/v1/agents/{agent}/sessions/safe_auto_panels~editor/fs"
    assert http.put(f"{fs}/notes.txt", json={"content": "kept"}).status_code == 201
    second = resolve(http, agent, mode="safe", panel_path="panels/editor")
    assert second.status_code == 200
    assert second.json() == {**first.json(), "created": False}
    assert http.get(f"{fs}/notes.txt").json()["content"] == "kept"
    session = http.get(f"/v1/agents/{agent}/sessions/safe_auto_panels~editor").json()
    assert (session["mode"], session["type"]) == ("safe", "auto")


def test_unsafe_auto(http: httpx.Client, agent: str) -> None:
    body = resolve(http, agent, mode="unsafe", panel_path="panels/terminal").json()
    assert body["session_id"] == "unsafe_auto_panels~terminal"


def test_named_child_is_deterministic(http: httpx.Client, agent: str) -> None:
    parent = "safe_auto_panels~root"
    first = resolve(http, agent, mode="safe", parent_session=parent, name="myeditor")
    assert first.status_code == 201
    assert first.json()["session_id"] == "safe_auto_panels~root~myeditor"
    assert first.json()["resumable"] is True
    again = resolve(http, agent, mode="safe", parent_session=parent, name="myeditor")
    assert again.json() == {**first.json(), "created": False}


def test_unnamed_child_gets_a_nonce(http: httpx.Client, agent: str) -> None:
    seen = set()
    for _ in range(3):
        body = resolve(http, agent, mode="safe", parent_session="safe_auto_panels~root").json()
        assert body["created"] is True and body["resumable"] is False
        assert body["session_id"].startswith("safe_auto_panels~root~")
        seen.add(body["session_id"])
    assert len(seen) == 3


def test_new_session_is_unique(http: httpx.Client, agent: str) -> None:
    ids = set()
    for _ in range(3):
        body = resolve(http, agent, mode="unsafe", panel_path="panels/x", new_session=True).json()
        assert body["session_id"].startswith("unsafe_named_") and body["created"] is True
        assert body["resumable"] is False
        ids.add(body["session_id"])
    assert len(ids) == 3


def test_explicit_session_is_shared_and_mode_checked(http: httpx.Client, agent: str) -> None:
    shared = "safe_named_shared-workspace"
    first = resolve(http, agent, mode="safe", panel_path="panels/editor", session_id=shared)
    assert first.status_code == 201 and first.json()["session_id"] == shared
    second = resolve(http, agent, mode="safe", panel_path="panels/preview", session_id=shared)
    assert second.json() == {**first.json(), "created": False}
    problem(resolve(http, agent, mode="unsafe", session_id=shared), 403, "mode_mismatch")
    problem(resolve(http, agent, mode="safe", session_id="unsafe_named_x"), 403, "mode_mismatch")
    # A UUID session is safe.
    uuid_id = http.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    assert resolve(http, agent, mode="safe", session_id=uuid_id.upper()).json() == {
        "session_id": uuid_id,
        "partition": f"persist:{uuid_id}",
        "resumable": True,
        "created": False,
    }
    problem(resolve(http, agent, mode="unsafe", session_id=uuid_id), 403, "mode_mismatch")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "validation_failed"),
        ({"mode": "root", "panel_path": "p"}, 422, "validation_failed"),
        ({"mode": "safe"}, 400, "invalid_input"),
        ({"mode": "safe", "panel_path": "/panels/editor"}, 400, "panel_path_invalid"),
        ({"mode": "safe", "panel_path": "a~b"}, 400, "panel_path_invalid"),
        ({"mode": "safe", "panel_path": "a/../b"}, 400, "panel_path_invalid"),
        ({"mode": "safe", "panel_path": "p", "name": "x"}, 400, "invalid_input"),
        ({"mode": "safe", "session_id": "safe_named_x", "new_session": True}, 400, "invalid_input"),
        (
            {"mode": "safe", "session_id": "x", "parent_session": "safe_auto_p"},
            400,
            "invalid_input",
        ),
        ({"mode": "safe", "session_id": "safe_named_a/b"}, 400, "session_id_invalid"),
        ({"mode": "safe", "parent_session": "nope"}, 400, "session_id_invalid"),
        (
            {"mode": "safe", "parent_session": "safe_auto_p", "name": "a~b"},
            400,
            "session_id_invalid",
        ),
        (
            {"mode": "safe", "parent_session": "safe_auto_" + "p" * 200, "name": "n"},
            400,
            "session_id_invalid",
        ),
        ({"mode": "safe", "panel_path": 5}, 422, "validation_failed"),
        ({"mode": "safe", "panel_path": "p", "extra": 1}, 422, "validation_failed"),
        ({"mode": "safe", "panel_path": "p", "new_session": "yes"}, 422, "validation_failed"),
    ],
)
def test_bad_resolve_input(
    http: httpx.Client, agent: str, body: Any, status: int, code: str
) -> None:
    problem(resolve(http, agent, **body), status, code)
    assert http.get(f"/v1/agents/{agent}/sessions").json()["data"] == []


def test_bad_agent_and_body(http: httpx.Client) -> None:
    problem(
        http.post("/v1/agents/-bad/sessions/resolve", json={"mode": "safe", "panel_path": "p"}),
        400,
        "agent_id_invalid",
    )
    problem(
        http.post(
            "/v1/agents/a/sessions/resolve",
            content=b"{",
            headers={"content-type": "application/json"},
        ),
        400,
        "body_invalid",
    )


def test_library_resolve(box: sessionbox.Sessionbox, agent: str) -> None:
    first = box.resolve_session(agent, "safe", panel_path="panels/editor")
    assert first.created and first.resumable and first.session.id == "safe_auto_panels~editor"
    box.session(agent, first.session.id).files.write("/a.txt", "x")
    again = box.resolve_session(agent, "safe", panel_path="panels/editor")
    assert not again.created and again.session.id == first.session.id
    assert box.session(agent, again.session.id).files.read_text("/a.txt") == "x"
    child = box.resolve_session(agent, "safe", parent_session=first.session.id, name="c")
    assert child.session.id == "safe_auto_panels~editor~c"
    with pytest.raises(ModeMismatch):
        box.resolve_session(agent, "unsafe", session_id=first.session.id)
    with pytest.raises(PanelPathInvalid):
        box.resolve_session(agent, "safe", panel_path="../x")
    with pytest.raises(InvalidInput):
        box.resolve_session(agent, "safe")


def test_resolve_counts_as_use(box: sessionbox.Sessionbox, agent: str) -> None:
    first = box.resolve_session(agent, "safe", panel_path="p")
    # Age the session, as if it had been idle for an hour.
    store = box.store
    old = datetime.now(UTC) - timedelta(hours=1)
    assert isinstance(store, SqlStore)
    store._write_tx(
        lambda conn: conn.execute(
            store.dialect.sql("UPDATE sessions SET last_active_at = ? WHERE id = ?"),
            (store.dialect.ts(old), first.session.id),
        )
    )
    assert box.get_session(agent, "safe_auto_p").last_active_at < first.session.last_active_at
    again = box.resolve_session(agent, "safe", panel_path="p")
    assert again.session.last_active_at >= first.session.last_active_at
    assert box.get_session(agent, "safe_auto_p").last_active_at == again.session.last_active_at
