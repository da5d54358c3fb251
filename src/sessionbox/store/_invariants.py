"""What must hold in a SQL store after any crash: the checks behind ``check_invariants``.

Each check is one SQL statement, so it sees one consistent snapshot even on
PostgreSQL's READ COMMITTED; each returns the offending rows. The crash, fault
and concurrency suites call them after every kill and every storm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sessionbox.store._dialect import Dialect
from sessionbox.store._sqlvolume import INLINE_BYTES

_LIMIT = 20  # offending rows reported per check; one is enough to fail

# (name, SQL with ``{agent}`` where an optional agent filter on volume ``v`` goes)
CHECKS: tuple[tuple[str, str], ...] = (
    (
        "entry whose parent directory is missing",
        "SELECT e.volume_id, e.path FROM entries e JOIN volumes v ON v.id = e.volume_id "
        "WHERE e.parent <> '/' {agent} AND NOT EXISTS (SELECT 1 FROM entries p "
        "WHERE p.volume_id = e.volume_id AND p.path = e.parent AND p.is_directory)",
    ),
    (
        "entry whose parent/name disagree with its path",
        "SELECT e.volume_id, e.path, e.parent, e.name FROM entries e "
        "JOIN volumes v ON v.id = e.volume_id WHERE (CASE WHEN e.parent = '/' "
        "THEN '/' || e.name ELSE e.parent || '/' || e.name END) <> e.path {agent}",
    ),
    (
        "file whose blob is missing or of another size",
        "SELECT e.volume_id, e.path, e.size_bytes, b.size FROM entries e "
        "JOIN volumes v ON v.id = e.volume_id LEFT JOIN blobs b ON b.hash = e.blob_hash "
        "WHERE NOT e.is_directory AND e.inline_data IS NULL {agent} "
        "AND (b.hash IS NULL OR b.size <> e.size_bytes)",
    ),
    (
        "file kept inline though large, or in a blob though small",
        "SELECT e.volume_id, e.path, e.size_bytes FROM entries e "
        "JOIN volumes v ON v.id = e.volume_id WHERE NOT e.is_directory {agent} "
        f"AND (e.inline_data IS NULL) = (e.size_bytes <= {INLINE_BYTES})",
    ),
    (
        "directory with content",
        "SELECT e.volume_id, e.path FROM entries e JOIN volumes v ON v.id = e.volume_id "
        "WHERE e.is_directory {agent} AND (e.blob_hash IS NOT NULL OR e.size_bytes <> 0)",
    ),
    (
        "volume counters that differ from its entries",
        "SELECT v.id, v.bytes_used, v.entry_count, coalesce(sum(e.size_bytes), 0), "
        "count(e.path) FROM volumes v LEFT JOIN entries e ON e.volume_id = v.id "
        "WHERE 1 = 1 {agent} GROUP BY v.id, v.bytes_used, v.entry_count "
        "HAVING v.bytes_used <> coalesce(sum(e.size_bytes), 0) OR v.entry_count <> count(e.path)",
    ),
    (
        "blob whose chunks are missing, extra or of the wrong total size",
        "SELECT b.hash, b.size, b.chunk_count, c.n, c.total FROM blobs b LEFT JOIN "
        "(SELECT hash, count(*) AS n, sum(length(data)) AS total, max(seq) AS top "
        "FROM blob_chunks GROUP BY hash) c ON c.hash = b.hash "
        "WHERE c.n IS NULL OR c.n <> b.chunk_count OR c.top <> b.chunk_count - 1 "
        "OR c.total <> b.size",
    ),
    (
        "chunk without its blob",
        "SELECT c.hash, c.seq FROM blob_chunks c "
        "WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = c.hash)",
    ),
    (
        "session volume without its session, or a session without its three volumes",
        "SELECT v.id, v.session_pk FROM volumes v WHERE v.session_pk IS NOT NULL {agent} "
        "AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.pk = v.session_pk) "
        "UNION ALL SELECT s.pk, count(v.id) FROM sessions s "
        "LEFT JOIN volumes v ON v.session_pk = s.pk GROUP BY s.pk HAVING count(v.id) <> 3",
    ),
    (
        "row whose agent is missing",
        "SELECT 'session', s.agent_id FROM sessions s "
        "WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = s.agent_id) "
        "UNION ALL SELECT 'volume', v.agent_id FROM volumes v "
        "WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = v.agent_id)",
    ),
)


DIR_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "SQL entry in a directory-backed volume",
        "SELECT e.volume_id, e.path FROM entries e JOIN volumes v ON v.id = e.volume_id "
        "WHERE 1 = 1 {agent}",
    ),
    (
        "sidecar or usage row of a volume that is gone",
        "SELECT 'entry', d.volume_id FROM dir_entries d "
        "WHERE NOT EXISTS (SELECT 1 FROM volumes v WHERE v.id = d.volume_id) "
        "UNION ALL SELECT 'usage', u.volume_id FROM dir_usage u "
        "WHERE NOT EXISTS (SELECT 1 FROM volumes v WHERE v.id = u.volume_id)",
    ),
    (
        "negative usage counter",
        "SELECT u.volume_id, u.bytes_used, u.entry_count FROM dir_usage u "
        "JOIN volumes v ON v.id = u.volume_id WHERE (u.bytes_used < 0 OR u.entry_count < 0) "
        "{agent}",
    ),
)
"""What holds for a ``dir:///`` store on top of ``CHECKS`` (which then see no content rows).

Not checked, on purpose: ``dir_usage`` against the disk (a cache, recounted when
older than a few seconds, so native edits are counted too); sidecar rows whose
file is gone (a hint, trusted only while its stat stamp matches, so a crash
between unlink and commit is harmless); session directories without a session
(cleared before a session id is used again).
"""


def check(conn: Any, dialect: Dialect, agent_id: str | None) -> list[str]:
    """Every violation found, as ``"<check>: <row>"`` lines; empty when all hold."""
    return _run(conn, dialect, agent_id, CHECKS)


def check_dirs(conn: Any, dialect: Dialect, agent_id: str | None, root: Path) -> list[str]:
    """The checks of a directory store: its SQL catalog, then each session's directory."""
    problems = _run(conn, dialect, agent_id, DIR_CHECKS)
    where = " WHERE agent_id = ?" if agent_id is not None else ""
    params: tuple[Any, ...] = (agent_id,) if agent_id is not None else ()
    sidecar = conn.execute(
        dialect.sql(
            "SELECT d.volume_id, d.path, d.parent FROM dir_entries d "
            f"JOIN volumes v ON v.id = d.volume_id{where.replace('agent_id', 'v.agent_id')}"
        ),
        params,
    )
    for volume_id, path, parent in sidecar.fetchall():
        if (path.rsplit("/", 1)[0] or "/") != parent:
            problems.append(
                f"sidecar row whose parent disagrees with its path: {(volume_id, path, parent)}"
            )
    rows = conn.execute(dialect.sql(f"SELECT agent_id, id FROM sessions{where}"), params)
    for agent, session in rows.fetchall():
        if not (root / "agents" / agent / "sessions" / session).is_dir():
            problems.append(f"session without its directory: {(agent, session)}")
    return problems


def _run(
    conn: Any, dialect: Dialect, agent_id: str | None, checks: tuple[tuple[str, str], ...]
) -> list[str]:
    problems: list[str] = []
    for name, sql in checks:
        agent_filter = "AND v.agent_id = ?" if agent_id is not None and "{agent}" in sql else ""
        params: tuple[Any, ...] = (agent_id,) if agent_filter else ()
        text = dialect.sql(sql.replace("{agent}", agent_filter) + f" LIMIT {_LIMIT}")
        problems.extend(f"{name}: {tuple(row)}" for row in conn.execute(text, params).fetchall())
    return problems
