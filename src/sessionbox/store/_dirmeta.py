"""The sidecar of a directory-backed volume: rows in the catalog's ``dir_entries``.

A plain file cannot carry an entry id, ``meta``, a content type or a version
counter, and anything written next to it would show up for native tools. So
those live in the catalog database, in the same transaction (and under the
same session lock) as the rest of the store's work. Every row holds the stat
``stamp`` the file had when sessionbox last wrote it: a row whose stamp no
longer matches was changed outside sessionbox and is only a hint.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sessionbox import paths
from sessionbox.paths import VPath
from sessionbox.store._dialect import Dialect
from sessionbox.types import Usage

_COLUMNS = "path, id, is_readonly, content_type, meta, version, content_hash, created_at, stamp"


@dataclass(frozen=True, slots=True)
class MetaRow:
    path: VPath
    id: uuid.UUID
    is_readonly: bool
    content_type: str | None
    meta: dict[str, Any]
    version: int
    content_hash: str | None
    created_at: datetime
    stamp: str

    def at(self, path: VPath) -> MetaRow:
        return replace(self, path=path)


class DirMeta:
    """Sidecar rows of one volume, on the transaction's connection."""

    def __init__(self, conn: Any, dialect: Dialect, volume_id: int) -> None:
        self._conn = conn
        self._d = dialect
        self._vid = volume_id

    def _q(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self._conn.execute(self._d.sql(sql), params)

    def _row(self, row: Any) -> MetaRow:
        d = self._d
        return MetaRow(
            path=VPath(row[0]),
            id=d.from_id(row[1]),
            is_readonly=bool(row[2]),
            content_type=row[3],
            meta=d.from_json(row[4]),
            version=int(row[5]),
            content_hash=row[6],
            created_at=d.from_ts(row[7]),
            stamp=row[8],
        )

    def get(self, path: VPath) -> MetaRow | None:
        if self._vid < 0:
            return None
        row = self._q(
            f"SELECT {_COLUMNS} FROM dir_entries WHERE volume_id = ? AND path = ?",
            (self._vid, path),
        ).fetchone()
        return self._row(row) if row else None

    def children(self, directory: VPath) -> dict[str, MetaRow]:
        if self._vid < 0:
            return {}
        rows = self._q(
            f"SELECT {_COLUMNS} FROM dir_entries WHERE volume_id = ? AND parent = ?",
            (self._vid, directory),
        ).fetchall()
        return {paths.name(VPath(row[0])): self._row(row) for row in rows}

    def subtree(self, top: VPath) -> dict[VPath, MetaRow]:
        """Rows of ``top`` and everything below it."""
        if self._vid < 0:
            return {}
        low, high = paths.subtree_bounds(top)
        rows = self._q(
            f"SELECT {_COLUMNS} FROM dir_entries WHERE volume_id = ? "
            "AND ((path > ? AND path < ?) OR path = ?)",
            (self._vid, low, high, top),
        ).fetchall()
        return {VPath(row[0]): self._row(row) for row in rows}

    def put(self, rows: Iterable[MetaRow]) -> None:
        d = self._d
        values = [
            (
                self._vid,
                r.path,
                paths.parent(r.path),
                d.to_id(r.id),
                r.is_readonly,
                r.content_type,
                d.json(r.meta),
                r.version,
                r.content_hash,
                d.ts(r.created_at),
                r.stamp,
            )
            for r in rows
        ]
        if not values:
            return
        d.executemany(
            self._conn,
            "INSERT INTO dir_entries (volume_id, path, parent, id, is_readonly, content_type, "
            "meta, version, content_hash, created_at, stamp) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (volume_id, path) DO UPDATE SET id = excluded.id, "
            "is_readonly = excluded.is_readonly, content_type = excluded.content_type, "
            "meta = excluded.meta, version = excluded.version, "
            "content_hash = excluded.content_hash, created_at = excluded.created_at, "
            "stamp = excluded.stamp",
            values,
        )

    def drop(self, top: VPath) -> None:
        """Forget ``top`` and everything below it."""
        if top == paths.ROOT:
            self._q("DELETE FROM dir_entries WHERE volume_id = ?", (self._vid,))
            return
        low, high = paths.subtree_bounds(top)
        self._q(
            "DELETE FROM dir_entries WHERE volume_id = ? AND ((path > ? AND path < ?) OR path = ?)",
            (self._vid, low, high, top),
        )

    def rename(self, src: VPath, dst: VPath) -> None:
        """Move the rows of a tree from ``src`` to ``dst`` (which holds no rows)."""
        moved = [row.at(paths.rebase(row.path, src, dst)) for row in self.subtree(src).values()]
        self.drop(src)
        self.put(moved)

    # -- usage ---------------------------------------------------------------------

    def owner_volumes(self) -> list[tuple[int, str]]:
        """(id, kind) of every volume of this volume's session (or just this agent volume)."""
        if self._vid < 0:
            return []
        rows = self._q(
            "SELECT o.id, o.kind FROM volumes v JOIN volumes o ON o.session_pk = v.session_pk "
            "WHERE v.id = ?",
            (self._vid,),
        ).fetchall()
        if not rows:
            rows = self._q("SELECT id, kind FROM volumes WHERE id = ?", (self._vid,)).fetchall()
        return [(int(row[0]), str(row[1])) for row in rows]

    def counted(self, volume_id: int, since: datetime) -> Usage | None:
        """The usage last counted for a volume, if it was counted after ``since``."""
        row = self._q(
            "SELECT bytes_used, entry_count FROM dir_usage WHERE volume_id = ? AND scanned_at > ?",
            (volume_id, self._d.ts(since)),
        ).fetchone()
        return Usage(int(row[0]), int(row[1])) if row else None

    def save_count(self, volume_id: int, usage: Usage, at: datetime) -> None:
        self._q(
            "INSERT INTO dir_usage (volume_id, bytes_used, entry_count, scanned_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (volume_id) DO UPDATE SET "
            "bytes_used = excluded.bytes_used, entry_count = excluded.entry_count, "
            "scanned_at = excluded.scanned_at",
            (volume_id, usage.bytes_used, usage.entry_count, self._d.ts(at)),
        )

    def add_count(self, delta: Usage) -> None:
        self._q(
            "UPDATE dir_usage SET bytes_used = bytes_used + ?, entry_count = entry_count + ? "
            "WHERE volume_id = ?",
            (delta.bytes_used, delta.entry_count, self._vid),
        )

    def commit(self, token: str) -> None:
        """Record an update's journal token in this transaction: its commit is the commit
        of the update's changes on disk too (``_dirjournal``)."""
        self._q(
            "INSERT INTO dir_commits (volume_id, token) VALUES (?, ?) "
            "ON CONFLICT (volume_id) DO UPDATE SET token = excluded.token",
            (self._vid, token),
        )


def is_committed(dialect: Dialect, token: str, conn: Any) -> bool:
    """Whether the update logged under ``token`` reached the database."""
    sql = dialect.sql("SELECT 1 FROM dir_commits WHERE token = ?")
    return conn.execute(sql, (token,)).fetchone() is not None
