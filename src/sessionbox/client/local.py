"""The in-process library: ``sessionbox.open(url)``, no server involved.

Calls go straight to the services on the caller's thread, which keeps them
close to raw SQLite speed. ``open_async`` offers the same methods as
coroutines, each one a single hop to a worker thread.
"""

from __future__ import annotations

import builtins
import functools
import time
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any, TypeVar, cast

from starlette.concurrency import run_in_threadpool

from sessionbox.client._caco import Applets, Outputs
from sessionbox.client._watch import LocalWatch
from sessionbox.client.protocols import AsyncSessionboxApi
from sessionbox.config import Settings
from sessionbox.content import Content
from sessionbox.ids import Mode
from sessionbox.services.applets import AppletService
from sessionbox.services.files import FileService
from sessionbox.services.grep import GrepFile
from sessionbox.services.outputs import OutputService
from sessionbox.services.sessions import Resolved, SessionService
from sessionbox.services.snapshots import (
    Envelope,
    HistoryItem,
    Snapshot,
    SnapshotService,
    validate_envelope,
)
from sessionbox.store import Store, open_store
from sessionbox.types import Entry, SessionRecord

T = TypeVar("T")


class Files:
    """A session's filesystem. Paths are absolute (``/src/main.py``)."""

    def __init__(self, service: FileService, agent_id: str, session_id: str) -> None:
        self._svc = service
        self._a = agent_id
        self._s = session_id

    def write(
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
        entry, _ = self._svc.write(
            self._a,
            self._s,
            path,
            Content.of(raw),
            mode="upsert" if overwrite else "create",
            if_match=etag,
            readonly=readonly,
        )
        return entry

    def write_stream(self, path: str, stream: IO[bytes], *, etag: str | None = None) -> Entry:
        """Write from a binary file object without holding it in memory."""
        pieces = iter(functools.partial(stream.read, 1024 * 1024), b"")
        entry, _ = self._svc.write_stream(self._a, self._s, path, pieces, if_match=etag)
        return entry

    def read(self, path: str) -> bytes:
        return self._svc.read_bytes(self._a, self._s, path)

    def read_text(self, path: str) -> str:
        return self.read(path).decode("utf-8")

    def read_stream(self, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self._svc.read_stream(self._a, self._s, path, start, end)

    def stat(self, path: str) -> Entry:
        return self._svc.stat(self._a, self._s, path)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except FileNotFoundError:
            return False
        return True

    def list(self, path: str = "/") -> builtins.list[Entry]:
        """Every child of a directory (all pages)."""
        entries: builtins.list[Entry] = []
        cursor = None
        while True:
            page = self._svc.list(self._a, self._s, path, cursor=cursor)
            entries.extend(page.items)
            if page.next_cursor is None:
                return entries
            cursor = page.next_cursor

    def mkdir(self, path: str, *, exist_ok: bool = False) -> Entry:
        return self._svc.mkdir(self._a, self._s, path, exist_ok=exist_ok)

    def delete(self, path: str, *, recursive: bool = False, etag: str | None = None) -> int:
        """Delete a file or directory (a tree with ``recursive``; ``/`` empties the session)."""
        return self._svc.delete(self._a, self._s, path, recursive=recursive, if_match=etag)

    def move(
        self, src: str, dst: str, *, overwrite: bool = False, etag: str | None = None
    ) -> Entry:
        return self._svc.move(self._a, self._s, src, dst, overwrite=overwrite, if_match=etag)

    def copy(self, src: str, dst: str, *, overwrite: bool = False) -> Entry:
        return self._svc.copy(self._a, self._s, src, dst, overwrite=overwrite)

    def set_readonly(self, path: str, readonly: bool = True) -> Entry:
        return self._svc.set_readonly(self._a, self._s, path, readonly)

    def grep(
        self,
        pattern: str,
        *,
        path: str = "/",
        path_pattern: str | None = None,
        max_matches: int | None = None,
    ) -> builtins.list[GrepFile]:
        return self._svc.grep(
            self._a,
            self._s,
            pattern,
            path=path,
            path_pattern=path_pattern,
            max_matches=max_matches,
        )

    def watch(self, path: str = "/", *, timeout: float | None = None) -> LocalWatch:
        """Changes at or below ``path`` as they commit: ``for change in files.watch("/src")``.

        Listening starts before this returns; ``timeout`` stops the iteration after
        that many seconds without a change. Close the watch (or use ``with``) when done.
        """
        self.stat("/")  # SessionNotFound now, as over HTTP
        return LocalWatch(self._svc.store.watch, self._a, self._s, path, timeout)

    # The names of earlier releases, kept for code written against them.
    get_info = stat
    make_dir = mkdir
    remove = delete
    rename = move


class Snapshots:
    """A session's state snapshots: the latest one plus a short rotating history.

    ``snaps.save({"filters": []}, version=1)`` stores an envelope whose
    ``updatedAt`` is now (epoch ms) unless given; ``etag`` makes it conditional.
    """

    def __init__(self, service: SnapshotService, agent_id: str, session_id: str) -> None:
        self._svc = service
        self._a = agent_id
        self._s = session_id

    def save(
        self,
        snapshot: dict[str, Any],
        *,
        version: int = 1,
        updated_at: int | None = None,
        handle_key: str | None = None,
        etag: str | None = None,
    ) -> Snapshot:
        stamp = int(time.time() * 1000) if updated_at is None else updated_at
        envelope = validate_envelope(
            {"version": version, "updatedAt": stamp, "handleKey": handle_key, "snapshot": snapshot}
        )
        return self._svc.save(self._a, self._s, envelope, if_match=etag)

    def save_envelope(self, envelope: Envelope, *, etag: str | None = None) -> Snapshot:
        return self._svc.save(self._a, self._s, envelope, if_match=etag)

    def latest(self, *, resolve_handle: bool = False) -> Snapshot:
        """The latest snapshot; ``SnapshotNotFound`` when none was saved."""
        return self._svc.latest(self._a, self._s, resolve_handle=resolve_handle)

    def history(self) -> builtins.list[HistoryItem]:
        """Older snapshots (not the latest), newest first."""
        return self._svc.history(self._a, self._s)

    def get(self, updated_at: int) -> Snapshot:
        return self._svc.get(self._a, self._s, updated_at)

    def restore(self, updated_at: int, *, etag: str | None = None) -> Snapshot:
        return self._svc.restore(self._a, self._s, updated_at, if_match=etag)

    def clear(self) -> int:
        return self._svc.clear(self._a, self._s)


class SessionHandle:
    def __init__(self, box: Sessionbox, agent_id: str, session_id: str) -> None:
        self.agent_id = agent_id
        self.id = session_id
        self.files = Files(box._files, agent_id, session_id)
        self.snapshots = Snapshots(box._snapshots, agent_id, session_id)
        self.outputs = Outputs(box._outputs, agent_id, session_id)


class Sessionbox:
    """Session storage in this process, over the store a URL names."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._files = FileService(store, settings)
        self._sessions = SessionService(store, settings)
        self._snapshots = SnapshotService(store, settings)
        self._outputs = OutputService(store, settings)
        self._applets = AppletService(store, settings)

    def create_session(
        self,
        agent_id: str,
        session_id: str | None = None,
        *,
        mode: Mode | None = None,
        ttl_seconds: int | None = None,
    ) -> SessionRecord:
        return self._sessions.create(agent_id, session_id, mode=mode, ttl_seconds=ttl_seconds)

    def get_session(self, agent_id: str, session_id: str) -> SessionRecord:
        return self._sessions.get(agent_id, session_id)

    def resolve_session(
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
        """Find or create the session a panel should use (NatStack's derivation).

        ``box.resolve_session("a", "safe", panel_path="panels/editor").session.id``
        is ``"safe_auto_panels~editor"`` every time; ``created`` is true only the first.
        """
        return self._sessions.resolve(
            agent_id,
            mode,
            panel_path=panel_path,
            parent_session=parent_session,
            name=name,
            session_id=session_id,
            new_session=new_session,
        )

    def list_sessions(self, agent_id: str, *, mode: Mode | None = None) -> list[SessionRecord]:
        found: list[SessionRecord] = []
        cursor = None
        while True:
            page = self._sessions.list(agent_id, cursor=cursor, mode=mode)
            found.extend(page.items)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    def delete_session(self, agent_id: str, session_id: str) -> None:
        self._sessions.delete(agent_id, session_id)

    def session(self, agent_id: str, session_id: str) -> SessionHandle:
        """A handle on an existing session (operations raise ``SessionNotFound`` if not)."""
        return SessionHandle(self, agent_id, session_id)

    def applets(self, agent_id: str) -> Applets:
        """The agent's applets (shared by all its sessions)."""
        return Applets(self._applets, agent_id)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Sessionbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(url: str | None = None, *, settings: Settings | None = None) -> Sessionbox:
    """Open a store in-process: ``sessionbox.open("sqlite:///data.db")``."""
    settings = settings or Settings()
    return Sessionbox(open_store(url or settings.store_url, settings), settings)


class _AsyncProxy:
    """Mirrors a sync object: each method becomes a coroutine run on a worker thread."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, Files | SessionHandle | Snapshots | Outputs):
            return _AsyncProxy(value)
        if not callable(value) or name == "format_marker":  # no I/O: as on AsyncClient
            return value
        if name in ("session", "applets"):  # a handle does no I/O: sync, as on AsyncClient
            return lambda *args: _AsyncProxy(value(*args))

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = await run_in_threadpool(value, *args, **kwargs)
            if isinstance(result, SessionHandle | Applets):
                return _AsyncProxy(result)
            if isinstance(result, Iterator):  # read_stream's bytes, watch's changes
                return _AsyncIterator(result)
            return result

        return call


class _AsyncSessionbox(_AsyncProxy):
    """``open_async``'s top level: closed with ``aclose`` or ``async with``, as
    ``AsyncClient`` is (``close`` stays a coroutine too)."""

    async def aclose(self) -> None:
        await run_in_threadpool(self._target.close)

    async def __aenter__(self) -> _AsyncSessionbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _AsyncIterator(AsyncIterator[T]):
    """A sync iterator pulled one item per worker-thread hop; closing closes it."""

    def __init__(self, items: Iterator[T]) -> None:
        self._items = items

    async def __anext__(self) -> T:
        item = await run_in_threadpool(next, self._items, _END)
        if item is _END:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        close = getattr(self._items, "close", None)
        if close is not None:
            await run_in_threadpool(close)

    async def __aenter__(self) -> _AsyncIterator[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


_END = object()


def open_async(url: str | None = None, *, settings: Settings | None = None) -> AsyncSessionboxApi:
    """The async twin of :func:`open`: the same methods, awaited."""
    return cast(AsyncSessionboxApi, _AsyncSessionbox(open(url, settings=settings)))
