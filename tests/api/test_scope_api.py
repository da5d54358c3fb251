"""Unsafe scope dirs over HTTP: every refusal is a 4xx problem and changes nothing on disk."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api._raw import raw_request
from tests.api.test_fs_api import HOSTILE, PROBLEM, problem
from tests.conftest import LiveServer


def _tree(top: Path) -> list[str]:
    return sorted(str(p.relative_to(top)) for p in top.rglob("*"))


@pytest.fixture
def scope(live_server: LiveServer, http: httpx.Client, agent: str) -> tuple[str, Path]:
    sid = f"unsafe_named_{secrets.token_hex(6)}"
    assert http.post(f"/v1/agents/{agent}/sessions", json={"id": sid}).status_code == 201
    where = live_server.app.state.store.scope_dir(agent, sid)
    assert where is not None and where.is_dir()
    return f"/v1/agents/{agent}/sessions/{sid}/fs", where


def test_unsafe_session_files_are_plain_files(http: httpx.Client, scope: tuple[str, Path]) -> None:
    url, where = scope
    assert http.put(f"{url}/notes/todo.md", json={"content": "- ship"}).status_code == 201
    assert (where / "notes" / "todo.md").read_text() == "- ship"
    (where / "notes" / "native.txt").write_text("from a shell")
    listing = http.get(f"{url}/notes").json()["data"]
    assert [e["name"] for e in listing] == ["native.txt", "todo.md"]
    assert http.get(f"{url}/notes/native.txt").json()["content"] == "from a shell"
    raw = http.get(f"{url}/notes/native.txt", params={"raw": 1})
    assert raw.content == b"from a shell" and raw.headers["etag"]


@pytest.mark.parametrize("suffix", HOSTILE)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_traversal_is_400_with_no_effect(
    live_server: LiveServer, scope: tuple[str, Path], suffix: str, method: str
) -> None:
    url, where = scope
    before = _tree(where.parent.parent)
    response = raw_request(
        live_server.url,
        method,
        url + suffix,
        json.dumps({"content": "pwned"}).encode() if method == "PUT" else None,
        {"content-type": "application/json"},
    )
    assert response.status == 400 and response.json()["code"] == "path_invalid"
    assert _tree(where.parent.parent) == before


@pytest.mark.parametrize(
    "path",
    [
        "/.env",
        "/app/.env.production",
        "/.git/config",
        "/keys/deploy_key",
        "/tls/a.pem",
        "/home/.ssh/id_rsa",
    ],
)
def test_sensitive_names_are_403(http: httpx.Client, scope: tuple[str, Path], path: str) -> None:
    url, where = scope
    problem(http.put(f"{url}{path}", json={"content": "x"}), 403, "path_forbidden")
    assert _tree(where) == []
    target = where / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("SECRET")
    problem(http.get(f"{url}{path}"), 403, "path_forbidden")
    problem(http.get(f"{url}{path}", params={"raw": 1}), 403, "path_forbidden")
    problem(http.delete(f"{url}{path}"), 403, "path_forbidden")
    assert target.read_text() == "SECRET"
    listed = http.get(url + path.rsplit("/", 1)[0]).json()["data"]
    assert target.name not in [e["name"] for e in listed]


def test_symlink_escape_is_403(http: httpx.Client, scope: tuple[str, Path], tmp_path: Path) -> None:
    url, where = scope
    (tmp_path / "passwd").write_text("root:x:0:0")
    (where / "etc").symlink_to(tmp_path)
    problem(http.get(f"{url}/etc/passwd"), 403, "path_forbidden")
    problem(http.get(f"{url}/etc/passwd", params={"raw": 1}), 403, "path_forbidden")
    problem(http.put(f"{url}/etc/passwd", json={"content": "pwned"}), 403, "path_forbidden")
    problem(http.put(f"{url}/etc/new", json={"content": "pwned"}), 403, "path_forbidden")
    problem(http.get(f"{url}/etc"), 403, "path_forbidden")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd"]
    assert (tmp_path / "passwd").read_text() == "root:x:0:0"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.lists(
        st.one_of(st.text(min_size=1, max_size=12), st.sampled_from([".env", "..", "x.pem"])),
        min_size=1,
        max_size=4,
    ).map("/".join),
    method=st.sampled_from(["GET", "PUT", "DELETE"]),
)
def test_no_path_in_a_scope_gives_a_server_error_or_escapes(
    live_server: LiveServer, scope: tuple[str, Path], path: str, method: str
) -> None:
    url, where = scope
    outside = where.parent.parent
    before = [p for p in _tree(outside) if not p.startswith(str(where.relative_to(outside)))]
    response = raw_request(
        live_server.url,
        method,
        url + "/" + quote(path, safe="/%"),
        b'{"content": "x"}' if method == "PUT" else None,
        {"content-type": "application/json"},
    )
    assert response.status < 500, (path, response.body)
    if response.status >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)
    after = [p for p in _tree(outside) if not p.startswith(str(where.relative_to(outside)))]
    assert after == before
