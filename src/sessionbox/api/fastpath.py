"""The hot filesystem requests answered in plain ASGI, ahead of FastAPI's machinery.

A 1 KiB read costs the store ~10 µs, but a FastAPI route around it cost ~0.7 ms of
server CPU: routing through ~60 routes, dependency solving, parameter validation,
a thread-pool hop and its wake-ups (``docs/decisions/2026-12-05-serving-path.md``).
This middleware answers the frequent, simple shapes of the ``fs`` routes itself:

* ``GET .../fs/{path}`` with no query or ``raw=1`` (a file, raw or JSON, or a listing),
* ``PUT .../fs/{path}`` with a raw (non-JSON) body,
* ``POST .../fs/{path}`` creating a file or directory from a JSON body,

calling the very functions the FastAPI routes call (``Principal``, ``FileService``,
``fs._raw``, the schema renderers, ``problems``), so answers and errors are the same.
Everything else, and every request it cannot parse with certainty (another query
parameter, a body that does not validate), goes on to FastAPI untouched: the routes
stay the one description in the OpenAPI and the reference behaviour.

Work runs on the event loop when it is a short SQLite read (a thread-pool hop costs
more than the read); writes, PostgreSQL and directory-backed volumes hop to a thread.
The scope gets ``route`` (the ``APIRoute`` that describes the request), as Starlette's
router sets it, so middleware outside (metrics) labels fast requests by route template.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

import orjson
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessionbox import paths
from sessionbox.api import problems
from sessionbox.api.auth import Principal, session_of
from sessionbox.api.hops import Hops
from sessionbox.api.routes import fs
from sessionbox.api.schemas import CreateBody, decode_content, file_json
from sessionbox.content import Content
from sessionbox.errors import InvalidInput, PathInvalid, SessionboxError, TooLarge, Unauthorized
from sessionbox.services._paging import Page
from sessionbox.services.files import FileService, guess_type
from sessionbox.services.tokens import TokenService
from sessionbox.store.sqlite import SqliteStore
from sessionbox.types import Entry, VolumeKey

T = TypeVar("T")
_FS = re.compile(r"/v1/agents/([^/]+)/sessions/([^/]+)/fs(/[\s\S]*)?")
_RAW_QUERIES = {b"raw=1": True, b"raw=true": True, b"": False}
_UNSNIFFED = Content(hash="", size=0)
_SMALL_BODY = 64 * 1024
"""A raw body up to this size is read before the checks: they can then run with the
write in one step, and the order of the answers is unchanged (reading cannot fail
but by a disconnect, and nobody reads the answer to that)."""


class FastPath:
    """Pure ASGI middleware (``app.add_middleware(FastPath)``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[tuple[str, bool], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "PUT", "POST"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        match = _FS.fullmatch(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        agent_id, session_id, rest = match.groups()
        method = scope["method"]
        headers = _headers(scope)
        try:
            if method == "GET":
                raw = _RAW_QUERIES.get(scope["query_string"])
                if raw is None:
                    await self.app(scope, receive, send)
                    return
                self._label(scope, method, agent_id, session_id, rest)
                response = await self._get(scope, headers, agent_id, session_id, rest, raw)
            elif method == "PUT" and rest:
                media = _media(headers)
                if media in fs._JSON_TYPES:
                    await self.app(scope, receive, send)
                    return
                self._label(scope, method, agent_id, session_id, rest)
                response = await self._put(
                    scope, receive, headers, media, agent_id, session_id, rest
                )
            elif method == "POST" and rest and not rest.startswith(("/_/", "/_actions/")):
                if _media(headers) != "application/json":
                    await self.app(scope, receive, send)
                    return
                try:
                    raw_body = await _read_body(receive)
                except ClientDisconnect:
                    response = _disconnected()
                else:
                    try:
                        model = CreateBody.model_validate_json(raw_body)
                    except ValidationError:  # FastAPI words the 422 (or 400) itself
                        await self.app(scope, _replay(raw_body, receive), send)
                        return
                    self._label(scope, method, agent_id, session_id, rest)
                    response = await self._post(scope, headers, model, agent_id, session_id, rest)
            else:
                await self.app(scope, receive, send)
                return
        except SessionboxError as exc:
            response = problems.from_error(exc)
        await response(scope, receive, send)

    # -- the three shapes -----------------------------------------------------------

    async def _get(
        self,
        scope: Scope,
        headers: dict[str, str],
        agent_id: str,
        session_id: str,
        rest: str | None,
        raw: bool,
    ) -> Response:
        state = scope["app"].state
        service: FileService = state.files
        path = rest[1:] if rest else ""

        def work() -> Response:
            caller = _principal(state, headers)
            caller.check_session(agent_id, session_id)
            target = _vpath(scope, path)
            if raw:
                return fs._raw(
                    service,
                    agent_id,
                    session_id,
                    target,
                    headers.get("if-none-match"),
                    headers.get("range"),
                )
            result = service.read_or_list(agent_id, session_id, target, limit=None, cursor=None)
            if isinstance(result, Page):
                return _json(
                    {
                        "data": [e.to_json(session_id) for e in result.items],
                        "next_cursor": result.next_cursor,
                    }
                )
            entry, data = result
            inm = headers.get("if-none-match")
            if inm and entry.etag in inm:
                return Response(status_code=304, headers={"ETag": entry.etag})
            return _json(file_json(entry, data, session_id), headers={"ETag": entry.etag})

        if _reads_inline(state, agent_id, session_id):
            return work()
        hops: Hops = state.hops
        return await hops.read(work)

    async def _put(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        media: str,
        agent_id: str,
        session_id: str,
        rest: str,
    ) -> Response:
        state = scope["app"].state
        service: FileService = state.files
        declared = headers.get("content-length", "")
        small = declared.isdigit() and int(declared) <= _SMALL_BODY
        body: bytes | None = None
        if small:
            try:
                body = await _read_body(receive)
            except ClientDisconnect:
                return _disconnected()
        if_match = headers.get("if-match")
        content_type = media if media and media != "application/octet-stream" else None

        def check() -> str:
            caller = _principal(state, headers)
            caller.check_session(agent_id, session_id, write=True)
            target = _vpath(scope, rest[1:])
            service.volume(agent_id, session_id)
            paths.validate_writable(target)
            limit = service.settings.max_file_bytes
            if declared.isdigit() and int(declared) > limit:
                raise TooLarge(f"{declared} bytes is over the file size limit of {limit}")
            return target

        def write(target: str, content: Content) -> Response:
            entry, created = service.write(
                agent_id,
                session_id,
                target,
                content,
                mode="upsert",
                if_match=if_match,
                readonly=None,
                # The route spools a raw body, so guess_type never sniffs its bytes:
                # a body read here whole is typed the same way, by extension only.
                content_type=content_type or guess_type(target, _UNSNIFFED),
            )
            return _entry(entry, session_id, 201 if created else 200)

        if body is not None:
            if len(body) > service.settings.max_file_bytes:

                def refuse(target: str) -> Response:
                    raise TooLarge(
                        "content is over the file size limit of "
                        f"{service.settings.max_file_bytes} bytes"
                    )

                return await self._run(lambda: refuse(check()), _tokens_inline(state))
            data = body
            return await self._write(scope, lambda: write(check(), Content.of(data)))
        target = await self._run(check, _tokens_inline(state))
        try:
            content = await _spool(receive, service)
        except ClientDisconnect:
            return _disconnected()
        return await self._write(scope, lambda: write(target, content))

    async def _post(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: CreateBody,
        agent_id: str,
        session_id: str,
        rest: str,
    ) -> Response:
        state = scope["app"].state
        service: FileService = state.files

        def work() -> Response:
            caller = _principal(state, headers)
            caller.check_session(agent_id, session_id, write=True)
            target = _vpath(scope, rest[1:])
            if body.is_directory:
                if body.content:
                    raise InvalidInput("a directory has no content")
                entry = service.mkdir(agent_id, session_id, target)
                return _entry(entry, session_id, 201)
            data = decode_content(body.content, body.encoding)
            entry, _ = service.write(
                agent_id,
                session_id,
                target,
                Content.of(data),
                mode="create",
                readonly=body.is_readonly,
            )
            return _json(file_json(entry, data, session_id), 201, {"ETag": entry.etag})

        return await self._write(scope, work)

    # -- plumbing ----------------------------------------------------------------------

    @staticmethod
    async def _run(fn: Callable[[], T], inline: bool) -> T:
        """A read on this thread when short (SQLite), else in the thread pool."""
        if inline:
            return fn()
        return await run_in_threadpool(fn)

    @staticmethod
    async def _write(scope: Scope, fn: Callable[[], T]) -> T:
        """A write on the store's writer thread (``Hops``)."""
        hops: Hops = scope["app"].state.hops
        return await hops.write(fn)

    def _label(
        self, scope: Scope, method: str, agent_id: str, session_id: str, rest: str | None
    ) -> None:
        """``scope["route"]`` and ``scope["path_params"]``, as FastAPI's router would have
        set them, so middleware outside (metrics, the access log) sees fast requests alike."""
        key = (method, bool(rest))
        route = self._routes.get(key)
        if route is None:
            for candidate in fs.router.routes:
                if (
                    method in getattr(candidate, "methods", ())
                    and candidate.matches(scope)[0] == Match.FULL
                ):
                    route = candidate
                    break
            self._routes[key] = route
        scope["route"] = route
        params = {"agent_id": agent_id, "session_id": session_id}
        if rest:
            params["path"] = rest[1:]
        scope["path_params"] = params


def _headers(scope: Scope) -> dict[str, str]:
    """Header names lowercased; the first of repeated ones, as ``request.headers.get``."""
    out: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1")
        if key not in out:
            out[key] = value.decode("latin-1")
    return out


def _principal(state: Any, headers: dict[str, str]) -> Principal:
    """``auth.principal`` on parsed headers (same checks, same errors)."""
    admin_token: str | None = state.settings.admin_token
    if admin_token is None:
        return _ADMIN
    header = headers.get("authorization")
    if header is None:
        raise Unauthorized("this server needs 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    token = token.strip()
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        return _ADMIN
    tokens: TokenService = state.tokens
    return Principal.from_token(tokens.authenticate(token))


_ADMIN = Principal(admin=True)


def _media(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _tokens_inline(state: Any) -> bool:
    """Whether the caller check is a short read on this thread (no store or SQLite)."""
    return state.settings.admin_token is None or isinstance(state.store, SqliteStore)


def _reads_inline(state: Any, agent_id: str, session_id: str) -> bool:
    """Whether a read of this session's files is a short SQLite read (kept in SQL, not in
    a host directory, whose reads take a file lock)."""
    store = state.store
    if not isinstance(store, SqliteStore):
        return False
    try:
        session_of(agent_id, session_id)
    except SessionboxError:
        return True  # refused before any read
    return store.homes.in_sql(VolumeKey(agent_id, session_id, "files"))


def _vpath(scope: Scope, path: str) -> str:
    """``fs.vpath``: the same UTF-8 check of the raw path."""
    raw = scope.get("raw_path")
    if raw is not None:
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise PathInvalid("the path is not valid UTF-8") from None
    return "/" + path


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _entry(entry: Entry, session_id: str, status: int = 200) -> Response:
    return _json(entry.to_json(session_id), status, {"ETag": entry.etag})


def _disconnected() -> Response:
    return problems.problem_response(
        problems.problem(
            400, "client_disconnected", "Client disconnected", "the body was cut short"
        )
    )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _spool(receive: Receive, service: FileService) -> Content:
    """``fs._spool`` on the ASGI messages: hashed and buffered, never whole in memory."""

    async def pieces() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            yield message.get("body", b"")
            if not message.get("more_body", False):
                return

    return await service.spooler().spool_async(pieces())


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands FastAPI the body this middleware already read."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
