"""The fast path (api/fastpath.py) answers exactly as the FastAPI routes it stands in for.

Each request goes to two apps on the same store: the real one, and one built without
the fast-path middleware (every request through FastAPI's routes). Reads and refused
writes change nothing, so their answers must be byte-identical; accepted writes must
agree on status and shape. The suites in this folder are the wider parity tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from sessionbox.api.app import create_app
from sessionbox.api.fastpath import FastPath
from sessionbox.config import Settings
from sessionbox.services.tokens import TokenService
from sessionbox.store.base import Store

ADMIN = "admin-" + secrets.token_hex(8)
HEADERS = ("etag", "content-type", "content-range", "content-length", "accept-ranges")


@dataclasses.dataclass
class Pair:
    fast: TestClient
    plain: TestClient
    base: str
    agent: str
    sid: str
    store: Store

    def both(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, httpx.Response]:
        return self.fast.request(method, url, **kwargs), self.plain.request(method, url, **kwargs)


def _apps(settings: Settings, store: Store) -> tuple[TestClient, TestClient]:
    fast = create_app(settings, store)
    plain = create_app(settings, store)
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not FastPath]
    assert len(fast.user_middleware) == len(plain.user_middleware) + 1
    return TestClient(fast), TestClient(plain)


@pytest.fixture
def pair(settings_and_store: tuple[Settings, Store], agent: str) -> Iterator[Pair]:
    settings, store = settings_and_store
    settings = settings.model_copy(update={"admin_token": ADMIN})
    fast, plain = _apps(settings, store)
    sid = f"safe_named_{secrets.token_hex(6)}"
    base = f"/v1/agents/{agent}/sessions/{sid}/fs"
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert plain.post(f"/v1/agents/{agent}/sessions", json={"id": sid}, headers=auth).is_success
    for path, body in (("/a.txt", "hello\n"), ("/dir/x.txt", "x"), ("/dir/y.md", "# y")):
        assert plain.post(base + path, json={"content": body}, headers=auth).status_code == 201
    plain.put(base + "/bin", content=bytes(range(256)) * 4, headers=auth)
    plain.post(base + "/ro.txt", json={"content": "ro", "is_readonly": True}, headers=auth)
    yield Pair(fast, plain, base, agent, sid, store)


def _same(fast: httpx.Response, plain: httpx.Response) -> None:
    assert fast.status_code == plain.status_code, (fast.text, plain.text)
    for name in HEADERS:
        assert fast.headers.get(name) == plain.headers.get(name), name
    assert fast.content == plain.content


def test_reads_answer_alike(pair: Pair) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    etag = pair.plain.get(pair.base + "/a.txt", headers=auth).headers["etag"]
    other = f"/v1/agents/{pair.agent}/sessions/safe_named_nobody/fs"
    cases: list[tuple[str, dict[str, str]]] = [
        ("/a.txt", {}),
        ("/a.txt?raw=1", {}),
        ("/a.txt?raw=true", {}),
        ("/bin?raw=1", {}),
        ("/bin", {}),
        ("/dir", {}),
        ("/dir/", {}),
        ("", {}),
        ("/", {}),
        ("/dir?raw=1", {}),
        ("/missing", {}),
        ("/missing?raw=1", {}),
        ("/a.txt", {"If-None-Match": etag}),
        ("/a.txt?raw=1", {"If-None-Match": f'"nope", {etag}'}),
        ("/a.txt?raw=1", {"Range": "bytes=1-3"}),
        ("/a.txt?raw=1", {"Range": "bytes=-2"}),
        ("/a.txt?raw=1", {"Range": "bytes=4-"}),
        ("/a.txt?raw=1", {"Range": "bytes=99-"}),
        ("/a.txt?raw=1", {"Range": "bits=1-2"}),
        ("/bad%ff?raw=1", {}),
        ("/a/../b", {}),
        ("/dir?limit=1", {}),
        ("/dir?limit=0", {}),
    ]
    for path, headers in cases:
        _same(*pair.both("GET", pair.base + path, headers={**auth, **headers}))
    for url in (
        other + "/a.txt",
        "/v1/agents/BAD AGENT/sessions/x/fs/a.txt",
        f"/v1/agents/{pair.agent}/sessions/not-a-session/fs/a.txt?raw=1",
    ):
        _same(*pair.both("GET", url, headers=auth))


def test_callers_are_checked_alike(pair: Pair) -> None:
    tokens = TokenService(pair.store)
    mine = tokens.create(pair.agent, "safe", session_id=pair.sid).token
    reader = tokens.create(pair.agent, "safe", read_only=True).token
    stranger = tokens.create("someone-else", "unsafe").token
    revoked = tokens.create(pair.agent, "unsafe")
    tokens.revoke(revoked.record.id)
    unsafe = f"/v1/agents/{pair.agent}/sessions/unsafe_named_x/fs/a.txt"
    for header in (
        None,
        "Basic abc",
        "Bearer ",
        "Bearer not-a-token",
        f"Bearer {mine}",
        f"Bearer {reader}",
        f"Bearer {stranger}",
        f"Bearer {revoked.token}",
    ):
        headers = {} if header is None else {"Authorization": header}
        for method, url, kwargs in (
            ("GET", pair.base + "/a.txt", {}),
            ("GET", pair.base + "/a.txt?raw=1", {}),
            ("GET", unsafe, {}),
            ("PUT", pair.base + "/a.txt", {"content": b"new"}),
            ("PUT", unsafe, {"content": b"new"}),
            ("POST", pair.base + "/a.txt", {"json": {"content": "dup"}}),
            ("POST", pair.base + "/bad body", {"content": b"{nope"}),
        ):
            fast, plain = pair.both(method, url, headers=headers, **kwargs)
            assert fast.status_code == plain.status_code, (header, method, url, fast.text)
            if fast.status_code >= 400 or method == "GET":
                _same(fast, plain)


def test_refused_writes_answer_alike(pair: Pair) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    raw = {**auth, "Content-Type": "application/octet-stream"}
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", "/ro.txt", {"content": b"x", "headers": raw}),
        ("PUT", "/dir", {"content": b"x", "headers": raw}),
        ("PUT", "/a.txt", {"content": b"x", "headers": {**raw, "If-Match": '"stale"'}}),
        ("PUT", "/bad%0Aname", {"content": b"x", "headers": raw}),
        ("PUT", "/a.txt/under", {"content": b"x", "headers": raw}),
        ("POST", "/a.txt", {"json": {"content": "again"}, "headers": auth}),
        ("POST", "/d", {"json": {"content": "x", "is_directory": True}, "headers": auth}),
        ("POST", "/e.txt", {"json": {"content": "x", "encoding": "base64"}, "headers": auth}),
        ("POST", "/f.txt", {"json": {"content": 5}, "headers": auth}),
        ("POST", "/g.txt", {"json": {"nope": 1}, "headers": auth}),
        (
            "POST",
            "/h.txt",
            {"content": b"{oops", "headers": {**auth, "Content-Type": "application/json"}},
        ),
        (
            "POST",
            "/i.txt",
            {"content": b"", "headers": {**auth, "Content-Type": "application/json"}},
        ),
        ("POST", "/ro.txt/x", {"json": {"content": "x"}, "headers": auth}),
    ]
    for method, path, kwargs in cases:
        _same(*pair.both(method, pair.base + path, **kwargs))


def test_accepted_writes_answer_alike(pair: Pair) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    for n, (method, kwargs) in enumerate(
        [
            ("PUT", {"content": b"raw body", "headers": auth}),
            ("PUT", {"content": b"<p>", "headers": {**auth, "Content-Type": "text/html"}}),
            ("PUT", {"content": b"x" * 100_000, "headers": auth}),  # spooled, not small
            ("POST", {"json": {"content": "made"}, "headers": auth}),
            ("POST", {"json": {"is_directory": True}, "headers": auth}),
            ("POST", {"json": {"content": "AAEC", "encoding": "base64"}, "headers": auth}),
        ]
    ):
        fast = pair.fast.request(method, f"{pair.base}/fast/{n}", **kwargs)
        plain = pair.plain.request(method, f"{pair.base}/plain/{n}", **kwargs)
        assert fast.status_code == plain.status_code, fast.text
        assert fast.headers["content-type"] == plain.headers["content-type"]
        a, b = fast.json(), plain.json()
        assert a.keys() == b.keys()
        for key in ("size_bytes", "content_type", "is_directory", "content", "encoding"):
            assert a.get(key) == b.get(key), key
        again = pair.plain.get(f"{pair.base}/fast/{n}?raw=1", headers=auth)
        if not a["is_directory"]:
            assert (
                again.content
                == pair.plain.get(f"{pair.base}/plain/{n}?raw=1", headers=auth).content
            )
    # A second raw PUT overwrites (200), as the route's upsert does.
    fast, plain = (
        pair.fast.put(f"{pair.base}/fast/0", content=b"v2", headers=auth),
        pair.plain.put(f"{pair.base}/plain/0", content=b"v2", headers=auth),
    )
    assert fast.status_code == plain.status_code == 200


class _Recorder:
    """Outer middleware, as a metrics middleware would sit: what route labels a request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            route = scope.get("route")
            self.seen.append(getattr(route, "path", None))


def test_fast_requests_carry_their_route_template(
    settings_and_store: tuple[Settings, Store], agent: str
) -> None:
    settings, store = settings_and_store
    app = create_app(settings, store)
    recorders: list[_Recorder] = []

    def make(inner: ASGIApp) -> _Recorder:
        recorders.append(_Recorder(inner))
        return recorders[-1]

    app.add_middleware(make)  # type: ignore[arg-type]
    client = TestClient(app)
    sid = f"safe_named_{secrets.token_hex(6)}"
    base = f"/v1/agents/{agent}/sessions/{sid}/fs"
    client.post(f"/v1/agents/{agent}/sessions", json={"id": sid})
    assert client.post(base + "/a.txt", json={"content": "x"}).status_code == 201
    assert client.put(base + "/a.txt", content=b"y").status_code == 200
    assert client.get(base + "/a.txt?raw=1").content == b"y"
    assert client.get(base).status_code == 200
    template = "/v1/agents/{agent_id}/sessions/{session_id}/fs"
    assert recorders[0].seen[-4:] == [f"{template}/{{path:fspath}}"] * 3 + [template]


def test_a_body_cut_short_is_a_problem(tmp_path: Path) -> None:
    """A client that leaves mid-upload gets (if anything) client_disconnected, and nothing
    is written: driven through the ASGI interface, where the disconnect is explicit."""

    async def run(app: ASGIApp, body_messages: list[dict[str, Any]], path: str) -> list[Any]:
        sent: list[Any] = []
        messages = iter(body_messages)

        async def receive() -> dict[str, Any]:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "PUT",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/octet-stream")],
            "app": app,
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        return sent

    app = create_app(Settings(data_dir=tmp_path))
    try:
        client = TestClient(app)
        client.post("/v1/agents/a/sessions", json={"id": "safe_named_cut"})
        path = "/v1/agents/a/sessions/safe_named_cut/fs/cut.bin"
        for first in (
            [{"type": "http.request", "body": b"x" * 10, "more_body": True}],
            [],
        ):
            sent = asyncio.run(run(app, first, path))
            start = next(m for m in sent if m["type"] == "http.response.start")
            assert start["status"] == 400
            assert client.get(path + "?raw=1").status_code == 404
    finally:
        app.state.store.close()
