"""Every route, hostile input: a 4xx problem+json of one shape, never a 500, never a write.

The routes are enumerated from the app itself (including hidden aliases such as
``/fs/_actions/...``), and request bodies are built from each route's own schema,
so routes that other work adds later are covered without editing this file.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from sessionbox.types import VolumeKey
from tests.api._raw import raw_request
from tests.conftest import LiveServer, http_client

PROBLEM = "application/problem+json"
SHAPE = {"type", "title", "status", "detail", "code"}
EXTRAS = {"errors", "content_range"}  # documented extras (validation list, 416 size)
KINDS = ("files", "outputs", "snapshots")
WRITERS = ("/move", "/restore")  # POST routes where If-Match guards a write
BAD_AGENT = "-bad agent"
BAD_SESSION = "not a session id"
WRONG_TYPES: list[bytes] = [b"[]", b'"text"', b"42", b"null", b"true", b"[" * 5000 + b"]" * 5000]
QUERY_GARBAGE = {
    "limit": ["abc", "0", "-1", "1e3", "1.5"],
    "cursor": ["%%%garbage", "AAAA", "x" * 3000],
    "raw": ["maybe", "2"],
    "recursive": ["perhaps"],
    "mode": ["reckless"],
    "type": ["weird"],
    "resolve_handle": ["sometimes"],
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the template, e.g. /v1/agents/{agent_id}/sessions/{session_id}/fs/{path}
    route: APIRoute

    @property
    def params(self) -> set[str]:
        return {p.name for p in self.route.dependant.path_params}

    @property
    def query(self) -> set[str]:
        return {p.alias for p in self.route.dependant.query_params}

    @property
    def headers(self) -> set[str]:
        return {p.alias.lower() for p in self.route.dependant.header_params}

    def request_body(self) -> dict[str, Any] | None:
        extra = (self.route.openapi_extra or {}).get("requestBody")
        if extra:
            return dict(extra["content"])
        if self.route.body_field is not None:
            return {"application/json": {}}
        return None

    @property
    def takes_body(self) -> bool:
        return self.request_body() is not None

    @property
    def raw_body_ok(self) -> bool:
        """True when the route also accepts a non-JSON body (raw PUT)."""
        return any(not t.endswith("json") for t in self.request_body() or {})

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # FastAPI's included router (>= 0.120)
            context = getattr(route, "include_context", None)
            yield from _walk(route.original_router.routes, prefix + getattr(context, "prefix", ""))


def v1_routes(app: FastAPI) -> list[Route]:
    found = [
        Route(method, path, route)
        for path, route in _walk(app.router.routes)
        for method in sorted(route.methods or ())
        if path.startswith("/v1/")
    ]
    assert len(found) >= 20, [str(r) for r in found]  # enumeration itself must work
    return found


def _schema_of(route: Route, app: FastAPI) -> dict[str, Any]:
    body = route.request_body() or {}
    schema: dict[str, Any] = body.get("application/json", {}).get("schema", {})
    if not schema and route.route.body_field is not None:
        plain = re.sub(r":\w+\}", "}", route.path)
        found = app.openapi()["paths"].get(plain, {}).get(route.method.lower(), {})
        schema = (found.get("requestBody", {}).get("content", {}).get("application/json", {})).get(
            "schema", {}
        )
    return schema


def _resolve(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        components = app.openapi().get("components", {}).get("schemas", {})
        return _resolve(components.get(name, {}), app)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _resolve(options[0], app) if options else {}
    return schema


def _sample(schema: dict[str, Any], app: FastAPI) -> Any:
    """A minimal valid value of a JSON schema: required fields (and ``content``), plain values."""
    schema = _resolve(schema, app)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {
            name: _sample(props[name], app)
            for name in props
            if name in schema.get("required", []) or name == "content"
        }
    if kind == "integer":
        return 1
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if "enum" in schema:
        return schema["enum"][0]
    return "/x"  # a string that is also a valid path


def valid_body(route: Route, app: FastAPI) -> bytes:
    return json.dumps(_sample(_schema_of(route, app), app)).encode()


def url(route: Route, agent: str, session: str, **given: str) -> str:
    ints = {p.name for p in route.route.dependant.path_params if p.field_info.annotation is int}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "agent_id":
            return agent
        if name == "session_id":
            return session
        return given.get(name, "1" if name in ints else "x")

    return re.sub(r"\{(\w+)(:\w+)?\}", value, route.path)


def problem_shape(response: httpx.Response) -> str | None:
    """None when ``response`` is a well-formed 4xx problem, else what is wrong with it."""
    if not 400 <= response.status_code < 500:
        return f"status {response.status_code}: {response.text[:200]}"
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return f"content-type {response.headers.get('content-type')}"
    body = response.json()
    if not isinstance(body, dict) or not body.keys() >= SHAPE:
        return f"shape {body}"
    if body.keys() - SHAPE - EXTRAS:
        return f"undocumented members {sorted(body.keys() - SHAPE - EXTRAS)}"
    if body["status"] != response.status_code:
        return f"status member {body['status']} != {response.status_code}"
    if not body["detail"] or not isinstance(body["code"], str) or not body["code"]:
        return f"empty detail or code {body}"
    if body["type"] != f"https://sessionbox.dev/problems/{body['code']}":
        return f"type {body['type']} does not name code {body['code']}"
    return None


@dataclass
class Seeded:
    agent: str
    session: str
    server: LiveServer

    def state(self) -> list[Any]:
        """Every entry of every volume of the session (with its ETag) plus usage."""
        store = self.server.app.state.store
        out: list[Any] = []
        for kind in KINDS:
            key = VolumeKey(self.agent, self.session, kind)  # type: ignore[arg-type]
            out.append(
                store.view(
                    key,
                    lambda v: (
                        [
                            (e.path, e.etag, e.size_bytes)
                            for e, _ in v.walk("/", with_content=False)
                        ],
                        v.usage(),
                    ),
                )
            )
        return out


@pytest.fixture
def seeded(live_server: LiveServer, http: httpx.Client) -> Seeded:
    """A session holding a file, a readonly file, a directory and a snapshot."""
    agent = f"agent-{secrets.token_hex(6)}"
    session = http.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    base = f"/v1/agents/{agent}/sessions/{session}"
    assert http.put(f"{base}/fs/x", json={"content": "keep"}).status_code == 201
    assert http.put(f"{base}/fs/d/f", json={"content": "in"}).status_code == 201
    assert http.put(f"{base}/fs/ro", json={"content": "r", "is_readonly": True}).is_success
    envelope = {"version": 1, "updatedAt": 1, "handleKey": None, "snapshot": {"a": 1}}
    assert http.put(f"{base}/snapshot", json=envelope).is_success
    seeded = Seeded(agent, session, live_server)
    files, _, snaps = seeded.state()
    assert len(files[0]) >= 4 and [e[0] for e in snaps[0]][-1] == "/latest.json"
    return seeded


def _check(failures: list[str], label: str, response: httpx.Response, *codes: str) -> None:
    wrong = problem_shape(response)
    if wrong is None and codes and response.json()["code"] not in codes:
        wrong = f"code {response.json()['code']}, expected one of {codes}"
    if wrong:
        failures.append(f"{label}: {wrong}")


def _send(
    http: httpx.Client, route: Route, target: str, body: bytes | None, **headers: str
) -> httpx.Response:
    if body is not None:
        headers.setdefault("content-type", "application/json")
    return http.request(route.method, target, content=body, headers=headers)


def test_every_route_refuses_an_invalid_agent_id(
    live_server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    failures: list[str] = []
    for route in v1_routes(live_server.app):
        if "agent_id" not in route.params:
            continue
        body = valid_body(route, live_server.app) if route.takes_body else None
        response = _send(http, route, url(route, BAD_AGENT, seeded.session), body)
        _check(failures, str(route), response, "agent_id_invalid")
    assert not failures, "\n".join(failures)


def test_every_route_refuses_an_invalid_session_id(
    live_server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    failures: list[str] = []
    for route in v1_routes(live_server.app):
        if "session_id" not in route.params:
            continue
        body = valid_body(route, live_server.app) if route.takes_body else None
        response = _send(http, route, url(route, seeded.agent, BAD_SESSION), body)
        _check(failures, str(route), response, "session_id_invalid")
    assert not failures, "\n".join(failures)
    assert seeded.server.app.state.sessions.list(seeded.agent).items[0].id == seeded.session


def test_every_route_on_a_missing_session_is_404_and_creates_nothing(
    live_server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    failures: list[str] = []
    missing = f"safe_named_missing{secrets.token_hex(4)}"
    for route in v1_routes(live_server.app):
        if "session_id" not in route.params:
            continue
        body = valid_body(route, live_server.app) if route.takes_body else None
        response = _send(http, route, url(route, seeded.agent, missing), body)
        _check(failures, str(route), response, "session_not_found")
    assert not failures, "\n".join(failures)
    listed = http.get(f"/v1/agents/{seeded.agent}/sessions").json()["data"]
    assert [s["id"] for s in listed] == [seeded.session]


def test_every_body_route_refuses_malformed_and_wrongly_typed_json(
    live_server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    before = seeded.state()
    failures: list[str] = []
    for route in v1_routes(live_server.app):
        if not route.takes_body:
            continue
        target = url(route, seeded.agent, seeded.session)
        optional = (
            route.route.body_field is not None
            and not route.route.body_field.field_info.is_required()
        )
        for body in [b"{bad", b"", b'{"a": 1', b"\xff\xfe", *WRONG_TYPES]:
            if optional and body in (b"", b"null"):
                continue  # an optional body may be left out
            response = _send(http, route, target, body)
            _check(failures, f"{route} body {body[:12]!r}", response)
        huge = b'{"content": "' + b"x" * (12 * 1024 * 1024) + b'"}'
        _check(failures, f"{route} huge body", _send(http, route, target, huge))
    assert not failures, "\n".join(failures)
    assert seeded.state() == before


def test_every_json_route_refuses_a_wrong_content_type(
    live_server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    before = seeded.state()
    failures: list[str] = []
    for route in v1_routes(live_server.app):
        if not route.takes_body or route.raw_body_ok:
            continue
        target = url(route, seeded.agent, seeded.session)
        for media in ("application/xml", "text/plain", "multipart/form-data; boundary=x"):
            response = _send(http, route, target, b"<a>1</a>", **{"content-type": media})
            _check(failures, f"{route} as {media}", response)
    assert not failures, "\n".join(failures)
    assert seeded.state() == before


def test_every_route_refuses_garbage_query_values(
    live_server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    before = seeded.state()
    failures: list[str] = []
    checked = 0
    for route in v1_routes(live_server.app):
        base = url(route, seeded.agent, seeded.session)
        targets = {base, base.replace("/fs/x", "/fs/d")} if route.path.endswith("}") else {base}
        for name in sorted(route.query & QUERY_GARBAGE.keys()):
            for value in QUERY_GARBAGE[name]:
                for target in sorted(targets):
                    if name in ("cursor", "limit") and route.method != "GET":
                        continue
                    if name == "cursor" and target.endswith("/fs/x"):
                        continue  # a file read has no listing to page
                    response = http.request(
                        route.method, target, params={name: value}, content=None
                    )
                    checked += 1
                    _check(failures, f"{route} ?{name}={value[:20]} on {target}", response)
    assert checked > 20
    assert not failures, "\n".join(failures)
    assert seeded.state() == before


def test_every_if_match_route_refuses_garbage_with_412(
    live_server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    before = seeded.state()
    failures: list[str] = []
    routes = [
        r
        for r in v1_routes(live_server.app)
        if "if-match" in r.headers and (r.method in ("PUT", "DELETE") or r.path.endswith(WRITERS))
    ]
    assert routes
    for route in routes:
        target = url(route, seeded.agent, seeded.session, updatedAt="1")
        body = valid_body(route, live_server.app) if route.takes_body else None
        for garbage in ("garbage", '"nope"', 'W/"1"', '"1", "2"', "x" * 5000):
            response = _send(http, route, target, body, **{"if-match": garbage})
            _check(failures, f"{route} If-Match {garbage[:10]!r}", response)
            if response.status_code not in (412, 400, 404, 422):
                failures.append(f"{route} If-Match {garbage[:10]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert seeded.state() == before


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "items=0-1",
        "bytes=0-1,3-4",
        "bytes=5-2",
        "bytes=-0",
        "bytes=999999999999999999999-",
        "bytes=0-99999999999999999999999999",
    ],
)
def test_range_garbage_is_ignored_or_416(http: httpx.Client, seeded: Seeded, header: str) -> None:
    """RFC 9110 §14.2: a Range that cannot be parsed is ignored; one that cannot be met is 416."""
    target = f"/v1/agents/{seeded.agent}/sessions/{seeded.session}/fs/x?raw=1"
    response = http.get(target, headers={"Range": header})
    if response.status_code == 416:
        assert problem_shape(response) is None
        assert response.json()["code"] == "range_not_satisfiable"
    else:
        assert response.status_code in (200, 206), (header, response.status_code, response.text)
        assert b"keep".startswith(response.content) or response.content in b"keep"
        if response.status_code == 206:
            assert response.headers["content-range"].endswith("/4")


def test_bad_percent_encoding_on_every_fs_route(
    live_server: LiveServer, http: httpx.Client, seeded: Seeded
) -> None:
    before = seeded.state()
    failures: list[str] = []
    for route in v1_routes(live_server.app):
        if "path" not in route.params:
            continue
        for hostile in ("%ff", "..", "%2e%2e", "a%00b", "_x%2f..%2f.."):
            target = url(route, seeded.agent, seeded.session, path=hostile)
            body = valid_body(route, live_server.app) if route.takes_body else None
            response = raw_request(
                live_server.url,
                route.method,
                target,
                body,
                {"content-type": "application/json"},
            )
            as_httpx = httpx.Response(
                response.status, headers=response.headers, content=response.body
            )
            _check(failures, f"{route} {hostile}", as_httpx, "path_invalid", "path_reserved")
    assert not failures, "\n".join(failures)
    assert seeded.state() == before


def test_unknown_routes_and_methods_are_problems(http: httpx.Client, seeded: Seeded) -> None:
    base = f"/v1/agents/{seeded.agent}/sessions/{seeded.session}"
    assert problem_shape(http.get("/v1/nothing-here")) is None
    assert problem_shape(http.patch(f"{base}/fs/x", json={})) is None
    assert http.patch(f"{base}/fs/x", json={}).json()["code"] == "method_not_allowed"
    assert problem_shape(http.post(f"{base}/fs/_/explode", json={})) is None


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with an admin token (auth does not touch the store: SQLite is enough)."""
    from tests.conftest import small_limits

    server = LiveServer(
        small_limits(tmp_path_factory.mktemp("guarded-all"), admin_token="t0ken")
    ).start()
    yield server
    server.stop()


def test_every_route_needs_the_admin_token_when_one_is_set(guarded: LiveServer) -> None:
    failures: list[str] = []
    store = guarded.app.state.store
    agent, session = "guarded-agent", "safe_named_guarded"
    store.create_session(agent, session, "safe", "named")
    before = Seeded(agent, session, guarded).state()
    with http_client(guarded.url, timeout=30) as client:
        for route in v1_routes(guarded.app):
            body = valid_body(route, guarded.app) if route.takes_body else None
            for auth in (None, "Bearer wrong", "Basic t0ken", "Bearer", "t0ken"):
                headers = {"authorization": auth} if auth else {}
                response = _send(client, route, url(route, agent, session), body, **headers)
                _check(failures, f"{route} auth={auth}", response, "unauthorized")
    assert not failures, "\n".join(failures)
    assert [s.id for s in store.list_sessions(agent, limit=10)] == [session]
    assert Seeded(agent, session, guarded).state() == before
