"""Versioned schema migrations: ``<dialect>/NNNN_name.sql``, applied in order.

Each store applies the pending files inside one transaction under its own
lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory lock), recording
them in ``schema_migrations``. A runner of a few lines over plain SQL keeps the
schema readable as SQL; a migration framework would bring an ORM for DDL we
write by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    folder = resources.files(__package__).joinpath(dialect)
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            version, _, rest = item.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), item.read_text()))
    return sorted(found, key=lambda m: m.version)


CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
