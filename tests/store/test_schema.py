"""What the schema itself guarantees, below the service layer."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
import pytest

import sessionbox
from sessionbox.config import Settings
from sessionbox.store import open_store
from sessionbox.store.sqlite import SqliteStore

LIST_SQL = (
    "SELECT path FROM entries WHERE volume_id = {p} AND parent = {p} AND name > {p} "
    "ORDER BY name LIMIT {p}"
)
SUBTREE_SQL = "DELETE FROM entries WHERE volume_id = {p} AND path > {p} AND path < {p}"


def test_sqlite_plans_use_the_indexes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'plan.db'}", Settings(data_dir=tmp_path))
    assert isinstance(store, SqliteStore)
    conn = sqlite3.connect(store.path)
    try:
        listing = " ".join(
            str(row)
            for row in conn.execute(
                "EXPLAIN QUERY PLAN " + LIST_SQL.format(p="?"), (1, "/", "", 10)
            )
        )
        subtree = " ".join(
            str(row)
            for row in conn.execute(
                "EXPLAIN QUERY PLAN " + SUBTREE_SQL.format(p="?"), (1, "/d/", "/d0")
            )
        )
    finally:
        conn.close()
        store.close()
    assert "entries_children" in listing and "SCAN" not in listing
    # entries is a rowid table since 0012: its (volume_id, path) key is an index of its own.
    assert "sqlite_autoindex_entries" in subtree and "SCAN" not in subtree


def test_postgres_plans_use_the_indexes(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_entries_per_session=10**6)
    box = sessionbox.Sessionbox(open_store(postgres_url, settings), settings)
    record = box.create_session("plan-agent")
    files = box.session("plan-agent", record.id).files
    for d in range(20):
        for f in range(100):
            files.write(f"/d{d}/f{f}", b"")
    box.close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("ANALYZE entries")
        volume = conn.execute(
            "SELECT v.id FROM volumes v JOIN sessions s ON s.pk = v.session_pk "
            "WHERE s.id = %s AND v.kind = 'files'",
            (record.id,),
        ).fetchone()
        assert volume is not None
        listing = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + LIST_SQL.format(p="%s"), (volume[0], "/d3", "", 10)
            )
        )
        subtree = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + SUBTREE_SQL.format(p="%s"), (volume[0], "/d3/", "/d30")
            )
        )
    assert "entries_children" in listing and "Seq Scan" not in listing
    index_cond = [line for line in subtree.splitlines() if "Index Cond" in line]
    assert index_cond and "path >" in index_cond[0] and "Seq Scan" not in subtree


@pytest.mark.parametrize("bad", ["relative", "/a//b", "/trailing/", "/"])
def test_path_check_constraint_on_sqlite(tmp_path: Path, bad: str) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}", Settings(data_dir=tmp_path))
    store.close()
    conn = sqlite3.connect(tmp_path / "c.db")
    conn.execute("INSERT INTO agents VALUES ('a', 0)")
    conn.execute("INSERT INTO volumes (agent_id, kind) VALUES ('a', 'applets')")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO entries (volume_id, path, parent, name, id, is_directory, created_at, "
            "updated_at) VALUES (1, ?, '/', 'x', 'id', 1, 0, 0)",
            (bad,),
        )
    conn.close()


@pytest.mark.parametrize("bad", ["relative", "/a//b", "/trailing/", "/"])
def test_path_check_constraint_on_postgres(postgres_url: str, tmp_path: Path, bad: str) -> None:
    open_store(postgres_url, Settings(data_dir=tmp_path)).close()
    with psycopg.connect(postgres_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO agents VALUES ('schema-check') ON CONFLICT DO NOTHING")
        volume = conn.execute(
            "INSERT INTO volumes (agent_id, kind) VALUES ('schema-check', 'applets') RETURNING id"
        ).fetchone()
        assert volume is not None
        conn.execute(
            "INSERT INTO entries (volume_id, path, parent, name, id, is_directory, created_at, "
            "updated_at) VALUES (%s, %s, '/', 'x', gen_random_uuid(), true, now(), now())",
            (volume[0], bad),
        )


def test_directories_hold_no_content(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'd.db'}", Settings(data_dir=tmp_path))
    store.close()
    conn = sqlite3.connect(tmp_path / "d.db")
    conn.execute("INSERT INTO agents VALUES ('a', 0)")
    conn.execute("INSERT INTO volumes (agent_id, kind) VALUES ('a', 'applets')")
    conn.execute("INSERT INTO blobs VALUES ('h', 0, 1, NULL)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO entries (volume_id, path, parent, name, id, is_directory, blob_hash, "
            "created_at, updated_at) VALUES (1, '/d', '/', 'd', 'id', 1, 'h', 0, 0)"
        )
    conn.close()


def test_async_library_mirrors_the_sync_one(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        box = sessionbox.open_async(
            f"sqlite:///{tmp_path / 'a.db'}", settings=Settings(data_dir=tmp_path)
        )
        record = await box.create_session("agent")
        session = box.session("agent", record.id)
        await session.files.write("/a/b.txt", "hello")
        assert await session.files.read_text("/a/b.txt") == "hello"
        names = [e.name for e in await session.files.list("/a")]
        await box.close()
        return names

    assert asyncio.run(scenario()) == ["b.txt"]
