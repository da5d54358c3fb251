"""Every HTTP request seen at one point: a request id, an access-log line, request metrics.

``RequestObserver`` is a pure ASGI wrapper (Starlette's ``BaseHTTPMiddleware`` costs a
task and a stream per request) around the whole application, outside Starlette's error
middleware, so a 500 carries its ``X-Request-Id`` and is counted as one. It labels a
request by the path template of the route that served it (``scope["route"]``, which
Starlette's router sets; a fast path that bypasses the router sets it too), never by the
raw path: a label per path would grow without bound. A request no route matched is
``<unmatched>``, a method outside HTTP's usual seven is ``OTHER``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uuid_utils import uuid7

from sessionbox.api.metrics import Metrics
from sessionbox.config import Settings

access_log = logging.getLogger("sessionbox.access")

REQUEST_ID = b"x-request-id"
# Accepted from a caller (a proxy's or a client's id): printable, no spaces or quotes,
# short. Anything else is replaced, so a log line or a header never carries what a
# caller smuggled in.
_SANE_ID = re.compile(rb"[A-Za-z0-9._~:/+=@-]{1,128}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
UNMATCHED = "<unmatched>"


def install(app: FastAPI, settings: Settings, metrics: Metrics | None) -> None:
    """Wrap the whole application, error middleware included, in the observer; mount
    ``/metrics`` when metrics are on."""
    if metrics is not None:
        metrics.mount(app)
    if settings.access_log and not access_log.handlers:
        # Its own handler, and no propagation: an integration's library may have put a
        # (Rich) handler on the root logger, which would print each line again.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
    build = app.build_middleware_stack

    def build_observed() -> ASGIApp:
        mounts = frozenset(r.path for r in app.routes if isinstance(r, Mount))
        return RequestObserver(build(), metrics, log=settings.access_log, mounts=mounts)

    app.build_middleware_stack = build_observed  # type: ignore[method-assign]


def route_label(scope: Scope, root_path: str, mounts: frozenset[str]) -> str:
    """The template of the route that served the request (``/v1/.../fs/{path:fspath}``).

    Starlette's router leaves the route in ``scope["route"]``; FastAPI's does for its own
    routes, not for a mount (``/static``), which shows only as the prefix it added to
    ``root_path``. That prefix is a label only when it is a known mount's (a mount's
    template could hold a parameter, and its value must not become a label).
    """
    prefix = str(scope.get("root_path", ""))[len(root_path) :]
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str) and not isinstance(route, Mount):
        return prefix + template
    if prefix in mounts:
        return f"{prefix}/{{path}}"
    return UNMATCHED


def request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            return value if _SANE_ID.fullmatch(value) else str(uuid7()).encode()
    return str(uuid7()).encode()


class RequestObserver:
    """Echoes or makes ``X-Request-Id``; records metrics and an access-log line when on."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics | None,
        *,
        log: bool,
        mounts: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log = log
        self.mounts = mounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        if self.metrics is None and not self.log:
            await self.app(scope, receive, _with_request_id(send, rid))
            return
        root_path = scope.get("root_path", "")
        start = time.perf_counter()
        status = 500
        sent = 0
        recorded = False

        def record() -> None:
            # Before the last byte leaves: once a client has its answer, what it asks
            # next (a scrape, a log search) already sees this request.
            nonlocal recorded
            recorded = True
            seconds = time.perf_counter() - start
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = route_label(scope, root_path, self.mounts)
            if self.metrics is not None:
                self.metrics.observe_request(method, route, status, seconds)
            if self.log:
                _log_line(scope, rid, method, route, status, seconds, sent)

        async def observed_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID, rid)]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
                if not message.get("more_body", False):
                    record()
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if not recorded:  # no complete answer: the app raised first, or the client left
                record()


def _with_request_id(send: Send, rid: bytes) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (REQUEST_ID, rid)]
        await send(message)

    return sending


def _log_line(
    scope: Scope, rid: bytes, method: str, route: str, status: int, seconds: float, sent: int
) -> None:
    params: dict[str, Any] = scope.get("path_params") or {}
    client = scope.get("client")
    line = {
        "ts": time.time(),
        "request_id": rid.decode(),
        "method": scope["method"],
        "path": scope["path"],
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "bytes_out": sent,
        "agent": params.get("agent_id"),
        "session": params.get("session_id"),
        "client": f"{client[0]}:{client[1]}" if client else None,
    }
    access_log.info(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
