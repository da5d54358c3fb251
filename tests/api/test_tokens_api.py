"""/v1/tokens (issue 4 §4): admin-only issue/list/revoke, hashing, expiry, bound tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionbox.store._sqlstore import SqlStore
from tests.api.test_access_matrix import ADMIN, guarded  # noqa: F401  (fixture)
from tests.api.test_fs_api import problem
from tests.conftest import LiveServer, http_client

AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def admin(guarded: LiveServer) -> Iterator[httpx.Client]:  # noqa: F811
    with http_client(guarded.url, headers=AUTH, timeout=30) as client:
        yield client


def as_token(guarded: LiveServer, token: str) -> httpx.Client:  # noqa: F811
    return http_client(guarded.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def issue(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    response = admin.post("/v1/tokens", json=body)
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


def test_issue_list_revoke(guarded: LiveServer, admin: httpx.Client, agent: str) -> None:  # noqa: F811
    made = issue(admin, agent_id=agent, mode="safe", read_only=True, ttl_seconds=3600)
    assert made["token"].startswith("sbx_") and made["agent_id"] == agent
    assert made["mode"] == "safe" and made["read_only"] is True and made["session_id"] is None
    assert made["expires_at"] is not None and made["revoked_at"] is None
    listed = admin.get("/v1/tokens", params={"agent_id": agent}).json()
    assert [t["id"] for t in listed["data"]] == [made["id"]]
    assert "token" not in listed["data"][0]  # the secret is shown once
    with as_token(guarded, made["token"]) as client:
        assert client.get(f"/v1/agents/{agent}/sessions").status_code == 200
        assert admin.delete(f"/v1/tokens/{made['id']}").status_code == 204
        problem(client.get(f"/v1/agents/{agent}/sessions"), 401, "unauthorized")
    listed = admin.get("/v1/tokens", params={"agent_id": agent}).json()["data"]
    assert listed[0]["revoked_at"] is not None
    assert admin.delete(f"/v1/tokens/{made['id']}").status_code == 204  # idempotent
    problem(admin.delete("/v1/tokens/nope"), 404, "token_not_found")


def test_only_a_hash_is_stored(guarded: LiveServer, admin: httpx.Client, agent: str) -> None:  # noqa: F811
    made = issue(admin, agent_id=agent, mode="unsafe")
    store = guarded.app.state.store
    assert isinstance(store, SqlStore)
    rows = store._read_tx(
        lambda conn: conn.execute(
            store.dialect.sql("SELECT * FROM tokens WHERE id = ?"), (made["id"],)
        ).fetchall()
    )
    assert len(rows) == 1
    assert made["token"] not in [str(value) for value in rows[0]]
    assert hashlib.sha256(made["token"].encode()).hexdigest() in rows[0]


def test_tokens_are_admin_only(guarded: LiveServer, admin: httpx.Client, agent: str) -> None:  # noqa: F811
    made = issue(admin, agent_id=agent, mode="unsafe")
    with as_token(guarded, made["token"]) as client:
        body = {"agent_id": agent, "mode": "unsafe"}
        problem(client.post("/v1/tokens", json=body), 403, "forbidden")
        problem(client.get("/v1/tokens"), 403, "forbidden")
        problem(client.delete(f"/v1/tokens/{made['id']}"), 403, "forbidden")
        assert client.get("/v1/agents").json()["data"] == [agent]
    with http_client(guarded.url) as anonymous:
        problem(anonymous.post("/v1/tokens", json=body), 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"agent_id": "-bad", "mode": "safe"}, 400, "agent_id_invalid"),
        ({"agent_id": "a", "mode": "root"}, 422, "validation_failed"),
        ({"agent_id": "a", "mode": "safe", "session_id": "nope"}, 400, "session_id_invalid"),
        ({"agent_id": "a", "mode": "safe", "session_id": "unsafe_named_x"}, 403, "mode_mismatch"),
        ({"agent_id": "a", "mode": "safe", "ttl_seconds": 0}, 422, "validation_failed"),
        ({"agent_id": "a", "mode": "safe", "read_only": "yes"}, 422, "validation_failed"),
        ({"agent_id": "a", "mode": "safe", "admin": True}, 422, "validation_failed"),
        ({"mode": "safe"}, 422, "validation_failed"),
    ],
)
def test_bad_token_requests(admin: httpx.Client, body: Any, status: int, code: str) -> None:
    problem(admin.post("/v1/tokens", json=body), status, code)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sbx_",
        "Bearer sbx_" + "A" * 43,
        "Bearer sbx_" + "A" * 44,
        "Bearer sbx_" + "é" * 43,
        "Bearer " + "x" * 10_000,
        "Token abc",
    ],
)
def test_malformed_tokens_are_401(guarded: LiveServer, header: str) -> None:  # noqa: F811
    with http_client(guarded.url, timeout=30) as client:
        response = client.get("/v1/agents/a/sessions", headers={"Authorization": header.encode()})
        problem(response, 401, "unauthorized")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=[chr(c) for c in [*range(0x21, 0x7F), *range(0xA0, 0x100)]], min_size=1))
def test_any_token_text_is_a_401_never_a_500(guarded: LiveServer, text: str) -> None:  # noqa: F811
    with http_client(guarded.url, timeout=30) as client:
        header = f"Bearer {text}".encode("latin-1")
        response = client.get("/v1/agents/a/sessions", headers={"Authorization": header})
        assert response.status_code in (200, 401), response.text


def test_a_bound_token_uses_its_own_session(
    guarded: LiveServer,  # noqa: F811
    admin: httpx.Client,
    agent: str,
) -> None:
    own = f"safe_auto_panels~{secrets.token_hex(4)}"
    made = issue(admin, agent_id=agent, mode="safe", session_id=own)
    assert made["session_id"] == own
    base = f"/v1/agents/{agent}/sessions"
    with as_token(guarded, made["token"]) as client:
        problem(client.get(f"{base}/{own}"), 404, "session_not_found")
        panel = own.removeprefix("safe_auto_").replace("~", "/")
        created = client.post(f"{base}/resolve", json={"mode": "safe", "panel_path": panel})
        assert created.status_code == 201 and created.json()["session_id"] == own
        assert client.put(f"{base}/{own}/fs/a.txt", json={"content": "a"}).status_code == 201
        assert client.get(f"{base}/{own}/fs/a.txt").json()["content"] == "a"
        assert [e["name"] for e in client.get(f"{base}/{own}/fs").json()["data"]] == ["a.txt"]
        assert client.get(f"{base}/{own}").json()["id"] == own
        problem(client.get(base), 403, "forbidden")
        problem(client.post(base, json={}), 403, "forbidden")
        problem(
            client.post(f"{base}/resolve", json={"mode": "safe", "new_session": True}),
            404,
            "session_not_found",
        )
        assert client.delete(f"{base}/{own}").status_code == 204
        assert client.post(base, json={"id": own}).status_code == 201
    assert admin.get(f"{base}").json()["data"][0]["id"] == own


def test_uuid_bound_token_matches_any_case(
    guarded: LiveServer,  # noqa: F811
    admin: httpx.Client,
    agent: str,
) -> None:
    sid = admin.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    made = issue(admin, agent_id=agent, mode="safe", session_id=sid.upper())
    assert made["session_id"] == sid
    with as_token(guarded, made["token"]) as client:
        assert client.get(f"/v1/agents/{agent}/sessions/{sid.upper()}").status_code == 200


def test_scope_dir_is_shown_for_unsafe_sessions(
    guarded: LiveServer,  # noqa: F811
    admin: httpx.Client,
    agent: str,
) -> None:
    base = f"/v1/agents/{agent}/sessions"
    admin.post(base, json={"id": "unsafe_named_u"})
    admin.post(base, json={"id": "safe_named_s"})
    expected = str((guarded.settings.scopes_dir / "unsafe_named_u").absolute())
    assert admin.get(f"{base}/unsafe_named_u").json()["scope_dir"] == expected
    assert "scope_dir" not in admin.get(f"{base}/safe_named_s").json()
    unsafe = issue(admin, agent_id=agent, mode="unsafe")["token"]
    with as_token(guarded, unsafe) as client:
        assert client.get(f"{base}/unsafe_named_u").json()["scope_dir"] == expected
        assert "scope_dir" not in client.get(f"{base}/safe_named_s").json()
    safe = issue(admin, agent_id=agent, mode="safe")["token"]
    with as_token(guarded, safe) as client:
        assert "scope_dir" not in client.get(f"{base}/safe_named_s").json()
        problem(client.get(f"{base}/unsafe_named_u"), 403, "mode_mismatch")


def test_safe_token_cannot_ask_for_unsafe_listing(
    guarded: LiveServer,  # noqa: F811
    admin: httpx.Client,
    agent: str,
) -> None:
    safe = issue(admin, agent_id=agent, mode="safe")["token"]
    base = f"/v1/agents/{agent}/sessions"
    with as_token(guarded, safe) as client:
        problem(client.get(base, params={"mode": "unsafe"}), 403, "mode_mismatch")
        assert client.get(base, params={"mode": "safe"}).status_code == 200
        problem(
            client.post(f"{base}/resolve", json={"mode": "unsafe", "panel_path": "p"}),
            403,
            "mode_mismatch",
        )
    assert admin.get(base).json()["data"] == []
    with as_token(guarded, safe) as client:
        # An unsafe panel may spawn a safe child: the child's id is safe, the parent unopened.
        child = client.post(
            f"{base}/resolve",
            json={"mode": "safe", "parent_session": "unsafe_auto_p", "name": "c"},
        )
        assert child.status_code == 201 and child.json()["session_id"] == "safe_auto_p~c"
    assert [s["id"] for s in admin.get(base).json()["data"]] == ["safe_auto_p~c"]


def test_an_open_server_ignores_tokens(http: httpx.Client, agent: str) -> None:
    """No admin token configured: every caller is admin, whatever header it sends."""
    safe = http.post("/v1/tokens", json={"agent_id": agent, "mode": "safe"}).json()["token"]
    base = f"/v1/agents/{agent}/sessions"
    headers = {"Authorization": f"Bearer {safe}"}
    assert http.post(base, json={"id": "unsafe_named_u"}, headers=headers).status_code == 201
    assert http.get(f"{base}/unsafe_named_u", headers=headers).status_code == 200
    assert http.get(base, headers={"Authorization": "Bearer junk"}).status_code == 200


@pytest.mark.parametrize("ttl", [10**18, 2**63, 100 * 366 * 86400 + 1])
def test_absurd_ttls_are_400(http: httpx.Client, agent: str, ttl: int) -> None:
    body = {"agent_id": agent, "mode": "safe", "ttl_seconds": ttl}
    problem(http.post("/v1/tokens", json=body), 400, "invalid_input")
    problem(
        http.post(f"/v1/agents/{agent}/sessions", json={"ttl_seconds": ttl}), 400, "invalid_input"
    )
    assert http.get(f"/v1/agents/{agent}/sessions").json()["data"] == []
