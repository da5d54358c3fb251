"""The live change feed: committed store changes, fanned out to async subscribers.

The store calls back from whatever thread committed (or, on PostgreSQL, from its
listener thread); ``EventHub`` hands each change to the event loop of every
subscriber of that session. A subscriber that falls ``QUEUE_SIZE`` changes
behind gets one ``resync`` instead of an unbounded queue: a slow browser tab
must never grow the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sessionbox.store.base import Store
from sessionbox.types import Change

QUEUE_SIZE = 1000
_CLOSED: dict[str, Any] = {"op": "closed"}


@dataclass(eq=False)
class Subscription:
    """One listener's queue, filled from any thread through its event loop."""

    agent_id: str
    session_id: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE + 1)
    )
    overflowed: bool = False

    def offer(self, event: dict[str, Any]) -> None:
        """Runs on the subscriber's loop."""
        if self.overflowed:
            return
        if self.queue.qsize() >= QUEUE_SIZE and event is not _CLOSED:
            self.overflowed = True
            event = {"agent": self.agent_id, "session": self.session_id, "op": "resync"}
        self.queue.put_nowait(event)

    async def next(self) -> dict[str, Any] | None:
        """The next event, or None once the hub closed."""
        event = await self.queue.get()
        if event is _CLOSED:
            return None
        if event.get("op") == "resync":
            self.overflowed = False
        return event


class EventHub:
    """Subscribers by session; attached to a store with ``start`` and detached by ``close``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._subs: dict[tuple[str, str], set[Subscription]] = {}
        self._lock = threading.Lock()
        self._unwatch: Callable[[], None] | None = None

    def start(self) -> None:
        """Begin hearing the store (on PostgreSQL this opens the listener connection)."""
        if self._unwatch is None:
            self._unwatch = self._store.watch(self.publish)

    def close(self) -> None:
        """Stop hearing the store and end every open subscription."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        with self._lock:
            subs = [sub for group in self._subs.values() for sub in group]
            self._subs.clear()
        for sub in subs:
            _post(sub, _CLOSED)

    def publish(self, change: Change) -> None:
        """Called by the store, from any thread, after a change committed."""
        if change.is_gap:
            self._resync_all()
            return
        if change.session_id is None:
            return  # agent volumes (applets) have no session feed
        with self._lock:
            subs = list(self._subs.get((change.agent_id, change.session_id), ()))
        if not subs:
            return
        event = change.to_json()
        for sub in subs:
            _post(sub, event)

    def _resync_all(self) -> None:
        with self._lock:
            subs = [sub for group in self._subs.values() for sub in group]
        for sub in subs:
            _post(sub, {"agent": sub.agent_id, "session": sub.session_id, "op": "resync"})

    @asynccontextmanager
    async def subscribe(self, agent_id: str, session_id: str) -> AsyncIterator[Subscription]:
        sub = Subscription(agent_id, session_id, asyncio.get_running_loop())
        key = (agent_id, session_id)
        with self._lock:
            self._subs.setdefault(key, set()).add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                group = self._subs.get(key)
                if group is not None:
                    group.discard(sub)
                    if not group:
                        del self._subs[key]

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(group) for group in self._subs.values())


def _post(sub: Subscription, event: dict[str, Any]) -> None:
    # A closed loop means nobody is listening any more.
    with contextlib.suppress(RuntimeError):
        sub.loop.call_soon_threadsafe(sub.offer, event)
