"""Where the server runs blocking store work: which thread, and how many at once.

Writes to SQLite go through one connection behind one lock. Handed to a pool of
forty threads, thirty-two concurrent PUTs became thirty-two threads queueing on
that lock: a profile of ``wrk -c32`` showed two thirds of the server's samples in
the lock and in waking threads, not in writing (~570 µs of CPU a request). One
writer thread takes them in turn instead, while the requests wait as coroutines
(free); the lock stays for writers that come another way (FastAPI routes, the SDK).
PostgreSQL work runs on its own connections in a small pool of threads: with
``wrk -c32`` on 2 cores, 2/4/8/16 threads served 2.7k/2.6k/2.5k/2.4k raw GETs a
second (fewer threads, fewer GIL hand-offs); 4 keeps some room for a slower database.
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
    def __init__(self, store: Store, threads: int = 4) -> None:
        one_writer = isinstance(store, SqliteStore)
        self._writer = ThreadPoolExecutor(
            1 if one_writer else threads, thread_name_prefix="sessionbox-write"
        )
        self._readers = ThreadPoolExecutor(threads, thread_name_prefix="sessionbox-read")

    async def read(self, fn: Callable[[], T]) -> T:
        """``fn`` (one store read that may wait: PostgreSQL, a directory) in the pool."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, context.run, fn)

    async def write(self, fn: Callable[[], T]) -> T:
        """``fn`` (one store write) on the writer thread, with this task's context."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, context.run, fn)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
