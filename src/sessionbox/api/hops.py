"""Where the server runs blocking store work: which thread, and how many at once.

Writes to SQLite go through one connection behind one lock. Handed to a pool of
forty threads, thirty-two concurrent PUTs became thirty-two threads queueing on
that lock: a profile of ``wrk -c32`` showed two thirds of the server's samples in
the lock and in waking threads, not in writing (~570 µs of CPU a request). One
writer thread takes them in turn instead, while the requests wait as coroutines
(free); the lock stays for writers that come another way (FastAPI routes, the SDK).
PostgreSQL writes run in parallel on their own connections, in a pool of threads.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sessionbox.store.base import Store
from sessionbox.store.sqlite import SqliteStore

T = TypeVar("T")


class Hops:
    def __init__(self, store: Store, threads: int = 16) -> None:
        one_writer = isinstance(store, SqliteStore)
        self._writer = ThreadPoolExecutor(
            1 if one_writer else threads, thread_name_prefix="sessionbox-write"
        )

    async def write(self, fn: Callable[[], T]) -> T:
        """``fn`` (one store write) on the writer thread, with this task's context."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, context.run, fn)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
