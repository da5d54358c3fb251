"""``files.watch(path)``: a session's file changes as an iterator, on both transports.

In-process the iterator hears the store's change feed directly (``Store.watch``);
over HTTP it reads the server's SSE feed (``GET .../events``). Both yield the
same ``Change`` values and filter them the same way: the ``files`` volume, at or
below ``path`` (or a delete, move or copy of a tree holding it), plus ``resync`` /
``changed`` ("look again") which match any path.
The SSE framing is parsed here (field lines, blank-line dispatch, ``:`` comments):
twenty lines, cheaper than another dependency.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx

from sessionbox import paths
from sessionbox.paths import VPath
from sessionbox.types import Change

QUEUE_SIZE = 1000
_LOOK_AGAIN = frozenset({"resync", "changed"})


def wanted(change: Change, agent_id: str, session_id: str, under: VPath) -> bool:
    """Is ``change`` one a watcher of ``under`` in this session should see?"""
    if change.is_gap:
        return True
    if change.agent_id != agent_id or change.session_id != session_id:
        return False
    if change.op in _LOOK_AGAIN:
        return True
    if change.volume != "files":
        return False
    # A delete or move of a directory above ``under`` takes ``under`` with it; a move or
    # copy onto one replaces it.
    if _touches(change.path, under, whole_tree=change.op in ("delete", "move")):
        return True
    return change.to is not None and _touches(change.to, under, whole_tree=True)


def _touches(path: str, under: VPath, *, whole_tree: bool) -> bool:
    """``path`` lies at or below ``under``, or (``whole_tree``) contains it."""
    return paths.is_within(VPath(path), under) or (
        whole_tree and paths.is_within(under, VPath(path))
    )


def change_from(body: dict[str, Any]) -> Change:
    """A ``Change`` from a feed event; ``resync`` carries no volume or path."""
    if body.get("op") == "resync":
        return Change(body["agent"], body["session"], "files", "resync", "/")
    return Change.from_json(body)


class LocalWatch(Iterator[Change]):
    """Changes from the store's feed; ``timeout`` ends the iteration after that many
    seconds without one. Close it (or use ``with``) to stop listening."""

    def __init__(
        self,
        watch: Callable[[Callable[[Change], None]], Callable[[], None]],
        agent_id: str,
        session_id: str,
        path: str,
        timeout: float | None,
    ) -> None:
        self._under = paths.validate(path)
        self._a, self._s = agent_id, session_id
        self._timeout = timeout
        self._queue: queue.Queue[Change] = queue.Queue()
        self._lock = threading.Lock()
        self._behind = False
        self._unwatch: Callable[[], None] | None = watch(self._hear)

    def _hear(self, change: Change) -> None:
        """Runs on the committing thread (or PostgreSQL's listener): never blocks."""
        if not wanted(change, self._a, self._s, self._under):
            return
        with self._lock:
            if self._behind:
                return
            # A slow reader gets one resync, not all; so does one after a gap in the feed.
            if change.is_gap or self._queue.qsize() >= QUEUE_SIZE:
                self._behind = True
                change = Change(self._a, self._s, "files", "resync", "/")
            self._queue.put_nowait(change)

    def __next__(self) -> Change:
        if self._unwatch is None and self._queue.empty():
            raise StopIteration
        try:
            change = self._queue.get(timeout=self._timeout)
        except queue.Empty:
            raise StopIteration from None
        if change.op == "resync":
            with self._lock:
                self._behind = False
        return change

    def close(self) -> None:
        unwatch, self._unwatch = self._unwatch, None
        if unwatch is not None:
            unwatch()

    def __enter__(self) -> LocalWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpWatch(AsyncIterator[Change]):
    """Changes from the server's SSE feed, already subscribed (the ``ready`` event was read)."""

    def __init__(
        self,
        response: httpx.Response,
        agent_id: str,
        session_id: str,
        path: str,
        timeout: float | None,
    ) -> None:
        self._response = response
        self._lines = response.aiter_lines()
        self._a, self._s = agent_id, session_id
        self._under = paths.validate(path)
        self._timeout = timeout

    async def ready(self) -> HttpWatch:
        """Wait for the server's ``ready``: changes after this are never missed."""
        while (event := await self._event()) is not None:
            if event[0] == "ready":
                return self
        await self.aclose()
        raise ConnectionError("the change feed ended before it was ready")

    async def _event(self) -> tuple[str, str] | None:
        """The next (event, data) of the stream, or None when it ended."""
        name = "message"
        data: list[str] = []
        async for line in self._lines:
            if not line:
                if data:
                    return name, "\n".join(data)
                name = "message"
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        return None

    async def __anext__(self) -> Change:
        while True:
            with anyio.move_on_after(self._timeout) as scope:
                event = await self._event()
            if scope.cancelled_caught or event is None:
                await self.aclose()
                raise StopAsyncIteration
            if event[0] != "change":
                continue
            change = change_from(json.loads(event[1]))
            if wanted(change, self._a, self._s, self._under):
                return change

    async def aclose(self) -> None:
        await self._response.aclose()

    async def __aenter__(self) -> HttpWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
