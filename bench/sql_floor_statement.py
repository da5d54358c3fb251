"""Pure-SQL cost of the one-statement create (migration 0014) and of variants without
each of its parts, on the real schema, interleaved with raw sqlite3 (bench/RESULTS.md,
"Stop 13"). No sessionbox Python: the statement is run with fixed parameters.

Usage: .venv/bin/python bench/sql_floor_statement.py [N] [ROUNDS]
"""

import sqlite3
import sys
import tempfile
import time

from sessionbox.store import migrations
from sessionbox.store._sqlvolume import _INSERT_ENTRY
from sessionbox.store.sqlite import _NEW_FILE, _statements

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
DATA = b"x" * 1024
folder = tempfile.mkdtemp()
scripts = {m.version: m.sql for m in migrations.migrations("sqlite")}
TRIGGER = scripts[14]


def connect(name):
    conn = sqlite3.connect(f"{folder}/{name}.db", isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


raw = connect("raw")
raw.execute(
    "CREATE TABLE files (path TEXT PRIMARY KEY, parent TEXT NOT NULL,"
    " version INTEGER NOT NULL, data BLOB NOT NULL)"
)
raw.execute("CREATE INDEX files_parent ON files (parent)")


def raw_create(path):
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("INSERT INTO files VALUES (?, ?, 1, ?)", (path, path.rsplit("/", 1)[0], DATA))
    raw.execute("COMMIT")


def cut(text, start, end, instead=""):
    """``text`` with the part from ``start`` up to ``end`` replaced."""
    a = text.index(start)
    return text[:a] + instead + text[text.index(end, a) :]


def schema(name, trigger=TRIGGER, extra=""):
    conn = connect(name)
    conn.execute("BEGIN")
    for version, sql in sorted(scripts.items()):
        for statement in _statements(trigger if version == 14 else sql):
            conn.execute(statement)
    conn.execute("COMMIT")
    conn.executescript(
        "INSERT INTO agents (id, created_at) VALUES ('a', 0);"
        "INSERT INTO sessions (agent_id, id, mode, type, created_at, last_active_at)"
        " VALUES ('a', 's', 'safe', 'named', 0, 0);"
        "INSERT INTO volumes (agent_id, session_pk, kind) VALUES"
        " ('a', 1, 'files'), ('a', 1, 'outputs'), ('a', 1, 'snapshots');" + extra
    )
    for top in "abcdefgh":
        conn.execute(
            "INSERT INTO entries (volume_id, path, parent, name, id, is_directory, created_at,"
            " updated_at) VALUES (1, ?, '/', ?, 'x', 1, 0, 0)",
            (f"/{top}", top),
        )
        for i in range(100):
            conn.execute(
                "INSERT INTO entries (volume_id, path, parent, name, id, is_directory,"
                " created_at, updated_at) VALUES (1, ?, ?, ?, 'x', 1, 0, 0)",
                (f"/{top}/d{i}", f"/{top}", f"d{i}"),
            )
    return conn


def one_statement(conn):
    def create(path):
        parent, name = path.rsplit("/", 1)
        before = conn.total_changes
        conn.execute(
            _NEW_FILE,
            (
                "a",
                "s",
                "files",
                10**15 - 60 * 10**6,
                1 << 40,
                10**7,
                parent,
                name,
                path,
                "0190-0000-7000-8000-000000000000",
                0,
                0,
                1024,
                "text/plain",
                "{}",
                1,
                "h" * 64,
                10**15,
                10**15,
                DATA,
            ),
        )
        assert conn.total_changes != before

    return create


def transaction(conn):
    """Stop 12's create: five statements in one write transaction."""

    def create(path):
        parent, name = path.rsplit("/", 1)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "SELECT v.id, v.kind, v.bytes_used, v.entry_count, s.pk, s.last_active_at"
            " FROM sessions s JOIN volumes v ON v.session_pk = s.pk"
            " WHERE s.agent_id = 'a' AND s.id = 's' ORDER BY v.id"
        ).fetchall()
        conn.execute(
            _INSERT_ENTRY.replace("VALUES (", "SELECT ").removesuffix(")")
            + " WHERE EXISTS (SELECT 1 FROM entries"
            " WHERE volume_id = 1 AND path = ? AND is_directory)"
            " ON CONFLICT DO NOTHING",
            (
                1,
                parent,
                name,
                path,
                "0190-0000-7000-8000-000000000000",
                0,
                0,
                1024,
                "text/plain",
                "{}",
                1,
                "h" * 64,
                0,
                0,
                DATA,
                parent,
            ),
        )
        conn.execute(
            "UPDATE volumes SET bytes_used = bytes_used + 1024,"
            " entry_count = entry_count + 1 WHERE id = 1"
        )
        conn.execute("COMMIT")

    return create


# Stop 14: entries keyed by (volume_id, parent, name) alone, without the (volume_id, path)
# index; the trigger finds the parent by its own parent and name, computed in SQL.
_PARENT_PARENT = (
    "coalesce(nullif(rtrim(rtrim(NEW.parent, replace(NEW.parent, '/', '')), '/'), ''), '/')"
)
_PARENT_NAME = "substr(NEW.parent, length(rtrim(NEW.parent, replace(NEW.parent, '/', ''))) + 1)"
REKEYED = (
    "DROP TABLE entries;"
    "CREATE TABLE entries (volume_id INTEGER NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,"
    " path TEXT NOT NULL CHECK (substr(path, 1, 1) = '/' AND path <> '/'"
    " AND substr(path, -1) <> '/' AND instr(path, '//') = 0 AND instr(path, char(0)) = 0),"
    " parent TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL, is_directory INTEGER NOT NULL,"
    " is_readonly INTEGER NOT NULL DEFAULT 0, size_bytes INTEGER NOT NULL DEFAULT 0,"
    " content_type TEXT, meta TEXT NOT NULL DEFAULT '{}', version INTEGER NOT NULL DEFAULT 1,"
    " blob_hash TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " inline_data BLOB, UNIQUE (volume_id, parent, name),"
    " CHECK (is_directory = (blob_hash IS NULL)),"
    " CHECK (inline_data IS NULL OR length(inline_data) = size_bytes));"
    "CREATE INDEX entries_blob ON entries (blob_hash)"
    " WHERE blob_hash IS NOT NULL AND inline_data IS NULL;"
    "DROP TRIGGER new_files_insert;"
    + TRIGGER[TRIGGER.index("CREATE TRIGGER") :].replace(
        "p.path = NEW.parent", f"p.parent = {_PARENT_PARENT} AND p.name = {_PARENT_NAME}"
    )
)
assert "p.parent = coalesce" in REKEYED
touch = ("    UPDATE sessions", "END;")
counters = ("    -- changes()", "END;")
variants = {
    "as landed": one_statement(schema("landed")),
    "without the activity touch": one_statement(schema("touch", cut(TRIGGER, *touch))),
    "without the session join": one_statement(
        schema(
            "session",
            cut(
                cut(TRIGGER, "      AND (SELECT SUM", "      AND (NEW.parent"),
                "    FROM sessions s JOIN",
                "      AND (NEW.parent",
                "    FROM volumes v WHERE v.id = 1\n",
            ),
        )
    ),
    "without the quota sums": one_statement(
        schema("quota", cut(TRIGGER, "      AND (SELECT SUM", "      AND (NEW.parent"))
    ),
    "without the counters and the touch": one_statement(
        schema("counters", cut(TRIGGER, *counters))
    ),
    "without the children index": one_statement(
        schema("index", extra="DROP INDEX entries_children;")
    ),
    "keyed by (volume_id, parent, name) alone (stop 14)": one_statement(
        schema("rekeyed", extra=REKEYED)
    ),
    "with a covering children index (stop 14)": one_statement(
        schema(
            "covering",
            extra="DROP INDEX entries_children; CREATE INDEX entries_children ON entries"
            " (volume_id, parent, name, path, id, is_directory, is_readonly, size_bytes,"
            " content_type, meta, version, blob_hash, created_at, updated_at);",
        )
    ),
    "five statements (stop 12)": transaction(schema("tx")),
}
for r in range(ROUNDS):
    row = {"raw": raw_create}
    row.update(variants)
    out = {}
    for label, create in row.items():
        took = []
        for i in range(N):
            path = f"/{'abcdefgh'[r % 8]}/d{i % 100}/{label[:3]}{r}_{i}.txt"
            start = time.perf_counter()
            create(path)
            took.append(time.perf_counter() - start)
        out[label] = round(sorted(took)[N // 2] * 1e6, 1)
    print(out)
