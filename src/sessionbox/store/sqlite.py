"""The embedded default: one SQLite file in WAL mode.

One writer connection behind a lock (``BEGIN IMMEDIATE``), and one reader
connection per thread, so reads never wait for writes. Work runs on the
calling thread: the API hands each request to a worker thread once, and the
in-process library calls straight in, which keeps it near raw sqlite3 speed.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from sessionbox.content import Content
from sessionbox.errors import Exists, SessionboxError, StorageFull, Unavailable
from sessionbox.store import migrations
from sessionbox.store._dialect import Dialect
from sessionbox.store._homes import Homes
from sessionbox.store._sqlstore import SqlStore
from sessionbox.types import Entry, Limits, VolumeKey

T = TypeVar("T")
# The view's trigger (migration 0014) checks, inserts and counts in one statement.
_NEW_FILE = (
    "INSERT INTO new_files (agent_id, session_id, kind, stale_before, quota_bytes, "
    "quota_entries, parent, name, path, id, is_directory, is_readonly, size_bytes, "
    "content_type, meta, version, blob_hash, created_at, updated_at, inline_data) "
    "VALUES (" + ", ".join(["?"] * 20) + ")"
)


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower()


@contextmanager
def map_db_errors() -> Iterator[None]:
    """The one place sqlite3 exceptions become sessionbox errors."""
    try:
        yield
    except SessionboxError:
        raise
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise Exists(str(exc)) from exc
        raise
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "full" in text or "disk i/o" in text:
            raise StorageFull(f"the database could not write: {exc}") from exc
        if "locked" in text or "busy" in text or "unable to open" in text:
            raise Unavailable(f"the database is busy: {exc}") from exc
        raise


def path_from_url(url: str) -> Path:
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a sqlite URL: {url}")
    return Path(url.removeprefix("sqlite:///"))


class SqliteStore(SqlStore):
    dialect = Dialect()

    def __init__(
        self,
        url: str,
        limits: Limits,
        *,
        homes: Homes | None = None,
        path: Path | None = None,
        synchronous: str = "NORMAL",
    ) -> None:
        """``path``: the database file, when ``url`` does not name it (``dir:///``)."""
        super().__init__(url, limits, homes)
        self.path = path or path_from_url(url)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -16000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _read_tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._reader()
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error:
            # Translated only on failure: a context manager around every read costs ~2 us.
            with map_db_errors():
                raise

    def _query_one(self, sql: str, params: tuple[object, ...]) -> object:
        # Autocommit: the statement is its own read transaction, without BEGIN/COMMIT.
        try:
            return self._reader().execute(sql, params).fetchone()
        except sqlite3.Error:
            with map_db_errors():
                raise

    def _query_all(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error:
            with map_db_errors():
                raise

    def _attempt_write(self, fn: Callable[[sqlite3.Connection], T], autocommit: bool) -> T:
        with self._write_lock:
            conn = self._writer
            if autocommit:  # one statement: its own transaction
                return fn(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself on some errors (SQLITE_FULL, I/O): a
                # second ROLLBACK would raise and hide the real error as a 500.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

    def _write_tx(self, fn: Callable[[sqlite3.Connection], T], *, autocommit: bool = False) -> T:
        try:
            return self._attempt_write(fn, autocommit)
        except sqlite3.Error as exc:
            if not _is_busy(exc):
                with map_db_errors():  # translated only on failure, as in _read_tx
                    raise
        with map_db_errors():
            # Another process (a CLI next to the server) held the write lock past
            # busy_timeout: wait and try again rather than fail the request.
            for attempt in Retrying(
                retry=retry_if_exception(_is_busy),
                wait=wait_random_exponential(multiplier=0.005, max=0.25),
                stop=stop_after_delay(10),
                reraise=True,
            ):
                with attempt:
                    return self._attempt_write(fn, autocommit)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _insert_new_file(self, volume: VolumeKey, entry: Entry, content: Content) -> bool:
        args = self._new_file_args(volume, entry, content)
        return self._write_tx(functools.partial(_insert_counted, args), autocommit=True)

    def ping(self) -> None:
        self._read_tx(lambda conn: conn.execute("SELECT 1").fetchone())

    def migrate(self) -> list[str]:
        applied: list[str] = []

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(migrations.CREATE_TABLE)
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations.migrations("sqlite"):
                if migration.version in done:
                    continue
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, datetime.now(UTC).isoformat()),
                )
                applied.append(f"{migration.version:04d}_{migration.name}")

        self._write_tx(run)
        return applied

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._write_lock:
            self._writer.close()


def _insert_counted(args: tuple[Any, ...], conn: sqlite3.Connection) -> bool:
    """Insert into ``new_files``; whether its trigger inserted (it changes rows only then)."""
    before = conn.total_changes
    conn.execute(_NEW_FILE, args)
    return conn.total_changes != before


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements; a trigger's body stays whole."""
    pending = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        yield pending
