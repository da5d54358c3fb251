"""A volume kept in SQL rows, shared by the SQLite and PostgreSQL stores.

One ``SqlVolume`` lives for one transaction on one connection. The writer
variant is only handed out after the store has locked the session's volume
rows, so every check-then-act below is race-free. The rules are ``_rules``'s;
this module holds the primitives in SQL.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sessionbox import paths
from sessionbox.content import Content
from sessionbox.errors import Unavailable
from sessionbox.ids import uuid7
from sessionbox.paths import ROOT, VPath
from sessionbox.store import _rules as rules
from sessionbox.store._dialect import ENTRY_COLUMNS, Dialect
from sessionbox.types import Entry, Limits, Usage, WriteMode

INLINE_BYTES = 4096
"""Files up to this size keep their bytes in their entry row, not in a blob: one row
and its index entries per create instead of five B-trees (``bench/RESULTS.md``)."""

_WALK_BATCH = 200
_WALK_INLINE_BYTES = 64 * 1024
_INSERT_ENTRY = (
    f"INSERT INTO entries (volume_id, parent, name, {ENTRY_COLUMNS}, inline_data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Both insert only where the path is free; the second only below an existing directory.
_UNLESS_TAKEN = " ON CONFLICT DO NOTHING"
_INSERT_ENTRY_INTO_DIRECTORY = (
    f"INSERT INTO entries (volume_id, parent, name, {ENTRY_COLUMNS}, inline_data) "
    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM entries "
    "WHERE volume_id = ? AND path = ? AND is_directory)" + _UNLESS_TAKEN
)
# A file's first bytes: its row's own, or its blob's first chunk.
FIRST_BYTES = "COALESCE(e.inline_data, c.data)"
FIRST_CHUNK = (
    " LEFT JOIN blob_chunks c ON e.inline_data IS NULL AND c.hash = e.blob_hash AND c.seq = 0"
)


def new_entry(
    path: VPath,
    blob: Content | None,
    now: datetime,
    *,
    readonly: bool = False,
    content_type: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Entry:
    """A version-1 entry: a file of ``blob``, or a directory when there is none."""
    return Entry(
        id=uuid7(),
        path=path,
        is_directory=blob is None,
        is_readonly=readonly,
        size_bytes=blob.size if blob else 0,
        content_type=content_type,
        meta=meta or {},
        version=1,
        content_hash=blob.hash if blob else None,
        created_at=now,
        updated_at=now,
    )


def entry_values(d: Dialect, e: Entry, inline: bytes | None) -> tuple[Any, ...]:
    """An entry's row after ``volume_id``, in ``_INSERT_ENTRY``'s column order."""
    created = d.ts(e.created_at)
    return (
        paths.parent(e.path),
        e.name,
        e.path,
        d.to_id(e.id),
        e.is_directory,
        e.is_readonly,
        e.size_bytes,
        e.content_type,
        d.json(e.meta),
        e.version,
        e.content_hash,
        created,
        created if e.updated_at is e.created_at else d.ts(e.updated_at),  # new: one "now"
        inline,
    )


class SqlVolume:
    """Reads (and, for writers, changes) of one volume inside one transaction."""

    def __init__(
        self,
        conn: Any,
        dialect: Dialect,
        volume_id: int,
        *,
        usage: Usage | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._conn = conn
        self._d = dialect
        self._vid = volume_id
        self._now = datetime.now(UTC)
        self._usage = usage
        self._limits = limits
        self._quota: rules.Quota | None = None

    @property
    def quota(self) -> rules.Quota:
        """Made on first need (a reader rarely has one); its count holds no ``self``, so
        the volume is freed as soon as its transaction drops it."""
        if self._quota is None:
            conn, dialect, vid = self._conn, self._d, self._vid
            self._quota = rules.Quota(
                self._limits, usage=self._usage, count=lambda: _count_usage(conn, dialect, vid)
            )
        return self._quota

    # -- reading ---------------------------------------------------------------

    def _q(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self._conn.execute(self._d.sql(sql), params)

    def _get(self, path: VPath) -> Entry | None:
        row = self._q(
            f"SELECT {ENTRY_COLUMNS} FROM entries WHERE volume_id = ? AND path = ?",
            (self._vid, path),
        ).fetchone()
        return self._d.entry(row) if row else None

    def stat(self, path: VPath) -> Entry:
        if path == ROOT:
            return rules.root_entry()
        entry = self._get(path)
        if entry is None:
            raise rules.not_found(path)
        return entry

    def stat_inline(self, path: VPath) -> tuple[Entry, bytes | None]:
        """``stat`` plus the bytes the entry row holds (a small file's), in one query."""
        if path == ROOT:
            return rules.root_entry(), None
        row = self._q(
            f"SELECT {ENTRY_COLUMNS}, inline_data FROM entries WHERE volume_id = ? AND path = ?",
            (self._vid, path),
        ).fetchone()
        if row is None:
            raise rules.not_found(path)
        return self._d.entry(row), bytes(row[11]) if row[11] is not None else None

    def list(self, path: VPath, *, limit: int, after: str | None = None) -> builtins.list[Entry]:
        if not self.stat(path).is_directory:
            raise rules.not_a_directory(path)
        rows = self._q(
            f"SELECT {ENTRY_COLUMNS} FROM entries WHERE volume_id = ? AND parent = ? "
            "AND name > ? ORDER BY name LIMIT ?",
            (self._vid, path, after or "", limit),
        ).fetchall()
        return [self._d.entry(row) for row in rows]

    def read(self, path: VPath, *, max_bytes: int) -> tuple[Entry, bytes]:
        row = (
            self._q(
                f"SELECT {ENTRY_COLUMNS}, {FIRST_BYTES} FROM entries e{FIRST_CHUNK} "
                "WHERE e.volume_id = ? AND e.path = ?",
                (self._vid, path),
            ).fetchone()
            if path != ROOT
            else None
        )
        if row is None:
            raise rules.is_a_directory(path) if path == ROOT else rules.no_such_file(path)
        entry = self._d.entry(row)
        rules.check_read(entry, max_bytes)
        first = bytes(row[11])
        if len(first) == entry.size_bytes:
            return entry, first
        return entry, first + b"".join(self._chunks(entry.content_hash or "", 1))

    def _chunks(self, blob_hash: str, start_seq: int) -> Iterator[bytes]:
        rows = self._q(
            "SELECT data FROM blob_chunks WHERE hash = ? AND seq >= ? ORDER BY seq",
            (blob_hash, start_seq),
        ).fetchall()
        return (bytes(row[0]) for row in rows)

    def walk(self, path: VPath, *, with_content: bool) -> Iterator[tuple[Entry, bytes | None]]:
        """The subtree in path order; without content, only bytes kept in the entry rows."""
        top = self.stat(path)
        if path != ROOT:
            wanted = not top.is_directory and (with_content or top.size_bytes <= INLINE_BYTES)
            yield top, self.read(path, max_bytes=top.size_bytes)[1] if wanted else None
            if not top.is_directory:
                return
        low, high = paths.subtree_bounds(path)
        # Small files come with the listing; large ones are fetched one at a
        # time, so a batch never holds more than _WALK_BATCH x _WALK_INLINE_BYTES.
        if with_content:
            content_col = f", CASE WHEN e.size_bytes <= {_WALK_INLINE_BYTES} THEN {FIRST_BYTES} END"
            join = FIRST_CHUNK
        else:
            content_col, join = ", e.inline_data", ""
        while True:
            rows = self._q(
                f"SELECT {ENTRY_COLUMNS}{content_col} FROM entries e{join} "
                "WHERE e.volume_id = ? AND e.path > ? AND e.path < ? ORDER BY e.path LIMIT ?",
                (self._vid, low, high, _WALK_BATCH),
            ).fetchall()
            for row in rows:
                entry = self._d.entry(row)
                data = bytes(row[11]) if row[11] is not None else None
                if data is None and with_content and not entry.is_directory:
                    data = b"".join(self._chunks(entry.content_hash or "", 0))
                yield entry, data
            if len(rows) < _WALK_BATCH:
                return
            low = rows[-1][0]

    def usage(self) -> Usage:
        return self.quota.usage()

    # -- writing ---------------------------------------------------------------

    def finish(self) -> None:
        """Last in the store's transaction: add this update's growth to the counters."""
        grown = self.quota.grown
        if grown.bytes_used or grown.entry_count:
            self._q(
                "UPDATE volumes SET bytes_used = bytes_used + ?, entry_count = entry_count + ? "
                "WHERE id = ?",
                (grown.bytes_used, grown.entry_count, self._vid),
            )

    def _get_with_parent(self, path: VPath) -> tuple[Entry | None, Entry | None]:
        """``path`` and its parent directory in one query (the parent of a top-level is root)."""
        above = paths.parent(path)
        if above == ROOT:
            return self._get(path), rules.root_entry()
        rows = self._q(
            f"SELECT {ENTRY_COLUMNS} FROM entries WHERE volume_id = ? AND path IN (?, ?)",
            (self._vid, path, above),
        ).fetchall()
        found = {row[0]: self._d.entry(row) for row in rows}
        return found.get(path), found.get(above)

    def _parents(
        self, path: VPath, nearest: Entry | None = None
    ) -> tuple[builtins.list[VPath], VPath | None]:
        """The directories missing above ``path``, outermost first, and the file in the
        way of them if there is one (``nearest``: the parent, when already fetched)."""
        above = paths.ancestors(path)
        if not above:
            return [], None
        nearest = nearest or self._get(above[-1])
        if nearest is not None:
            return [], None if nearest.is_directory else nearest.path
        marks = ", ".join("?" for _ in above)
        rows = self._q(
            f"SELECT path, is_directory FROM entries WHERE volume_id = ? AND path IN ({marks})",
            (self._vid, *above),
        ).fetchall()
        existing = {row[0]: bool(row[1]) for row in rows}
        blocked = next((VPath(p) for p, is_dir in existing.items() if not is_dir), None)
        return [p for p in above if p not in existing], blocked

    def _insert_entry(
        self,
        path: VPath,
        *,
        blob: Content | None,
        inline: bytes | None = None,
        readonly: bool = False,
        content_type: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Entry:
        entry = self._new_entry(path, blob, readonly=readonly, content_type=content_type, meta=meta)
        self._q(_INSERT_ENTRY, self._row(entry, inline))
        return entry

    def _new_entry(
        self,
        path: VPath,
        blob: Content | None,
        *,
        readonly: bool = False,
        content_type: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Entry:
        return new_entry(
            path, blob, self._now, readonly=readonly, content_type=content_type, meta=meta
        )

    def _row(self, e: Entry, inline: bytes | None) -> tuple[Any, ...]:
        return (self._vid, *entry_values(self._d, e, inline))

    def _make_parents(self, missing: builtins.list[VPath]) -> None:
        if missing:
            self.quota.reserve(0, len(missing))
            for directory in missing:
                self._insert_entry(directory, blob=None)

    def _store_blob(self, content: Content) -> None:
        """Make sure the blob exists and cannot be collected before this transaction ends.

        A new blob is inserted (invisible to GC until commit). An existing one is
        locked ``FOR KEY SHARE`` (PostgreSQL) and its GC mark cleared; the sweeper
        locks candidates ``FOR UPDATE SKIP LOCKED`` and re-checks references after
        locking, so it either skips this blob or deletes it before we look, in which
        case the next round inserts it afresh.
        """
        for _ in range(5):
            cur = self._q(
                "INSERT INTO blobs (hash, size, chunk_count) VALUES (?, ?, ?) "
                "ON CONFLICT (hash) DO NOTHING",
                (content.hash, content.size, max(1, -(-content.size // (1024 * 1024)))),
            )
            if cur.rowcount == 1:
                # One chunk at a time: a list of every chunk would hold the whole file in memory.
                for seq, piece in enumerate(content.chunks()):
                    self._q(
                        "INSERT INTO blob_chunks (hash, seq, data) VALUES (?, ?, ?)",
                        (content.hash, seq, piece),
                    )
                return
            row = self._q(
                "SELECT orphaned_at FROM blobs WHERE hash = ?" + self._d.for_key_share,
                (content.hash,),
            ).fetchone()
            if row is None:  # swept between the two statements: insert it again
                continue
            if row[0] is not None:  # shared again: a pending collection must not take it
                self._q("UPDATE blobs SET orphaned_at = NULL WHERE hash = ?", (content.hash,))
            return
        raise Unavailable("the content store is busy collecting garbage; try again")

    def _place_content(self, content: Content) -> bytes | None:
        """A small file's bytes, to keep in its row; a larger one goes to its blob (None)."""
        if content.size <= INLINE_BYTES:
            return content.data if content.data is not None else b"".join(content.chunks())
        self._store_blob(content)
        return None

    def _create_small(
        self,
        path: VPath,
        content: Content,
        readonly: bool | None,
        content_type: str | None,
        meta: dict[str, Any] | None,
    ) -> Entry | None:
        """The most frequent write, a new small file in an existing directory, in one
        statement: the insert itself checks that the parent is a directory and that the
        path is free. None when it is not that case; the general path then decides."""
        if not self.quota.has_room(content.size, 1):
            return None
        entry = self._new_entry(
            path, content, readonly=bool(readonly), content_type=content_type, meta=meta
        )
        above = paths.parent(path)
        row = self._row(entry, self._place_content(content))
        if above == ROOT:
            inserted = self._q(_INSERT_ENTRY + _UNLESS_TAKEN, row)
        else:
            inserted = self._q(_INSERT_ENTRY_INTO_DIRECTORY, (*row, self._vid, above))
        if inserted.rowcount != 1:
            return None
        self.quota.add(content.size, 1)
        return entry

    def write(
        self,
        path: VPath,
        content: Content,
        *,
        mode: WriteMode,
        if_match: str | None = None,
        readonly: bool | None = None,
        content_type: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> tuple[Entry, bool]:
        self.quota.check_file(content.size)
        if mode == "create" and if_match is None and content.size <= INLINE_BYTES:
            created = self._create_small(path, content, readonly, content_type, meta)
            if created is not None:
                return created, True
        existing, parent_entry = self._get_with_parent(path)
        missing, blocked = self._parents(path, parent_entry) if existing is None else ([], None)
        rules.check_write(path, existing, mode=mode, if_match=if_match, blocked=blocked)
        if existing is None:
            self._make_parents(missing)
            self.quota.reserve(content.size, 1)
            inline = self._place_content(content)
            entry = self._insert_entry(
                path,
                blob=content,
                inline=inline,
                readonly=bool(readonly),
                content_type=content_type,
                meta=meta,
            )
            return entry, True
        self.quota.reserve(content.size - existing.size_bytes, 0)
        inline = self._place_content(content)
        self._q(
            "UPDATE entries SET blob_hash = ?, inline_data = ?, size_bytes = ?, content_type = ?, "
            "meta = ?, is_readonly = ?, version = version + 1, updated_at = ? "
            "WHERE volume_id = ? AND path = ?",
            (
                content.hash,
                inline,
                content.size,
                content_type or existing.content_type,
                self._d.json(existing.meta if meta is None else meta),
                bool(readonly),
                self._d.ts(self._now),
                self._vid,
                path,
            ),
        )
        return self.stat(path), False

    def mkdir(self, path: VPath, *, exist_ok: bool = False) -> Entry:
        existing = self._get(path) if path != ROOT else rules.root_entry()
        missing, blocked = self._parents(path) if existing is None else ([], None)
        found = rules.check_mkdir(path, existing, exist_ok=exist_ok, blocked=blocked)
        if found is not None:
            return found
        self._make_parents(missing)
        self.quota.reserve(0, 1)
        return self._insert_entry(path, blob=None)

    def set_attrs(
        self,
        path: VPath,
        *,
        readonly: bool | None = None,
        meta: dict[str, Any] | None = None,
        if_match: str | None = None,
    ) -> Entry:
        entry = self.stat(path)
        rules.check_attrs(entry, if_match)
        self._q(
            "UPDATE entries SET is_readonly = ?, meta = ?, version = version + 1, "
            "updated_at = ? WHERE volume_id = ? AND path = ?",
            (
                entry.is_readonly if readonly is None else readonly,
                self._d.json(entry.meta if meta is None else meta),
                self._d.ts(self._now),
                self._vid,
                path,
            ),
        )
        return self.stat(path)

    def _has_children(self, path: VPath) -> bool:
        row = self._q(
            "SELECT 1 FROM entries WHERE volume_id = ? AND parent = ? LIMIT 1", (self._vid, path)
        ).fetchone()
        return row is not None

    def _remove_tree(self, path: VPath) -> int:
        """Delete ``path`` and everything below it; returns the number of entries."""
        low, high = paths.subtree_bounds(path)
        where = "volume_id = ? AND ((path > ? AND path < ?) OR path = ?)"
        params = (self._vid, low, high, path)
        count, size = self._q(
            f"SELECT count(*), coalesce(sum(size_bytes), 0) FROM entries WHERE {where}", params
        ).fetchone()
        if count:
            self._q(f"DELETE FROM entries WHERE {where}", params)
            self.quota.add(-int(size), -int(count))
        return int(count)

    def delete(self, path: VPath, *, recursive: bool = False, if_match: str | None = None) -> int:
        entry = self.stat(path)
        rules.check_delete(
            entry,
            if_match=if_match,
            recursive=recursive,
            empty=lambda: not self._has_children(path),
        )
        return self._remove_tree(path)

    def _prepare_target(self, dst: VPath, overwrite: bool) -> None:
        """Make room at ``dst`` for a move or copy: replace what is there, or make parents."""
        target = self._get(dst)
        missing, blocked = self._parents(dst) if target is None else ([], None)
        rules.check_target(dst, target, overwrite=overwrite, blocked=blocked)
        if target is not None:
            self._remove_tree(dst)
        self._make_parents(missing)

    def move(
        self, src: VPath, dst: VPath, *, overwrite: bool = False, if_match: str | None = None
    ) -> Entry:
        entry = self.stat(src)
        if not rules.check_move(entry, dst, if_match=if_match):
            return entry
        self._prepare_target(dst, overwrite)
        self._q(
            "UPDATE entries SET path = ?, parent = ?, name = ? WHERE volume_id = ? AND path = ?",
            (dst, paths.parent(dst), paths.name(dst), self._vid, src),
        )
        if entry.is_directory:
            low, high = paths.subtree_bounds(src)
            cut = len(src) + 1
            self._q(
                "UPDATE entries SET path = ? || substr(path, ?), parent = ? || substr(parent, ?) "
                "WHERE volume_id = ? AND path > ? AND path < ?",
                (dst, cut, dst, cut, self._vid, low, high),
            )
        return self.stat(dst)

    def copy(self, src: VPath, dst: VPath, *, overwrite: bool = False) -> Entry:
        rules.check_copy(self.stat(src), dst)
        self._prepare_target(dst, overwrite)
        tree = builtins.list(self.walk(src, with_content=False))
        self.quota.reserve(sum(e.size_bytes for e, _ in tree), len(tree))
        rows = [
            self._row(
                Entry(
                    id=uuid7(),
                    path=paths.rebase(e.path, src, dst),
                    is_directory=e.is_directory,
                    is_readonly=e.is_readonly,
                    size_bytes=e.size_bytes,
                    content_type=e.content_type,
                    meta=e.meta,
                    version=1,
                    content_hash=e.content_hash,
                    created_at=self._now,
                    updated_at=self._now,
                ),
                inline,
            )
            for e, inline in tree
        ]
        self._d.executemany(self._conn, _INSERT_ENTRY, rows)
        return self.stat(dst)


def _count_usage(conn: Any, dialect: Dialect, volume_id: int) -> Usage:
    """A volume not located with its usage (a reader's): its session's volumes, summed now."""
    row = conn.execute(
        dialect.sql(
            "SELECT COALESCE(SUM(bytes_used), 0), COALESCE(SUM(entry_count), 0) FROM volumes "
            "WHERE id = ? OR session_pk = (SELECT session_pk FROM volumes WHERE id = ?)"
        ),
        (volume_id, volume_id),
    ).fetchone()
    return Usage(int(row[0]), int(row[1]))
