"""The HTTP SDK: ``sessionbox.AsyncClient`` over httpx (``Client``, in ``blocking.py``,
runs it on a portal).

The method names, arguments, results and exceptions are those of the in-process
library (``sessionbox.open``), so code moves between the two by changing one
line (the surface both promise: ``protocols.py``).

    with sessionbox.Client("http://127.0.0.1:8787", token="...") as client:
        record = client.create_session("my-agent")
        client.session("my-agent", record.id).files.write("/a.txt", "hi")
"""

from __future__ import annotations

import base64
import builtins
import functools
import ssl
from collections.abc import AsyncIterable, AsyncIterator
from typing import IO, Any, TypeVar

import anyio
import anyio.from_thread
import httpx
import tenacity

from sessionbox import paths, ranges
from sessionbox.client import _wire
from sessionbox.client._remote import AsyncApplets, AsyncOutputs, AsyncSnapshots
from sessionbox.client._watch import HttpWatch
from sessionbox.content import CHUNK_BYTES
from sessionbox.errors import NotADirectory, TooLarge, Unavailable
from sessionbox.ids import Mode
from sessionbox.services.grep import GrepFile
from sessionbox.services.sessions import Resolved, plan_resolve
from sessionbox.types import Entry, SessionRecord

T = TypeVar("T")
_RETRY_STATUS = 503


class _Retry(Exception):
    """A 503 answer to an idempotent call: worth another try."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context for every client of the process: httpx would build one per
    client, loading the CA bundle each time (~37 ms), a cost paid even for plain http."""
    return httpx.create_ssl_context()


class _Transport:
    """Sends requests: auth, retries with back-off, and problem+json → exception."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(
            base_url=base_url, headers=headers, transport=transport, timeout=timeout, verify=_tls()
        )
        self.retries = retries
        self.backoff = backoff

    async def send(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        stream: bool = False,
        etag: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One call; idempotent ones are retried on connection errors and 503."""
        if etag is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), "If-Match": etag}
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.retries + 1 if idempotent else 1),
            # Not wait_exponential_jitter: its argument was renamed in tenacity 9.2, and the
            # deepagents extra (via google-genai) caps tenacity below 9.2.
            wait=tenacity.wait_exponential(multiplier=self.backoff, max=8 * self.backoff)
            + tenacity.wait_random(0, self.backoff),
            retry=tenacity.retry_if_exception_type((httpx.TransportError, _Retry)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._once(method, url, stream, kwargs)
                    if response.status_code != _RETRY_STATUS:
                        return response
                    if idempotent:
                        raise _Retry(response)
                    raise _wire.error_from(response)
        except _Retry as exc:
            raise _wire.error_from(exc.response) from None
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach {self.http.base_url}: {exc!r}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self, method: str, url: str, stream: bool, kwargs: dict[str, Any]
    ) -> httpx.Response:
        request = self.http.build_request(method, url, **kwargs)
        response = await self.http.send(request, stream=stream)
        if response.is_success:
            return response
        await response.aread()
        await response.aclose()
        if response.status_code == _RETRY_STATUS:
            return response
        raise _wire.error_from(response)

    async def json(self, method: str, url: str, *, idempotent: bool, **kwargs: Any) -> Any:
        response = await self.send(method, url, idempotent=idempotent, **kwargs)
        return response.json()


async def _pieces(stream: IO[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """An upload body from a file (read on a worker thread) or an async iterable."""
    if isinstance(stream, AsyncIterable):
        async for piece in stream:
            yield piece
        return
    while piece := await anyio.to_thread.run_sync(stream.read, CHUNK_BYTES):
        yield piece


class AsyncFiles:
    """A session's filesystem over HTTP; the same methods as the in-process ``Files``."""

    def __init__(self, wire: _Transport, agent_id: str, session_id: str) -> None:
        self._t = wire
        self._a = agent_id
        self._s = session_id

    def _url(self, path: str) -> str:
        return _wire.fs_url(self._a, self._s, path)

    def _action(self, name: str) -> str:
        return _wire.action_url(self._a, self._s, name)

    async def write(
        self,
        path: str,
        data: bytes | str,
        *,
        etag: str | None = None,
        overwrite: bool = True,
        readonly: bool | None = None,
    ) -> Entry:
        """Write a file, creating parents; ``etag`` makes it conditional (If-Match)."""
        raw = data.encode() if isinstance(data, str) else data
        url = self._url(path)
        if not overwrite:
            body = {"content": base64.b64encode(raw).decode(), "encoding": "base64"}
            if readonly is not None:
                body["is_readonly"] = readonly  # type: ignore[assignment]
            return Entry.from_json(await self._t.json("POST", url, idempotent=False, json=body))
        if readonly is not None:
            body = {"content": base64.b64encode(raw).decode(), "encoding": "base64"}
            return Entry.from_json(
                await self._t.json(
                    "PUT", url, idempotent=True, etag=etag, json={**body, "is_readonly": readonly}
                )
            )
        headers = {"Content-Type": "application/octet-stream"}
        return Entry.from_json(
            await self._t.json("PUT", url, idempotent=True, etag=etag, content=raw, headers=headers)
        )

    async def write_stream(
        self, path: str, stream: IO[bytes] | AsyncIterable[bytes], *, etag: str | None = None
    ) -> Entry:
        """Upload from a binary file (or async iterable) chunk by chunk; never retried."""
        headers = {"Content-Type": "application/octet-stream"}
        body = await self._t.json(
            "PUT",
            self._url(path),
            idempotent=False,
            etag=etag,
            content=_pieces(stream),
            headers=headers,
        )
        return Entry.from_json(body)

    async def read(self, path: str) -> bytes:
        response = await self._t.send("GET", self._url(path), idempotent=True, params={"raw": 1})
        return response.content

    async def read_text(self, path: str) -> str:
        return (await self.read(path)).decode("utf-8")

    async def read_stream(
        self, path: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` as they arrive; errors raise here, before iterating."""
        whole = ranges.is_whole(start, end)
        headers = {} if whole else {"Range": ranges.to_header(start, end)}
        response = await self._t.send(
            "GET",
            self._url(path),
            idempotent=True,
            stream=True,
            params={"raw": 1},
            headers=headers,
        )
        return _body(response)

    async def stat(self, path: str) -> Entry:
        url = self._action("stat")
        return Entry.from_json(
            await self._t.json("POST", url, idempotent=True, json={"path": path})
        )

    async def exists(self, path: str) -> bool:
        try:
            await self.stat(path)
        except FileNotFoundError:
            return False
        return True

    async def list(self, path: str = "/") -> builtins.list[Entry]:
        """Every child of a directory (all pages)."""
        entries: builtins.list[Entry] = []
        params: dict[str, str] = {}
        while True:
            try:
                page = await self._t.json("GET", self._url(path), idempotent=True, params=params)
            except TooLarge:  # the server tried to return a big file's content
                raise NotADirectory(f"not a directory: {path}") from None
            if "data" not in page:
                raise NotADirectory(f"not a directory: {path}")
            entries.extend(Entry.from_json(item) for item in page["data"])
            if page["next_cursor"] is None:
                return entries
            params = {"cursor": page["next_cursor"]}

    async def mkdir(self, path: str, *, exist_ok: bool = False) -> Entry:
        method = "PUT" if exist_ok else "POST"
        body = await self._t.json(
            method, self._url(path), idempotent=exist_ok, json={"is_directory": True}
        )
        return Entry.from_json(body)

    async def delete(self, path: str, *, recursive: bool = False, etag: str | None = None) -> int:
        """Delete a file or directory (a tree with ``recursive``; ``/`` empties the session)."""
        params = {"recursive": "true"} if recursive else {}
        body = await self._t.json(
            "DELETE", self._url(path), idempotent=True, etag=etag, params=params
        )
        return int(body["deleted"])

    async def move(
        self, src: str, dst: str, *, overwrite: bool = False, etag: str | None = None
    ) -> Entry:
        body = {"from": src, "to": dst, "overwrite": overwrite}
        url = self._action("move")
        return Entry.from_json(
            await self._t.json("POST", url, idempotent=False, etag=etag, json=body)
        )

    async def copy(self, src: str, dst: str, *, overwrite: bool = False) -> Entry:
        body = {"from": src, "to": dst, "overwrite": overwrite}
        url = self._action("copy")
        return Entry.from_json(await self._t.json("POST", url, idempotent=False, json=body))

    async def set_readonly(self, path: str, readonly: bool = True) -> Entry:
        body = await self._t.json(
            "PUT", self._url(path), idempotent=True, json={"is_readonly": readonly}
        )
        return Entry.from_json(body)

    async def grep(
        self,
        pattern: str,
        *,
        path: str = "/",
        path_pattern: str | None = None,
        max_matches: int | None = None,
    ) -> builtins.list[GrepFile]:
        body: dict[str, Any] = {"pattern": pattern, "path": path}
        if path_pattern is not None:
            body["path_pattern"] = path_pattern
        if max_matches is not None:
            body["max_matches"] = max_matches
        url = self._action("grep")
        return _wire.grep_from(await self._t.json("POST", url, idempotent=True, json=body))

    async def watch(self, path: str = "/", *, timeout: float | None = None) -> HttpWatch:
        """Changes at or below ``path`` from the server's live feed (SSE).

        Returns once the server is listening, so no later change is missed;
        ``timeout`` ends the iteration after that many seconds without a change.
        """
        paths.validate(path)
        url = _wire.session_url(self._a, self._s) + "/events"
        response = await self._t.send(
            "GET",
            url,
            idempotent=True,
            stream=True,
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(self._t.http.timeout.connect, read=None),
        )
        return await HttpWatch(response, self._a, self._s, path, timeout).ready()

    # The names of earlier releases, kept for code written against them.
    get_info = stat
    make_dir = mkdir
    remove = delete
    rename = move


async def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for piece in response.aiter_bytes(CHUNK_BYTES):
            yield piece
    finally:
        await response.aclose()


class AsyncSessionHandle:
    def __init__(self, wire: _Transport, agent_id: str, session_id: str) -> None:
        self.agent_id = agent_id
        self.id = session_id
        self.files = AsyncFiles(wire, agent_id, session_id)
        self.snapshots = AsyncSnapshots(wire, agent_id, session_id)
        self.outputs = AsyncOutputs(wire, agent_id, session_id)


class AsyncClient:
    """Session storage on a sessionbox server.

    ``transport`` is an ``httpx.AsyncBaseTransport`` (tests pass
    ``httpx.ASGITransport(app)``); idempotent calls are retried ``retries``
    times on connection errors and 503, with jittered exponential back-off
    starting at ``backoff`` seconds.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.25,
    ) -> None:
        self.base_url = base_url
        self._t = _Transport(base_url, token, transport, timeout, retries, backoff)

    async def create_session(
        self,
        agent_id: str,
        session_id: str | None = None,
        *,
        mode: Mode | None = None,
        ttl_seconds: int | None = None,
    ) -> SessionRecord:
        body: dict[str, Any] = {}
        if session_id is not None:
            _wire.session_url(agent_id, session_id)  # validates like the library does
            body["id"] = session_id
        if mode is not None:
            body["mode"] = mode
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        url = _wire.sessions_url(agent_id)
        return SessionRecord.from_json(await self._t.json("POST", url, idempotent=False, json=body))

    async def get_session(self, agent_id: str, session_id: str) -> SessionRecord:
        url = _wire.session_url(agent_id, session_id)
        return SessionRecord.from_json(await self._t.json("GET", url, idempotent=True))

    async def resolve_session(
        self,
        agent_id: str,
        mode: Mode,
        *,
        panel_path: str | None = None,
        parent_session: str | None = None,
        name: str | None = None,
        session_id: str | None = None,
        new_session: bool = False,
    ) -> Resolved:
        """Find or create the session a panel should use (NatStack's derivation)."""
        options = {"panel_path": panel_path, "parent_session": parent_session, "name": name}
        plan_resolve(mode, **options, session_id=session_id, new_session=new_session)  # same errors
        body: dict[str, Any] = {"mode": mode, "new_session": new_session}
        body.update(
            {k: v for k, v in {**options, "session_id": session_id}.items() if v is not None}
        )
        url = _wire.sessions_url(agent_id) + "/resolve"
        reply = await self._t.json("POST", url, idempotent=not new_session, json=body)
        record = await self.get_session(agent_id, reply["session_id"])
        return Resolved(record, bool(reply["resumable"]), bool(reply["created"]))

    async def list_sessions(
        self, agent_id: str, *, mode: Mode | None = None
    ) -> builtins.list[SessionRecord]:
        found: builtins.list[SessionRecord] = []
        params: dict[str, str] = {"mode": mode} if mode else {}
        while True:
            page = await self._t.json(
                "GET", _wire.sessions_url(agent_id), idempotent=True, params=params
            )
            found.extend(SessionRecord.from_json(item) for item in page["data"])
            if page["next_cursor"] is None:
                return found
            params = {**params, "cursor": page["next_cursor"]}

    async def delete_session(self, agent_id: str, session_id: str) -> None:
        await self._t.send("DELETE", _wire.session_url(agent_id, session_id), idempotent=True)

    def session(self, agent_id: str, session_id: str) -> AsyncSessionHandle:
        """A handle on an existing session (operations raise ``SessionNotFound`` if not)."""
        return AsyncSessionHandle(self._t, agent_id, session_id)

    def applets(self, agent_id: str) -> AsyncApplets:
        """The agent's applets (shared by all its sessions)."""
        return AsyncApplets(self._t, agent_id)

    async def aclose(self) -> None:
        await self._t.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
