"""PostgreSQL: for many API replicas over one database.

psycopg 3 with a connection pool; results in binary format (bytea arrives
~3.5x faster at 1 MiB). Writers lock their session's volume rows
(``SELECT ... FOR UPDATE``), so all check-then-act logic in ``_sqlvolume.py``
is race-free across replicas. Serialisation failures and deadlocks are
retried here; a lost connection is retried for reads and reported as 503
(``Unavailable``) for writes, whose outcome the client must check.

Changes are announced with ``NOTIFY`` inside the write transaction, so they are
heard exactly when (and only if) it commits, by every replica: one listener
connection per process, opened by the first ``watch``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors
from psycopg_pool import ConnectionPool, PoolTimeout
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from sessionbox.content import Content
from sessionbox.errors import Exists, SessionboxError, StorageFull, Unavailable
from sessionbox.store import migrations
from sessionbox.store._dialect import PostgresDialect
from sessionbox.store._homes import Homes
from sessionbox.store._sqlstore import SqlStore
from sessionbox.store.base import ChangeCallback
from sessionbox.types import Change, Entry, Limits, VolumeKey

T = TypeVar("T")
_MIGRATION_LOCK = 0x5E55_10B0  # pg_advisory_xact_lock key: "sessionbox"
CHANNEL = "sessionbox_changes"
# The function of migration 0014: a new small file in one statement (see SqlStore).
_NEW_FILE = "SELECT new_file(" + ", ".join(["%s"] * 22) + ")"
_MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
log = logging.getLogger(__name__)


def notify_payload(change: Change) -> str:
    """The change as JSON; one too large to send becomes "something changed at /"."""
    payload = json.dumps(change.to_json(), ensure_ascii=False, separators=(",", ":"))
    if len(payload.encode()) <= _MAX_PAYLOAD:
        return payload
    coarse = Change(change.agent_id, change.session_id, change.volume, "changed", "/")
    return json.dumps(coarse.to_json(), separators=(",", ":"))


RETRY_SECONDS = 10  # no new attempt after this: the client gets 503 and Retry-After
POOL_WAIT_SECONDS = 10  # longest wait for a pooled connection, per attempt
_PING_SECONDS = 2


class _Retry(Exception):
    """A transient failure worth running the transaction again for."""


@contextmanager
def map_db_errors() -> Iterator[None]:
    """The one place psycopg exceptions become sessionbox errors."""
    try:
        yield
    except SessionboxError:
        raise
    except (pgerrors.SerializationFailure, pgerrors.DeadlockDetected) as exc:
        raise _Retry(str(exc)) from exc
    except pgerrors.UniqueViolation as exc:
        raise Exists(f"already exists ({exc.diag.constraint_name})") from exc
    except (pgerrors.DiskFull, pgerrors.OutOfMemory) as exc:
        raise StorageFull(f"the database could not write: {exc}") from exc
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise Unavailable(f"the database is unreachable: {exc}") from exc


class _BinaryConnection:
    """Makes every query ask for binary results."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(sql, params, binary=True)

    def cursor(self) -> psycopg.Cursor[Any]:
        return self._conn.cursor(binary=True)


class PostgresStore(SqlStore):
    dialect = PostgresDialect()

    def __init__(
        self, url: str, limits: Limits, *, homes: Homes | None = None, pool_max: int = 20
    ) -> None:
        super().__init__(url, limits, homes)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_max,
            kwargs={"autocommit": True},
            timeout=POOL_WAIT_SECONDS,
            open=True,
            name="sessionbox",
        )
        self._listener: threading.Thread | None = None
        self._listening = threading.Event()
        self._stopping = threading.Event()
        self._listener_lock = threading.Lock()

    def _run(self, fn: Callable[[Any], T], began: list[bool], *, transaction: bool = True) -> T:
        # Without a transaction, a single statement runs in autocommit: one round trip, not 3.
        with (
            map_db_errors(),
            self._pool.connection() as conn,
            conn.transaction() if transaction else nullcontext(),
        ):
            began.append(True)
            return fn(_BinaryConnection(conn))

    def _query_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        def one(conn: Any) -> Any:
            return conn.execute(sql, params).fetchone()

        return self._retrying_mapped(one, repeatable=True, transaction=False)

    def _query_all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        def every(conn: Any) -> list[Any]:
            return list(conn.execute(sql, params).fetchall())

        return self._retrying_mapped(every, repeatable=True, transaction=False)

    def _retrying(self, fn: Callable[[Any], T], *, repeatable: bool, transaction: bool) -> T:
        began: list[bool] = []

        def transient(exc: BaseException) -> bool:
            # A connection that died before BEGIN went through (a pooled one the
            # database dropped) ran nothing: safe to retry even for a write.
            return isinstance(exc, _Retry) or (
                isinstance(exc, Unavailable) and (repeatable or not began)
            )

        for attempt in Retrying(
            retry=retry_if_exception(transient),
            wait=wait_random_exponential(multiplier=0.01, max=0.5),
            stop=stop_after_attempt(8) | stop_after_delay(RETRY_SECONDS),
            reraise=True,
        ):
            with attempt:
                began.clear()
                return self._run(fn, began, transaction=transaction)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _retrying_mapped(
        self, fn: Callable[[Any], T], *, repeatable: bool, transaction: bool = True
    ) -> T:
        try:
            return self._retrying(fn, repeatable=repeatable, transaction=transaction)
        except _Retry as exc:  # still conflicting after every retry: busy, not broken
            raise Unavailable(f"the database stayed busy: {exc}") from exc

    def _insert_new_file(self, volume: VolumeKey, entry: Entry, content: Content) -> bool:
        change = Change(volume.agent_id, volume.session_id, volume.kind, "write", entry.path)
        args = (*self._new_file_args(volume, entry, content), CHANNEL, notify_payload(change))

        def call(conn: Any) -> bool:
            return bool(conn.execute(_NEW_FILE, args).fetchone()[0])

        # Not repeatable: a statement whose connection died may have committed.
        return self._retrying_mapped(call, repeatable=False, transaction=False)

    def _read_tx(self, fn: Callable[[Any], T]) -> T:
        # A read is safe to repeat even when the connection died mid-way.
        return self._retrying_mapped(fn, repeatable=True)

    def _write_tx(self, fn: Callable[[Any], T]) -> T:
        # A write whose connection died may have committed: the caller must look.
        return self._retrying_mapped(fn, repeatable=False)

    def ping(self) -> None:
        # Health tells how the database is now: one try, a short wait for a connection.
        with map_db_errors(), self._pool.connection(timeout=_PING_SECONDS) as conn:
            conn.execute("SELECT 1")

    def migrate(self) -> list[str]:
        applied: list[str] = []

        def run(conn: Any) -> None:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(migrations.CREATE_TABLE)
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations.migrations("postgres"):
                if migration.version in done:
                    continue
                conn._conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, datetime.now(UTC).isoformat()),
                )
                applied.append(f"{migration.version:04d}_{migration.name}")

        self._write_tx(run)
        return applied

    # -- the change feed -------------------------------------------------------------

    def _announce(self, conn: Any, changes: list[Change]) -> None:
        if changes:
            conn.execute(
                "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload",
                (CHANNEL, [notify_payload(change) for change in changes]),
            )

    def _committed(self, changes: list[Change]) -> None:
        """Nothing to do: the listener hears this process's NOTIFYs like anyone else's."""

    def watch(self, callback: ChangeCallback) -> Callable[[], None]:
        unwatch = super().watch(callback)
        with self._listener_lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="sessionbox-listen", daemon=True
                )
                self._listener.start()
        # Changes committed after watch() returns must be heard: wait for LISTEN.
        self._listening.wait(10)
        return unwatch

    def _listen(self) -> None:
        reconnecting = False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    if reconnecting:  # deaf for a while: whatever committed then was missed
                        self._deliver([Change.gap()])
                    reconnecting = True
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver([Change.from_json(json.loads(note.payload))])
            except psycopg.Error as exc:
                self._listening.clear()
                log.warning("change listener lost its connection (%s); reconnecting", exc)
                self._stopping.wait(1)

    def close(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.join(5)
        self._pool.close()
