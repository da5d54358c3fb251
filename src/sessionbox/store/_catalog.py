"""The catalog half of a SQL store: sessions, agents, tokens, retention and blob GC.

``SqlStore`` mixes it in and provides what it needs: the transactions (from the
subclasses) and the store's homes (``_homes.py``), which keep the host directories
of directory-backed sessions in step with their rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sessionbox.errors import Exists, NotFound, SessionNotFound, TokenNotFound
from sessionbox.ids import Mode, SessionType
from sessionbox.store._dialect import Dialect
from sessionbox.store._homes import Homes
from sessionbox.types import SESSION_VOLUMES, SessionRecord, TokenRecord

T = TypeVar("T")
_SESSION_COLUMNS = "agent_id, id, mode, type, created_at, last_active_at, expires_at"
_TOKEN_COLUMNS = "id, agent_id, mode, session_id, read_only, created_at, expires_at, revoked_at"
# A blob no file needs: files kept inline hold its hash, not a reference to it.
_UNREFERENCED = (
    "NOT EXISTS (SELECT 1 FROM entries e WHERE e.blob_hash = blobs.hash AND e.inline_data IS NULL)"
)


def fetch_one(sql: str, params: tuple[Any, ...], conn: Any) -> Any:
    return conn.execute(sql, params).fetchone()


def fetch_all(sql: str, params: tuple[Any, ...], conn: Any) -> list[Any]:
    return list(conn.execute(sql, params).fetchall())


class SqlCatalog:
    dialect: Dialect
    homes: Homes

    # -- provided by subclasses ------------------------------------------------

    def _read_tx(self, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError

    def _write_tx(self, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError

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
        return self._write_tx(
            lambda conn: self._insert_session(conn, agent_id, session_id, mode, type_, expires_at)
        )

    def _insert_session(
        self,
        conn: Any,
        agent_id: str,
        session_id: str,
        mode: Mode,
        type_: SessionType,
        expires_at: datetime | None,
    ) -> SessionRecord:
        d = self.dialect
        now = datetime.now(UTC)
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
        # A directory left by a deleted or expired session must not come back.
        self.homes.forget_session(agent_id, session_id)
        self.homes.make_session(agent_id, session_id)
        d.executemany(
            conn,
            "INSERT INTO volumes (agent_id, session_pk, kind) VALUES (?, ?, ?)",
            [(agent_id, row[0], kind) for kind in SESSION_VOLUMES],
        )
        return SessionRecord(agent_id, session_id, mode, type_, now, now, expires_at)

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
        self.homes.forget_session(agent_id, session_id)

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
        self.homes.forget_agent(agent_id)

    # -- retention and garbage collection ------------------------------------------

    def stale_sessions(
        self, *, idle_before: datetime | None, limit: int, after: tuple[str, str] | None = None
    ) -> list[SessionRecord]:
        d = self.dialect
        now = d.ts(datetime.now(UTC))
        idle = d.ts(idle_before) if idle_before is not None else None
        start = after or ("", "")
        rows = self._read_tx(
            lambda conn: conn.execute(
                d.sql(
                    f"SELECT {_SESSION_COLUMNS} FROM sessions "
                    "WHERE (agent_id > ? OR (agent_id = ? AND id > ?)) "
                    "AND (expires_at <= ? OR last_active_at < ?) ORDER BY agent_id, id LIMIT ?"
                ),
                (start[0], start[0], start[1], now, idle, limit),
            ).fetchall()
        )
        return [self._session(row) for row in rows]

    def delete_stale_session(
        self, agent_id: str, session_id: str, *, idle_before: datetime | None
    ) -> bool:
        d = self.dialect
        now = d.ts(datetime.now(UTC))
        idle = d.ts(idle_before) if idle_before is not None else None

        def run(conn: Any) -> int:
            cur = conn.execute(
                d.sql(
                    "DELETE FROM sessions WHERE agent_id = ? AND id = ? "
                    "AND (expires_at <= ? OR last_active_at < ?)"
                ),
                (agent_id, session_id, now, idle),
            )
            return int(cur.rowcount)

        if self._write_tx(run) != 1:
            return False
        self.homes.forget_session(agent_id, session_id)  # its scope and dir:/// volumes go too
        return True

    def gc_mark(self) -> int:
        d = self.dialect

        def run(conn: Any) -> int:
            cur = conn.execute(
                d.sql(
                    "UPDATE blobs SET orphaned_at = ? "
                    f"WHERE orphaned_at IS NULL AND {_UNREFERENCED}"
                ),
                (d.ts(datetime.now(UTC)),),
            )
            return int(cur.rowcount)

        return self._write_tx(run)

    def gc_sweep(self, marked_before: datetime, *, batch: int = 500) -> tuple[int, int]:
        d = self.dialect

        def run(conn: Any) -> tuple[int, int, int]:
            rows = conn.execute(
                d.sql(
                    "SELECT hash FROM blobs WHERE orphaned_at IS NOT NULL AND orphaned_at <= ? "
                    f"AND {_UNREFERENCED} ORDER BY hash LIMIT ?" + d.skip_locked
                ),
                (d.ts(marked_before), batch),
            ).fetchall()
            if not rows:
                return 0, 0, 0
            marks = ", ".join("?" for _ in rows)
            hashes = tuple(row[0] for row in rows)
            # Re-checked after locking: a writer that committed a reference since the
            # SELECT's snapshot keeps its blob.
            cur = conn.execute(
                d.sql(
                    f"DELETE FROM blobs WHERE hash IN ({marks}) AND {_UNREFERENCED} RETURNING size"
                ),
                hashes,
            )
            sizes = [int(row[0]) for row in cur.fetchall()]
            return len(rows), len(sizes), sum(sizes)

        removed = freed = 0
        while True:
            candidates, count, size = self._write_tx(run)
            removed += count
            freed += size
            if candidates < batch:
                return removed, freed

    def clear_dead_dirs(self) -> int:
        """Remove session directories whose session does not exist; how many went.

        A crash between creating a session's directories and committing its row (a
        create, an import) or between deleting the row and its directories leaves
        such debris: never read, but taking space. Inside a write transaction that
        also holds off new sessions (SQLite: the one writer; PostgreSQL: a SHARE
        lock on ``sessions``), so no session being created loses its directories.
        """
        if not self.homes.session_dirs():
            return 0  # the usual case costs no write transaction (nor a table lock)
        d = self.dialect

        def run(conn: Any) -> list[tuple[str, str]]:
            if d.hold_sessions:
                conn.execute(d.hold_sessions)
            dead = []
            for agent_id, session_ids in self.homes.session_dirs().items():
                rows = conn.execute(
                    d.sql("SELECT id FROM sessions WHERE agent_id = ?"), (agent_id,)
                ).fetchall()
                live = {row[0] for row in rows}
                dead += [(agent_id, sid) for sid in session_ids if sid not in live]
            for agent_id, sid in dead:
                self.homes.forget_session(agent_id, sid)
            return dead

        return len(self._write_tx(run))

    # -- resolve -------------------------------------------------------------------

    def open_session(
        self, agent_id: str, session_id: str, mode: Mode, type_: SessionType, *, create: bool
    ) -> tuple[SessionRecord, bool]:
        if not create:
            return self.get_session(agent_id, session_id), False
        d = self.dialect

        def run(conn: Any) -> tuple[SessionRecord, bool]:
            now = d.ts(datetime.now(UTC))
            row = conn.execute(
                d.sql(
                    "UPDATE sessions SET last_active_at = ? WHERE agent_id = ? AND id = ? "
                    f"AND (expires_at IS NULL OR expires_at > ?) RETURNING {_SESSION_COLUMNS}"
                ),
                (now, agent_id, session_id, now),
            ).fetchone()
            if row is not None:
                return self._session(row), False
            return self._insert_session(conn, agent_id, session_id, mode, type_, None), True

        try:
            return self._write_tx(run)
        except Exists:
            # Created by a concurrent resolve between our UPDATE and INSERT.
            return self._write_tx(run)

    # -- tokens --------------------------------------------------------------------

    def _token(self, row: Any) -> TokenRecord:
        d = self.dialect
        return TokenRecord(
            id=row[0],
            agent_id=row[1],
            mode=row[2],
            session_id=row[3],
            read_only=bool(row[4]),
            created_at=d.from_ts(row[5]),
            expires_at=d.from_ts(row[6]) if row[6] is not None else None,
            revoked_at=d.from_ts(row[7]) if row[7] is not None else None,
        )

    def create_token(self, token: TokenRecord, secret_hash: str) -> None:
        d = self.dialect
        self._write_tx(
            lambda conn: conn.execute(
                d.sql(
                    f"INSERT INTO tokens ({_TOKEN_COLUMNS}, secret_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    token.id,
                    token.agent_id,
                    token.mode,
                    token.session_id,
                    token.read_only,
                    d.ts(token.created_at),
                    d.ts(token.expires_at) if token.expires_at else None,
                    d.ts(token.revoked_at) if token.revoked_at else None,
                    secret_hash,
                ),
            )
        )

    def find_token(self, secret_hash: str) -> tuple[TokenRecord, str] | None:
        d = self.dialect
        row = self._read_tx(
            functools.partial(
                fetch_one,
                d.sql(f"SELECT {_TOKEN_COLUMNS}, secret_hash FROM tokens WHERE secret_hash = ?"),
                (secret_hash,),
            )
        )
        return (self._token(row), row[8]) if row is not None else None

    def list_tokens(
        self, *, limit: int, after: str | None = None, agent_id: str | None = None
    ) -> list[TokenRecord]:
        d = self.dialect
        sql = f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE id > ?"
        params: list[Any] = [after or ""]
        if agent_id is not None:
            sql += " AND agent_id = ?"
            params.append(agent_id)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        rows = self._read_tx(lambda conn: conn.execute(d.sql(sql), tuple(params)).fetchall())
        return [self._token(row) for row in rows]

    def revoke_token(self, token_id: str) -> TokenRecord:
        d = self.dialect

        def run(conn: Any) -> Any:
            return conn.execute(
                d.sql(
                    "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? "
                    f"RETURNING {_TOKEN_COLUMNS}"
                ),
                (d.ts(datetime.now(UTC)), token_id),
            ).fetchone()

        row = self._write_tx(run)
        if row is None:
            raise TokenNotFound(f"no token {token_id!r}")
        return self._token(row)
