"""The catalog and volume plumbing both SQL stores share.

Subclasses provide connections (``_read_tx``/``_write_tx``, which also retry
and translate driver errors) and a dialect; everything that is SQL lives here
or in ``_volume.py``, written once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sessionbox.errors import Exists, NotFound, SessionNotFound, Unavailable
from sessionbox.ids import Mode, SessionType
from sessionbox.store import _invariants
from sessionbox.store._dialect import Dialect
from sessionbox.store._volume import SqlVolume
from sessionbox.store.base import (
    CHUNK_BYTES,
    SESSION_VOLUMES,
    Entry,
    Limits,
    SessionRecord,
    Usage,
    VolumeKey,
    VolumeReader,
    VolumeWriter,
)

T = TypeVar("T")
_SESSION_COLUMNS = "agent_id, id, mode, type, created_at, last_active_at, expires_at"
_ACTIVITY_RESOLUTION = timedelta(seconds=60)
_NO_VOLUME = -1  # an agent volume nobody has written yet: reads see it empty


def _fetch_one(sql: str, params: tuple[Any, ...], conn: Any) -> Any:
    return conn.execute(sql, params).fetchone()


class SqlStore:
    dialect: Dialect
    url: str

    def __init__(self, url: str, limits: Limits) -> None:
        self.url = url
        self.limits = limits

    # -- provided by subclasses ------------------------------------------------

    def _read_tx(self, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError

    def _write_tx(self, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError

    # -- volumes -----------------------------------------------------------------

    def _locate(self, conn: Any, volume: VolumeKey, *, lock: bool) -> tuple[int, Usage]:
        """The volume's row id and the usage of everything its owner holds."""
        d = self.dialect
        now = d.ts(datetime.now(UTC))
        if volume.session_id is None:
            row = conn.execute(
                d.sql(
                    "SELECT v.id, v.bytes_used, v.entry_count FROM volumes v WHERE v.agent_id = ? "
                    "AND v.session_pk IS NULL AND v.kind = ?" + d.for_update
                ),
                (volume.agent_id, volume.kind),
            ).fetchone()
            if row is not None:
                return row[0], Usage(row[1], row[2])
            if not lock:
                return _NO_VOLUME, Usage(0, 0)
            conn.execute(
                d.sql("INSERT INTO agents (id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                (volume.agent_id, now),
            )
            row = conn.execute(
                d.sql("INSERT INTO volumes (agent_id, kind) VALUES (?, ?) RETURNING id"),
                (volume.agent_id, volume.kind),
            ).fetchone()
            return row[0], Usage(0, 0)
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
            if datetime.now(UTC) - last_active > _ACTIVITY_RESOLUTION:
                conn.execute(
                    d.sql("UPDATE sessions SET last_active_at = ? WHERE pk = ?"), (now, rows[0][4])
                )
        return target[0], Usage(sum(r[2] for r in rows), sum(r[3] for r in rows))

    def view(self, volume: VolumeKey, fn: Callable[[VolumeReader], T]) -> T:
        def run(conn: Any) -> T:
            vid, usage = self._locate(conn, volume, lock=False)
            return fn(SqlVolume(conn, self.dialect, vid, usage=usage))

        return self._read_tx(run)

    def update(self, volume: VolumeKey, fn: Callable[[VolumeWriter], T]) -> T:
        def run(conn: Any) -> T:
            vid, usage = self._locate(conn, volume, lock=True)
            vol = SqlVolume(conn, self.dialect, vid, usage=usage, limits=self.limits)
            result = fn(vol)
            grown_bytes, grown_entries = vol.pending_usage()
            if grown_bytes or grown_entries:
                conn.execute(
                    self.dialect.sql(
                        "UPDATE volumes SET bytes_used = bytes_used + ?, "
                        "entry_count = entry_count + ? WHERE id = ?"
                    ),
                    (grown_bytes, grown_entries, vid),
                )
            return result

        return self._write_tx(run)

    def read_chunks(self, volume: VolumeKey, entry: Entry, start: int, end: int) -> Iterator[bytes]:
        if entry.content_hash is None or start >= end:
            return
        sql = self.dialect.sql("SELECT data FROM blob_chunks WHERE hash = ? AND seq = ?")
        for seq in range(start // CHUNK_BYTES, (end - 1) // CHUNK_BYTES + 1):
            row = self._read_tx(functools.partial(_fetch_one, sql, (entry.content_hash, seq)))
            if row is None:
                raise Unavailable(f"content of {entry.path} changed while it was being read")
            base = seq * CHUNK_BYTES
            yield bytes(row[0])[max(start - base, 0) : end - base]

    def check_invariants(self, agent_id: str | None = None) -> list[str]:
        """Violations of the store's invariants (all agents, or one); empty when sound."""
        return self._read_tx(lambda conn: _invariants.check(conn, self.dialect, agent_id))

    # -- catalog -------------------------------------------------------------------

    def _session(self, row: Any) -> SessionRecord:
        d = self.dialect
        return SessionRecord(
            agent_id=row[0],
            id=row[1],
            mode=row[2],
            type=row[3],
            created_at=d.from_ts(row[4]),
            last_active_at=d.from_ts(row[5]),
            expires_at=d.from_ts(row[6]) if row[6] is not None else None,
        )

    def create_session(
        self,
        agent_id: str,
        session_id: str,
        mode: Mode,
        type_: SessionType,
        expires_at: datetime | None = None,
    ) -> SessionRecord:
        d = self.dialect
        now = datetime.now(UTC)

        def run(conn: Any) -> SessionRecord:
            conn.execute(
                d.sql("INSERT INTO agents (id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                (agent_id, d.ts(now)),
            )
            # An expired session nobody pruned yet gives its id back.
            conn.execute(
                d.sql("DELETE FROM sessions WHERE agent_id = ? AND id = ? AND expires_at <= ?"),
                (agent_id, session_id, d.ts(now)),
            )
            row = conn.execute(
                d.sql(
                    "INSERT INTO sessions (agent_id, id, mode, type, created_at, last_active_at, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING pk"
                ),
                (
                    agent_id,
                    session_id,
                    mode,
                    type_,
                    d.ts(now),
                    d.ts(now),
                    d.ts(expires_at) if expires_at else None,
                ),
            ).fetchone()
            if row is None:
                raise Exists(f"session {session_id!r} already exists")
            d.executemany(
                conn,
                "INSERT INTO volumes (agent_id, session_pk, kind) VALUES (?, ?, ?)",
                [(agent_id, row[0], kind) for kind in SESSION_VOLUMES],
            )
            return SessionRecord(agent_id, session_id, mode, type_, now, now, expires_at)

        return self._write_tx(run)

    def get_session(self, agent_id: str, session_id: str) -> SessionRecord:
        d = self.dialect
        row = self._read_tx(
            lambda conn: conn.execute(
                d.sql(
                    f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE agent_id = ? AND id = ? "
                    "AND (expires_at IS NULL OR expires_at > ?)"
                ),
                (agent_id, session_id, d.ts(datetime.now(UTC))),
            ).fetchone()
        )
        if row is None:
            raise SessionNotFound(f"no session {session_id!r} for agent {agent_id!r}")
        return self._session(row)

    def list_sessions(
        self,
        agent_id: str,
        *,
        limit: int,
        after: str | None = None,
        mode: Mode | None = None,
        type_: SessionType | None = None,
    ) -> list[SessionRecord]:
        d = self.dialect
        sql = (
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE agent_id = ? AND id > ? "
            "AND (expires_at IS NULL OR expires_at > ?)"
        )
        params: list[Any] = [agent_id, after or "", d.ts(datetime.now(UTC))]
        if mode is not None:
            sql += " AND mode = ?"
            params.append(mode)
        if type_ is not None:
            sql += " AND type = ?"
            params.append(type_)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        rows = self._read_tx(lambda conn: conn.execute(d.sql(sql), tuple(params)).fetchall())
        return [self._session(row) for row in rows]

    def delete_session(self, agent_id: str, session_id: str) -> None:
        d = self.dialect

        def run(conn: Any) -> int:
            cur = conn.execute(
                d.sql("DELETE FROM sessions WHERE agent_id = ? AND id = ?"), (agent_id, session_id)
            )
            return int(cur.rowcount)

        if self._write_tx(run) == 0:
            raise SessionNotFound(f"no session {session_id!r} for agent {agent_id!r}")

    def list_agents(self, *, limit: int, after: str | None = None) -> list[str]:
        d = self.dialect
        rows = self._read_tx(
            lambda conn: conn.execute(
                d.sql("SELECT id FROM agents WHERE id > ? ORDER BY id LIMIT ?"),
                (after or "", limit),
            ).fetchall()
        )
        return [row[0] for row in rows]

    def delete_agent(self, agent_id: str) -> None:
        d = self.dialect

        def run(conn: Any) -> int:
            return int(conn.execute(d.sql("DELETE FROM agents WHERE id = ?"), (agent_id,)).rowcount)

        if self._write_tx(run) == 0:
            raise NotFound(f"no agent {agent_id!r}")
