"""``check_invariants`` holds on a sound store and names each kind of corruption."""

from __future__ import annotations

import shutil
import sqlite3
from typing import Any

import psycopg
import pytest

from sessionbox.content import Content
from sessionbox.paths import VPath
from sessionbox.store.base import SelfChecking, Store
from sessionbox.store.sqlite import SqliteStore
from sessionbox.types import VolumeKey


def corrupt(store: Store, sql: str, params: tuple[Any, ...]) -> None:
    """Change the database behind the store's back, as a bug or a torn write would."""
    if isinstance(store, SqliteStore):  # dir:/// too: its catalog is a SQLite file
        with sqlite3.connect(store.path) as conn:
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute(sql, params)
        return
    with psycopg.connect(store.url, autocommit=True) as pg:
        pg.execute("SET session_replication_role = replica")  # FKs off for this session
        pg.execute(sql.replace("?", "%s"), params)


# Corruptions of SQL-held content (a directory store holds none), and of the directory
# store's sidecar: each runs on the stores it applies to.
SQL_STORES = pytest.mark.parametrize("settings_and_store", ["sqlite", "postgres"], indirect=True)
DIR_STORE = pytest.mark.parametrize("settings_and_store", ["directory"], indirect=True)


@pytest.fixture
def filled(store: Store, volume: VolumeKey) -> VolumeKey:
    def fill(vol: Any) -> None:
        vol.write(VPath("/a/b/c.txt"), Content.of(b"x" * (1024 * 1024 + 7)), mode="create")
        vol.write(VPath("/a/d.txt"), Content.of(b"hello"), mode="create")

    store.update(volume, fill)
    return volume


def problems(store: Store, agent: str) -> list[str]:
    assert isinstance(store, SelfChecking)
    return store.check_invariants(agent)


def test_a_sound_store_has_no_violations(store: Store, filled: VolumeKey, agent: str) -> None:
    assert problems(store, agent) == []


@SQL_STORES
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DELETE FROM entries WHERE path = '/a/b' AND volume_id IN ({v})", "parent directory"),
        ("UPDATE volumes SET bytes_used = bytes_used + 1 WHERE id IN ({v})", "counters"),
        ("UPDATE volumes SET entry_count = entry_count - 1 WHERE id IN ({v})", "counters"),
        (
            "UPDATE entries SET size_bytes = 4 WHERE path = '/a/b/c.txt' AND volume_id IN ({v})",
            "blob is missing or of another size",
        ),
        (
            "UPDATE entries SET inline_data = NULL WHERE path = '/a/d.txt' AND volume_id IN ({v})",
            "in a blob though small",
        ),
        (
            "UPDATE entries SET parent = '/x' WHERE path = '/a/d.txt' AND volume_id IN ({v})",
            "parent",
        ),
    ],
)
def test_each_corruption_is_reported(
    store: Store, filled: VolumeKey, agent: str, sql: str, expected: str
) -> None:
    volumes = "SELECT id FROM volumes WHERE agent_id = ?"
    corrupt(store, sql.replace("{v}", volumes), (agent,))
    found = problems(store, agent)
    assert any(expected in line for line in found), found


@SQL_STORES
def test_a_missing_chunk_is_reported(store: Store, filled: VolumeKey, agent: str) -> None:
    entry = store.view(filled, lambda vol: vol.stat(VPath("/a/b/c.txt")))
    corrupt(store, "DELETE FROM blob_chunks WHERE hash = ? AND seq = 1", (entry.content_hash,))
    try:
        assert any("chunks" in line for line in problems(store, agent))
    finally:  # the PostgreSQL database is shared by the run: leave it sound
        corrupt(store, "DELETE FROM entries WHERE blob_hash = ?", (entry.content_hash,))
        corrupt(store, "DELETE FROM blobs WHERE hash = ?", (entry.content_hash,))
        corrupt(store, "DELETE FROM blob_chunks WHERE hash = ?", (entry.content_hash,))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE dir_entries SET parent = '/x' WHERE path = '/a/d.txt'", "whose parent"),
        ("UPDATE dir_usage SET bytes_used = -5", "negative usage"),
        (
            "INSERT INTO entries (volume_id, path, parent, name, is_directory, size_bytes, id, "
            "version, created_at, updated_at) SELECT id, '/z', '/', 'z', 1, 0, 'x', 1, 0, 0 "
            "FROM volumes WHERE agent_id = ?",
            "SQL entry in a directory-backed volume",
        ),
    ],
)
@DIR_STORE
def test_each_dir_corruption_is_reported(
    store: Store, filled: VolumeKey, agent: str, sql: str, expected: str
) -> None:
    corrupt(store, sql, (agent,) if "?" in sql else ())
    found = problems(store, agent)
    assert any(expected in line for line in found), found


@DIR_STORE
def test_a_missing_session_directory_is_reported(
    store: Store, filled: VolumeKey, agent: str
) -> None:
    files = store.scope_dir(agent, str(filled.session_id))
    assert files is not None
    shutil.rmtree(files.parent)  # the session's directory, its three volumes in it
    assert any("session without its directory" in line for line in problems(store, agent))
