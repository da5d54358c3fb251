"""Raw ``sqlite3`` and raw psycopg: the floor under sessionbox's stores.

One table ``(path, parent, version, data)``, one transaction per operation, the same
durability as the store (WAL, ``synchronous=NORMAL``). No blobs, no quota, no parents:
it is what the stores cannot beat, so a ratio against it shows their overhead.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sessionbox.bench.contender import Contender

MiB = 1024 * 1024
_SCHEMA = (
    "CREATE TABLE files (path TEXT PRIMARY KEY, parent TEXT NOT NULL,"
    " version INTEGER NOT NULL, data {blob} NOT NULL)",
    "CREATE INDEX files_parent ON files (parent)",
)


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class _RawSql(Contender):
    """The SQL both drivers share; subclasses run a statement list in one transaction."""

    def _tx(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        raise NotImplementedError

    def _one(self, sql: str, args: Sequence[Any]) -> Any:
        raise NotImplementedError

    def _all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def create(self, path: str, data: bytes) -> None:
        self._tx(
            [
                (
                    "INSERT INTO files (path, parent, version, data) VALUES (?, ?, 1, ?)",
                    (path, _parent(path), data),
                )
            ]
        )

    def read(self, path: str) -> bytes:
        return bytes(self._one("SELECT data FROM files WHERE path = ?", (path,))[0])

    def stat(self, path: str) -> None:
        self._one("SELECT version, length(data) FROM files WHERE path = ?", (path,))

    def list(self, path: str) -> int:
        return len(self._all("SELECT path, version FROM files WHERE parent = ?", (path,)))

    def overwrite(self, path: str, data: bytes) -> None:
        # The version compare is the If-Match: the update lands only on the version seen.
        version = self._one("SELECT version FROM files WHERE path = ?", (path,))[0]
        self._tx(
            [
                (
                    "UPDATE files SET data = ?, version = version + 1"
                    " WHERE path = ? AND version = ?",
                    (data, path, version),
                )
            ]
        )

    def _subtree(self, path: str) -> tuple[str, str]:
        return path + "/", path + "0"

    def move(self, src: str, dst: str) -> None:
        lo, hi = self._subtree(src)
        cut = len(src) + 1
        self._tx(
            [
                (
                    "UPDATE files SET path = ? || substr(path, ?), parent = ? || substr(parent, ?)"
                    " WHERE path >= ? AND path < ?",
                    (dst, cut, dst, cut, lo, hi),
                )
            ]
        )

    def copy(self, src: str, dst: str) -> None:
        lo, hi = self._subtree(src)
        cut = len(src) + 1
        self._tx(
            [
                (
                    "INSERT INTO files (path, parent, version, data)"
                    " SELECT ? || substr(path, ?), ? || substr(parent, ?), 1, data"
                    " FROM files WHERE path >= ? AND path < ?",
                    (dst, cut, dst, cut, lo, hi),
                )
            ]
        )

    def delete_tree(self, path: str) -> None:
        self._tx([("DELETE FROM files WHERE path >= ? AND path < ?", self._subtree(path))])

    def grep(self, pattern: str) -> int:
        regex = re.compile(pattern.encode())
        rows = self._all("SELECT path, data FROM files WHERE path >= ?", ("/",))
        return sum(1 for _, data in rows if regex.search(data))


class RawSqlite(_RawSql):
    name = "raw sqlite3"

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="sb-bench-sqlite-"))
        self._conn = sqlite3.connect(self._dir / "raw.db", isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        for sql in _SCHEMA:
            self._conn.execute(sql.format(blob="BLOB"))

    def _tx(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                self._conn.execute(sql, args)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _one(self, sql: str, args: Sequence[Any]) -> Any:
        return self._conn.execute(sql, args).fetchone()

    def _all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return self._conn.execute(sql, args).fetchall()

    def stream_in(self, path: str, source: Path) -> None:
        """The floor of a large upload: the same bytes in 1 MiB rows, one transaction."""
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS chunks (path TEXT, seq INTEGER, data BLOB, "
            "PRIMARY KEY (path, seq))"
        )
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute("DELETE FROM chunks WHERE path = ?", (path,))
            with source.open("rb") as stream:
                seq = 0
                while piece := stream.read(MiB):
                    self._conn.execute(
                        "INSERT INTO chunks (path, seq, data) VALUES (?, ?, ?)", (path, seq, piece)
                    )
                    seq += 1
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def stream_out(self, path: str, target: Path) -> None:
        with target.open("wb") as out:
            rows = self._conn.execute(
                "SELECT data FROM chunks WHERE path = ? ORDER BY seq", (path,)
            )
            for (data,) in rows:
                out.write(data)

    def close(self) -> None:
        self._conn.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class RawPostgres(_RawSql):
    name = "raw psycopg"

    def __init__(self, url: str, table_suffix: str) -> None:
        import psycopg

        self._conn = psycopg.connect(url, autocommit=True)
        self._table = f"raw_files_{table_suffix}"
        schema = [s.format(blob="bytea").replace("files", self._table) for s in _SCHEMA]
        # COLLATE "C": byte order, so the [dir/, dir0) range is the subtree, as in the store.
        schema[0] = schema[0].replace("path TEXT", 'path TEXT COLLATE "C"')
        for sql in schema:
            self._conn.execute(sql.encode())

    def _sql(self, sql: str) -> bytes:
        return sql.replace("files", self._table).replace("?", "%s").encode()

    def _tx(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self._conn.transaction():
            for sql, args in statements:
                self._conn.execute(self._sql(sql), args)

    def _fetch(self, sql: str, args: Sequence[Any], how: Callable[[Any], Any]) -> Any:
        with self._conn.cursor(binary=True) as cur:
            cur.execute(self._sql(sql), args)
            return how(cur)

    def _one(self, sql: str, args: Sequence[Any]) -> Any:
        return self._fetch(sql, args, lambda cur: cur.fetchone())

    def _all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        rows: list[Any] = self._fetch(sql, args, lambda cur: cur.fetchall())
        return rows

    def close(self) -> None:
        self._conn.execute(self._sql("DROP TABLE IF EXISTS files"))
        self._conn.close()
