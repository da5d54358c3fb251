"""Where an in-process create's time goes: the one SQLite statement vs the Python around it.

The bench's own pattern (``file_path``/``content``, 10 files per directory), raw sqlite3 next
to it; the statement is timed by wrapping ``sqlite._insert_counted``. Prints p50 µs of the
creates that took the one-statement path (9 in 10: the first file of a directory makes it).

Usage: .venv/bin/python bench/create_split.py [N] [ROUNDS]
"""

import sys
import tempfile
import time
from pathlib import Path

import sessionbox.store.sqlite as sqlite_store
from sessionbox.bench.inprocess import InProcess
from sessionbox.bench.rawdb import RawSqlite
from sessionbox.bench.workloads import content, file_path

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
statement: list[float] = []
_insert = sqlite_store._insert_counted


def timed_insert(row, conn):
    start = time.perf_counter()
    try:
        return _insert(row, conn)
    finally:
        statement.append(time.perf_counter() - start)


def p50(values):
    return round(sorted(values)[len(values) // 2] * 1e6, 1)


sqlite_store._insert_counted = timed_insert
for _ in range(ROUNDS):
    data_dir = Path(tempfile.mkdtemp())
    contenders = [RawSqlite(), InProcess("sb", f"sqlite:///{data_dir}/sb.db", data_dir)]
    figures = {}
    for contender in contenders:
        statement.clear()
        took = []
        for i in range(N):
            path, body = file_path(i), content(i)
            start = time.perf_counter()
            contender.create(path, body)
            took.append(time.perf_counter() - start)
        figures[contender.name] = p50([t for i, t in enumerate(took) if i % 10])
    figures["statement"] = p50(statement)
    figures["python"] = round(figures["sb"] - figures["statement"], 1)
    print(figures)
