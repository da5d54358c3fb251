"""Migration 0012 moves small files into their rows and leaves large ones in blobs.

A database is built at schema 0009 with raw SQL (as a store of that version wrote
it), then opened: the store migrates it, every file reads back byte for byte, the
invariants (small inline, large in blobs) hold, and GC then collects the blobs the
small files no longer need.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

import sessionbox
from sessionbox.config import Settings
from sessionbox.content import CHUNK_BYTES, content_hash
from sessionbox.services.retention import RetentionService
from sessionbox.store import migrations, open_store
from sessionbox.store._sqlvolume import INLINE_BYTES
from sessionbox.store.sqlite import _statements
from tests import _postgres

FILES = {
    "/d/small.txt": b"small file kept in a blob before 0012",
    "/d/large.bin": bytes(range(256)) * ((CHUNK_BYTES + 5000) // 256),  # two chunks
    "/edge.txt": b"e" * INLINE_BYTES,  # the largest size kept inline
}
Row = tuple[str, dict[str, Any]]


def old_rows(ts: Any, ident: Callable[[int], Any]) -> Iterator[Row]:
    """What a store at schema 0009 held: one session, a directory and three files."""
    yield "agents", {"id": "old-agent", "created_at": ts}
    yield (
        "sessions",
        {
            "agent_id": "old-agent",
            "id": "safe_named_old",
            "mode": "safe",
            "type": "named",
            "created_at": ts,
            "last_active_at": ts,
        },
    )
    for kind in ("files", "outputs", "snapshots"):
        used = (sum(len(v) for v in FILES.values()), len(FILES) + 1) if kind == "files" else (0, 0)
        yield (
            "volumes",
            {
                "agent_id": "old-agent",
                "session_pk": 1,
                "kind": kind,
                "bytes_used": used[0],
                "entry_count": used[1],
            },
        )
    for data in FILES.values():
        chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
        digest = content_hash(data)
        yield "blobs", {"hash": digest, "size": len(data), "chunk_count": len(chunks)}
        for seq, piece in enumerate(chunks):
            yield "blob_chunks", {"hash": digest, "seq": seq, "data": piece}
    tree: dict[str, bytes | None] = {"/d": None, **FILES}
    for n, (path, data) in enumerate(tree.items()):
        parent, name = path.rsplit("/", 1)
        yield (
            "entries",
            {
                "volume_id": 1,
                "path": path,
                "parent": parent or "/",
                "name": name,
                "id": ident(n + 1),
                "is_directory": data is None,
                "size_bytes": len(data or b""),
                "version": 1,
                "blob_hash": content_hash(data) if data is not None else None,
                "created_at": ts,
                "updated_at": ts,
            },
        )


def _insert(execute: Callable[[str, tuple[Any, ...]], Any], mark: str, row: Row) -> None:
    table, values = row
    marks = ", ".join(mark for _ in values)
    execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})", tuple(values.values()))


def sqlite_at_0009(tmp_path: Path) -> str:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(migrations.CREATE_TABLE)
    for migration in migrations.migrations("sqlite"):
        if migration.version <= 9:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, 'then')",
                (migration.version, migration.name),
            )
    for row in old_rows(0, lambda n: str(uuid.UUID(int=n))):
        _insert(conn.execute, "?", row)
    conn.close()
    return f"sqlite:///{db}"


@pytest.fixture
def postgres_at_0009() -> Iterator[str]:
    admin = _postgres.admin_url()
    url = _postgres.create_database(admin)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(migrations.CREATE_TABLE)
            for migration in migrations.migrations("postgres"):
                if migration.version <= 9:
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations VALUES (%s, %s, 'then')",
                        (migration.version, migration.name),
                    )
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            for row in old_rows(epoch, lambda n: uuid.UUID(int=n)):
                _insert(lambda sql, args: conn.execute(sql.encode(), args), "%s", row)
        yield url
    finally:
        _postgres.drop_database(admin, url)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_migration_0012_keeps_every_file(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        sqlite_at_0009(tmp_path)
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_at_0009")
    )
    settings = Settings(data_dir=tmp_path, store=url)
    box = sessionbox.Sessionbox(open_store(url, settings), settings)
    try:
        files = box.session("old-agent", "safe_named_old").files
        for path, data in FILES.items():
            assert files.read(path) == data
            assert b"".join(files.read_stream(path, 3)) == data[3:]
        assert box.store.check_invariants("old-agent") == []  # type: ignore[attr-defined]
        retention = RetentionService(box.store, settings)
        retention.gc(grace=timedelta(hours=1))
        swept = retention.gc(grace=timedelta(0))
        assert swept.removed == 2  # the small files' blobs; the large one is still used
        assert files.read("/d/large.bin") == FILES["/d/large.bin"]
        assert box.store.check_invariants("old-agent") == []  # type: ignore[attr-defined]
    finally:
        box.close()
