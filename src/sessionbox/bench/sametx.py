"""Raw ``sqlite3`` running sessionbox's own per-operation statements: its SQL's floor.

Issue 3 asks for in-process create/read at "at least 50% of raw sqlite3 doing the same
per-operation transactions". Read one way, that is this contender: the store's schema,
its connection settings and the statements it runs per operation (the one-statement
create of migration 0014, the one-statement read, stat and list), driven straight from
``sqlite3`` with the cheapest values the schema accepts. What it leaves out is
sessionbox's Python (validation, hashing, ids, entries, errors), so ``sb sqlite`` / this
is the share of an operation's time that is the database's own work. Where it differs,
it is the faster side: it reads on the connection that wrote (sessionbox reads on its
own reader connections), and the first file of a directory takes fewer statements than
the store's locked path.

Read the other way, the floor is ``raw sqlite3`` (a one-table schema), which this does
not replace: a slower schema would make this floor easier to beat, that one harder.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from sessionbox.bench.contender import Contender, Unsupported
from sessionbox.bench.inprocess import AGENT, InProcess
from sessionbox.paths import VPath
from sessionbox.store._sqlstore import ACTIVITY_RESOLUTION
from sessionbox.store._sqlvolume import (
    _INSERT_ENTRY,
    _INSERT_ENTRY_INTO_DIRECTORY,
    _UNLESS_TAKEN,
    INLINE_BYTES,
)
from sessionbox.store.sqlite import _NEW_FILE, SqliteStore

_HASH = "0" * 64  # any 64 hex digits: only the store's Python computes real ones
_STALE_US = int(ACTIVITY_RESOLUTION.total_seconds() * 1_000_000)


class RawSqliteSameTx(Contender):
    """The set-up (schema, session) goes through sessionbox; the timed work does not."""

    name = "raw sqlite3 same tx"

    def __init__(self, data_dir: Path) -> None:
        self._box = InProcess("set-up", f"sqlite:///{data_dir}/same-tx.db", data_dir)
        store = self._box.box.store
        assert isinstance(store, SqliteStore)
        self._conn = store._connect()  # the store's own pragmas, on a connection of ours
        self._session = self._box.session_id
        self._stat_sql, self._list_sql = store._stat_sql, store._list_sql
        self._read_sql = store._read_bytes_sql
        limits = store.limits
        self._quota = (limits.session_quota_bytes, limits.max_entries_per_session)
        (self._volume_id,) = self._conn.execute(
            "SELECT v.id FROM sessions s JOIN volumes v ON v.session_pk = s.pk"
            " WHERE s.agent_id = ? AND s.id = ? AND v.kind = 'files'",
            (AGENT, self._session),
        ).fetchone()
        self._ids = itertools.count(1)

    def _row(self, path: str, data: bytes | None, now: int) -> tuple[Any, ...]:
        """An entry row in ``entry_values``' order: a file, or a directory (no data)."""
        parent, name = path.rsplit("/", 1)
        return (
            parent or "/",
            name,
            path,
            f"00000000-0000-7000-8000-{next(self._ids):012x}",  # a valid UUID, made cheaply
            data is None,
            False,
            0 if data is None else len(data),
            None if data is None else "text/plain",
            "{}",
            1,
            None if data is None else _HASH,
            now,
            now,
            data,
        )

    def create(self, path: str, data: bytes) -> None:
        if len(data) > INLINE_BYTES:
            raise Unsupported("larger files take sessionbox's chunked path, not one statement")
        now = time.time_ns() // 1000
        args = (
            AGENT,
            self._session,
            "files",
            now - _STALE_US,
            *self._quota,
            *self._row(path, data, now),
        )
        before = self._conn.total_changes
        self._conn.execute(_NEW_FILE, args)
        if self._conn.total_changes == before:
            self._create_with_parents(path, args, now)

    def _create_with_parents(self, path: str, args: tuple[Any, ...], now: int) -> None:
        """The fallback a refused one-statement create takes: make the missing parents,
        then the file, in one write transaction (sessionbox's locked path does more)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            before = conn.total_changes
            parts = path.split("/")[1:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/" + "/".join(parts[:depth])
                row = (self._volume_id, *self._row(folder, None, now))
                if depth == 1:
                    conn.execute(_INSERT_ENTRY + _UNLESS_TAKEN, row)
                else:  # only below a directory, as the store does: never under a file
                    conn.execute(_INSERT_ENTRY_INTO_DIRECTORY, (*row, self._volume_id, row[1]))
            conn.execute(
                "UPDATE volumes SET entry_count = entry_count + ? WHERE id = ?",
                (conn.total_changes - before, self._volume_id),
            )
            before = conn.total_changes
            conn.execute(_NEW_FILE, args)
            if conn.total_changes == before:
                raise ValueError(f"{path} is taken or below a file: the create was refused")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself on some errors
                conn.execute("ROLLBACK")
            raise

    def _params(self, path: str) -> tuple[Any, ...]:
        return AGENT, self._session, "files", time.time_ns() // 1000, VPath(path)

    def read(self, path: str) -> bytes:
        return bytes(self._conn.execute(self._read_sql, self._params(path)).fetchone()[-1])

    def stat(self, path: str) -> None:
        self._conn.execute(self._stat_sql, self._params(path)).fetchone()

    def list(self, path: str) -> int:
        return len(self._conn.execute(self._list_sql, (*self._params(path), "", 1000)).fetchall())

    def close(self) -> None:
        self._conn.close()
        self._box.close()
