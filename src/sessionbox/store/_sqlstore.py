"""The volume half both SQL stores share (the catalog half is ``_catalog.py``).

Subclasses provide connections (``_read_tx``/``_write_tx``, which also retry
and translate driver errors) and a dialect. The store's ``homes`` (``_homes.py``)
say where each volume's bytes live: in SQL rows (``_sqlvolume.SqlVolume``) or in
a host directory, whose locks, undo journal and recovery are the homes' business.
What runs here is the transaction around a volume, and the one-statement fast
paths of volumes kept in SQL.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sessionbox.content import CHUNK_BYTES, Content
from sessionbox.errors import (
    InvalidInput,
    IsADirectory,
    SessionboxError,
    SessionNotFound,
    Unavailable,
)
from sessionbox.paths import ROOT, VPath
from sessionbox.store import _invariants
from sessionbox.store._catalog import SqlCatalog, fetch_all, fetch_one
from sessionbox.store._changes import ChangeFeed, Recorder
from sessionbox.store._dialect import ENTRY_COLUMNS, Dialect
from sessionbox.store._dirmeta import is_committed
from sessionbox.store._dirread import read_range
from sessionbox.store._homes import Homes, Journals
from sessionbox.store._sqlvolume import (
    FIRST_BYTES,
    FIRST_CHUNK,
    INLINE_BYTES,
    SqlVolume,
    entry_values,
    new_entry,
)
from sessionbox.store.base import Reader, VolumeReader, VolumeWriter
from sessionbox.types import Change, Entry, Limits, NewSession, Usage, VolumeKey

if TYPE_CHECKING:
    from sessionbox.store._dirread import DirReader
    from sessionbox.store._dirvolume import DirVolume

T = TypeVar("T")
ACTIVITY_RESOLUTION = timedelta(seconds=60)
"""A session's last_active_at is rewritten only when older than this."""
_E_COLUMNS = ", ".join(f"e.{name}" for name in ENTRY_COLUMNS.split(", "))
_NO_VOLUME = -1  # an agent volume nobody has written yet: reads see it empty


class SqlStore(SqlCatalog, ChangeFeed):
    dialect: Dialect
    url: str

    def __init__(self, url: str, limits: Limits, homes: Homes | None) -> None:
        super().__init__()
        self.url = url
        self.limits = limits
        self.homes = homes or Homes()

    # -- provided by subclasses ------------------------------------------------

    def _announce(self, conn: Any, changes: list[Change]) -> None:
        """Inside the write transaction: PostgreSQL queues a NOTIFY; SQLite has nothing to do."""

    # -- volumes -----------------------------------------------------------------

    def _locate(self, conn: Any, volume: VolumeKey, *, lock: bool) -> tuple[int, Usage]:
        """The volume's row id and the usage of everything its owner holds."""
        d = self.dialect
        now = d.ts(datetime.now(UTC))
        if volume.session_id is None:
            select = d.sql(
                "SELECT v.id, v.bytes_used, v.entry_count FROM volumes v WHERE v.agent_id = ? "
                "AND v.session_pk IS NULL AND v.kind = ?" + (d.for_update if lock else "")
            )
            row = conn.execute(select, (volume.agent_id, volume.kind)).fetchone()
            if row is not None:
                return row[0], Usage(row[1], row[2])
            if not lock:
                return _NO_VOLUME, Usage(0, 0)
            conn.execute(
                d.sql("INSERT INTO agents (id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                (volume.agent_id, now),
            )
            # Two first writers of an agent volume race here on PostgreSQL: the loser
            # waits for the winner's commit, then takes its row instead of failing.
            conn.execute(
                d.sql(
                    "INSERT INTO volumes (agent_id, kind) VALUES (?, ?) "
                    "ON CONFLICT (agent_id, kind) WHERE session_pk IS NULL DO NOTHING"
                ),
                (volume.agent_id, volume.kind),
            )
            row = conn.execute(select, (volume.agent_id, volume.kind)).fetchone()
            return row[0], Usage(row[1], row[2])
        rows = conn.execute(
            d.sql(
                "SELECT v.id, v.kind, v.bytes_used, v.entry_count, s.pk, s.last_active_at "
                "FROM sessions s JOIN volumes v ON v.session_pk = s.pk "
                "WHERE s.agent_id = ? AND s.id = ? AND (s.expires_at IS NULL OR s.expires_at > ?)"
                # Lock the rows in one order, or two writers of a session deadlock.
                " ORDER BY v.id" + (d.for_update + " OF v" if d.for_update and lock else "")
            ),
            (volume.agent_id, volume.session_id, now),
        ).fetchall()
        if not rows:
            raise SessionNotFound(f"no session {volume.session_id!r} for agent {volume.agent_id!r}")
        target = next(row for row in rows if row[1] == volume.kind)
        if lock:
            last_active = d.from_ts(rows[0][5])
            if datetime.now(UTC) - last_active > ACTIVITY_RESOLUTION:
                conn.execute(
                    d.sql("UPDATE sessions SET last_active_at = ? WHERE pk = ?"), (now, rows[0][4])
                )
        return target[0], Usage(sum(r[2] for r in rows), sum(r[3] for r in rows))

    def _find(self, conn: Any, volume: VolumeKey) -> int:
        """A reader's volume id: one indexed row, no usage sums (readers rarely ask for it)."""
        row = conn.execute(
            self.dialect.sql(
                "SELECT v.id FROM sessions s JOIN volumes v ON v.session_pk = s.pk "
                "WHERE s.agent_id = ? AND s.id = ? AND v.kind = ? "
                "AND (s.expires_at IS NULL OR s.expires_at > ?)"
            ),
            (volume.agent_id, volume.session_id, volume.kind, self.dialect.ts(datetime.now(UTC))),
        ).fetchone()
        if row is None:
            raise SessionNotFound(f"no session {volume.session_id!r} for agent {volume.agent_id!r}")
        return int(row[0])

    def _reader_vid(self, conn: Any, volume: VolumeKey) -> int:
        """A SQL-held volume's id for a reader (an agent volume nobody wrote is empty)."""
        if volume.session_id is not None:
            return self._find(conn, volume)
        return self._locate(conn, volume, lock=False)[0]

    def view(self, volume: VolumeKey, fn: Callable[[VolumeReader], T]) -> T:
        place = self.homes.place(volume)

        def run(conn: Any) -> T:
            if place is None and volume.session_id is not None:
                return fn(SqlVolume(conn, self.dialect, self._find(conn, volume)))
            vid, usage = self._locate(conn, volume, lock=False)
            if place is None:
                return fn(SqlVolume(conn, self.dialect, vid, usage=usage))
            return fn(self.homes.volume(conn, self.dialect, vid, volume, place, usage))

        if place is None:
            return self._read_tx(run)
        return self.homes.read(place, self._read_tx, run, self._committed_token)

    def _apply(
        self, conn: Any, volume: VolumeKey, fn: Callable[[VolumeWriter], T], journals: Journals
    ) -> tuple[T, list[Change]]:
        """``fn`` on ``volume`` in the caller's write transaction: one ``update``, or one
        step of ``create_sessions`` (so quota counters are settled before the next).
        A directory volume logs its changes in its journal from ``journals``; the
        session's row locks (taken by ``_locate``) serialise its writers too."""
        place = self.homes.place(volume)
        vid, usage = self._locate(conn, volume, lock=True)
        vol: SqlVolume | DirVolume
        if place is None:
            vol = SqlVolume(conn, self.dialect, vid, usage=usage, limits=self.limits)
        else:
            vol = self.homes.volume(
                conn,
                self.dialect,
                vid,
                volume,
                place,
                usage,
                limits=self.limits,
                journal=journals[place],
            )
        recorder = Recorder(vol, volume)
        result = fn(recorder)
        vol.finish()
        self._announce(conn, recorder.changes)
        return result, recorder.changes

    def update(self, volume: VolumeKey, fn: Callable[[VolumeWriter], T]) -> T:
        announced: list[Change] = []

        def run(conn: Any, journals: Journals) -> T:
            result, changes = self._apply(conn, volume, fn, journals)
            announced[:] = changes  # only the attempt that committed counts
            return result

        result = self._journaled_write([volume], run)
        self._committed(announced)
        return result

    def create_file(
        self,
        volume: VolumeKey,
        path: VPath,
        content: Content,
        *,
        readonly: bool = False,
        content_type: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Entry:
        s = volume.session_id
        if s is not None and content.size <= self._quick_bytes and self.homes.in_sql(volume):
            entry = new_entry(
                path,
                content,
                datetime.now(UTC),
                readonly=readonly,
                content_type=content_type,
                meta=meta,
            )
            if self._insert_new_file(volume, entry, content):
                if self._watching():
                    self._committed([Change(volume.agent_id, s, volume.kind, "write", path)])
                return entry
        # Not the quick case, or one of its checks failed: the locked path decides,
        # and raises the precise error (or creates the missing parents).
        return self.update(
            volume,
            lambda v: v.write(
                path,
                content,
                mode="create",
                readonly=readonly,
                content_type=content_type,
                meta=meta,
            ),
        )[0]

    def _insert_new_file(self, volume: VolumeKey, entry: Entry, content: Content) -> bool:
        """Create a new small file in ONE statement (migration 0014: SQLite's view
        ``new_files``, PostgreSQL's function ``new_file``), with every check of the locked
        path; False when any check refused it, having changed nothing."""
        raise NotImplementedError

    def _new_file_args(self, volume: VolumeKey, entry: Entry, content: Content) -> tuple[Any, ...]:
        """The arguments both dialects' statements take: the checks', then the entry row."""
        d, limits = self.dialect, self.limits
        data = content.data if content.data is not None else b"".join(content.chunks())
        return (
            volume.agent_id,
            volume.session_id,
            volume.kind,
            d.ts(entry.created_at - ACTIVITY_RESOLUTION),
            limits.session_quota_bytes,
            limits.max_entries_per_session,
            *entry_values(d, entry, data),
        )

    @functools.cached_property
    def _quick_bytes(self) -> int:
        return min(INLINE_BYTES, self.limits.max_file_bytes)

    def _journaled_write(
        self, volumes: Sequence[VolumeKey], run: Callable[[Any, Journals], T]
    ) -> T:
        """One write transaction over ``volumes``; the homes keep their directories (if
        any) in step with it."""
        places = {place for volume in volumes if (place := self.homes.place(volume)) is not None}
        if not places:
            return self._write_tx(lambda conn: run(conn, {}))
        return self.homes.write(places, self._write_tx, run, self._committed_token)

    def _committed_token(self, token: str) -> bool:
        """Whether the update of a directory volume logged under ``token`` committed."""
        return bool(self._read_tx(functools.partial(is_committed, self.dialect, token)))

    def _query_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        """One row from one statement: a statement is its own consistent snapshot."""
        return self._read_tx(functools.partial(fetch_one, sql, params))

    def _query_all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Every row of one statement, its own consistent snapshot (like ``_query_one``)."""
        return self._read_tx(functools.partial(fetch_all, sql, params))

    def stat(self, volume: VolumeKey, path: VPath) -> Entry:
        if path != ROOT and self._one_statement(volume):
            row = self._query_one(self._stat_sql, self._in_session(volume, path))
            if row is not None:
                return self.dialect.entry(row)
        return self.view(volume, lambda v: v.stat(path))

    def list_dir(
        self, volume: VolumeKey, path: VPath, *, limit: int, after: str | None = None
    ) -> list[Entry]:
        if self._one_statement(volume):
            # Rows below ``path`` prove it is a directory; none proves nothing (empty,
            # a file, missing, no session): the general path tells which.
            params = (*self._in_session(volume, path), after or "", limit)
            rows = self._query_all(self._list_sql, params)
            if rows:
                return [self.dialect.entry(row) for row in rows]
        return self.view(volume, lambda v: v.list(path, limit=limit, after=after))

    def _one_statement(self, volume: VolumeKey) -> bool:
        """Whether a read may take one joined statement: a session's volume kept in SQL
        (the root has no row, so its stat and read never can)."""
        return volume.session_id is not None and self.homes.place(volume) is None

    def _in_session(self, volume: VolumeKey, path: VPath) -> tuple[Any, ...]:
        """The parameters of ``_in_session_sql``."""
        now = self.dialect.ts(datetime.now(UTC))
        return volume.agent_id, volume.session_id, volume.kind, now, path

    def _in_session_sql(self, columns: str, join: str, where: str) -> str:
        """A statement over one session's volume: the session (alive), the volume and
        its entries joined, so a read takes one round trip and one snapshot."""
        return self.dialect.sql(
            f"SELECT {columns} FROM sessions s JOIN volumes v ON v.session_pk = s.pk "
            f"JOIN entries e ON e.volume_id = v.id{join} WHERE s.agent_id = ? AND s.id = ? "
            f"AND v.kind = ? AND (s.expires_at IS NULL OR s.expires_at > ?) AND {where}"
        )

    @functools.cached_property
    def _stat_sql(self) -> str:
        return self._in_session_sql(_E_COLUMNS, "", "e.path = ?")

    @functools.cached_property
    def _list_sql(self) -> str:
        return self._in_session_sql(
            _E_COLUMNS, "", "e.parent = ? AND e.name > ? ORDER BY e.name LIMIT ?"
        )

    def read_file(self, volume: VolumeKey, path: VPath, *, max_bytes: int) -> tuple[Entry, bytes]:
        row = self._whole_file(volume, path, max_bytes, self._read_file_sql)
        if row is not None:
            return self.dialect.entry(row), bytes(row[-1])
        return self.view(volume, lambda v: v.read(path, max_bytes=max_bytes))

    def read_bytes(self, volume: VolumeKey, path: VPath, *, max_bytes: int) -> bytes:
        row = self._whole_file(volume, path, max_bytes, self._read_bytes_sql)
        if row is not None:
            return bytes(row[-1])
        return self.view(volume, lambda v: v.read(path, max_bytes=max_bytes))[1]

    def open_file(self, volume: VolumeKey, path: VPath) -> tuple[Entry, Reader]:
        if self.homes.place(volume) is not None:
            # A directory volume opens the file itself, under the view's lock.
            return self.view(volume, lambda v: cast("DirReader", v).open(path))

        def run(conn: Any) -> tuple[Entry, bytes | None]:
            return SqlVolume(conn, self.dialect, self._reader_vid(conn, volume)).stat_inline(path)

        entry, held = self._read_tx(run)
        if entry.is_directory:
            raise IsADirectory(f"is a directory: {path}")
        if held is not None:
            return entry, lambda start, end: iter((held[start:end],))
        # Blob-held content is fetched by its hash, which names that version for good.
        return entry, functools.partial(self.read_chunks, volume, entry)

    def _whole_file(self, volume: VolumeKey, path: VPath, max_bytes: int, sql: str) -> Any:
        """The row of a whole file within ``max_bytes``, found in one statement, or None.

        The session, its volume, the entry and its first bytes come from one join:
        the reads of small files, by far the most frequent call, take one round trip.
        None (no session, no file, a directory, too large, more than one chunk) sends
        the caller down the general path, which also raises the precise error.
        """
        if path == ROOT or not self._one_statement(volume):
            return None
        row = self._query_one(sql, self._in_session(volume, path))
        # ..., is_directory, size_bytes, first bytes: the last three columns of both queries.
        if row is not None and row[-3]:
            # The row settles it (the general path would say the same): a GET of a
            # directory goes on to its listing without a read transaction first.
            raise IsADirectory(f"is a directory: {path}")
        if row is None or row[-1] is None or row[-2] > max_bytes:
            return None
        return row if len(row[-1]) == row[-2] else None

    @functools.cached_property
    def _read_file_sql(self) -> str:
        return self._whole_file_sql(f"{_E_COLUMNS}, e.is_directory, e.size_bytes")

    @functools.cached_property
    def _read_bytes_sql(self) -> str:
        return self._whole_file_sql("e.is_directory, e.size_bytes")

    def _whole_file_sql(self, columns: str) -> str:
        return self._in_session_sql(f"{columns}, {FIRST_BYTES}", FIRST_CHUNK, "e.path = ?")

    def create_sessions(
        self,
        agent_id: str,
        sessions: Sequence[NewSession],
        steps: Sequence[tuple[VolumeKey, Callable[[VolumeWriter], Any]]],
    ) -> list[Any]:
        """Sessions and their first content in one transaction (see ``Store``).

        The rows commit with the content or not at all, so a crash leaves nothing
        visible. On disk, a crash can leave a dead import's directories; with no row
        they are never read and are cleared before the id is used again. A clean
        failure clears them here, while the uncommitted rows still hold the ids.
        """
        announced: list[Change] = []

        def run(conn: Any, journals: Journals) -> list[Any]:
            made: list[str] = []
            changes: list[Change] = []
            try:
                for new in sessions:
                    self._insert_session(conn, agent_id, new.id, new.mode, new.type, None)
                    made.append(new.id)
                results = []
                for volume, fn in steps:
                    if volume.agent_id != agent_id:
                        raise InvalidInput(f"{volume} is not a volume of agent {agent_id!r}")
                    result, done = self._apply(conn, volume, fn, journals)
                    results.append(result)
                    changes += done
            except SessionboxError:  # refused while the transaction is alive
                for session_id in made:
                    with contextlib.suppress(SessionboxError):
                        self.homes.forget_session(agent_id, session_id)
                raise
            announced[:] = changes
            return results

        results = self._journaled_write([volume for volume, _ in steps], run)
        self._committed(announced)
        return results

    def read_chunks(self, volume: VolumeKey, entry: Entry, start: int, end: int) -> Iterator[bytes]:
        place = self.homes.place(volume)
        if place is not None:
            yield from read_range(place, entry, start, end)
            return
        if entry.content_hash is None or start >= end:
            return
        if entry.size_bytes <= INLINE_BYTES:
            data = self._read_tx(functools.partial(self._inline_bytes, volume, entry))
            if data is None:
                raise Unavailable(f"content of {entry.path} changed while it was being read")
            yield data[start:end]
            return
        sql = self.dialect.sql("SELECT data FROM blob_chunks WHERE hash = ? AND seq = ?")
        for seq in range(start // CHUNK_BYTES, (end - 1) // CHUNK_BYTES + 1):
            row = self._read_tx(functools.partial(fetch_one, sql, (entry.content_hash, seq)))
            if row is None:
                raise Unavailable(f"content of {entry.path} changed while it was being read")
            base = seq * CHUNK_BYTES
            yield bytes(row[0])[max(start - base, 0) : end - base]

    def _inline_bytes(self, volume: VolumeKey, entry: Entry, conn: Any) -> bytes | None:
        """A small file's bytes from its row, if the row still holds the content ``entry`` saw."""
        row = conn.execute(
            self.dialect.sql(
                "SELECT inline_data FROM entries WHERE volume_id = ? AND path = ? AND blob_hash = ?"
            ),
            (self._reader_vid(conn, volume), entry.path, entry.content_hash),
        ).fetchone()
        return bytes(row[0]) if row is not None and row[0] is not None else None

    def check_invariants(self, agent_id: str | None = None) -> list[str]:
        """Violations of the store's invariants (all agents, or one); empty when sound."""

        def run(conn: Any) -> list[str]:
            problems = _invariants.check(conn, self.dialect, agent_id)
            return problems + self.homes.check(conn, self.dialect, agent_id)

        return self._read_tx(run)

    def scope_dir(self, agent_id: str, session_id: str) -> Path | None:
        return self.homes.scope_dir(agent_id, session_id)
