"""Stores: where volumes and the session catalog live. ``open_store`` picks one by URL.

A store is a database (the catalog, and the volumes kept in its rows) given the
homes of its volumes when it is made (``_homes.py``): ``dir:///`` keeps every
volume as a host directory, the database stores keep unsafe sessions' files there.
"""

from __future__ import annotations

from pathlib import Path

from sessionbox.config import Settings
from sessionbox.errors import InvalidInput
from sessionbox.store._homes import DirTree, UnsafeScopes
from sessionbox.store.base import Store
from sessionbox.types import Limits

__all__ = ["Store", "limits_from", "open_store"]


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_file_bytes=settings.max_file_bytes,
        session_quota_bytes=settings.session_quota_bytes,
        max_entries_per_session=settings.max_entries_per_session,
    )


def dir_path_from_url(url: str) -> Path:
    """``dir:///relative`` or ``dir:////absolute``, as for ``sqlite:///``."""
    if not url.startswith("dir:///") or url == "dir:///":
        raise InvalidInput(f"a directory store URL is dir:///<path>: {url!r}")
    return Path(url.removeprefix("dir:///"))


def open_store(url: str, settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """Open the store a URL names (``sqlite:///``, ``postgresql://``, ``dir:///``), migrated."""
    settings = settings or Settings()
    limits = limits_from(settings)
    scopes = UnsafeScopes(settings.scopes_dir.absolute())
    store: Store
    if url.startswith("sqlite:///"):
        from sessionbox.store.sqlite import SqliteStore

        store = SqliteStore(url, limits, homes=scopes, synchronous=settings.sqlite_synchronous)
    elif url.startswith(("postgresql://", "postgres://")):
        try:
            from sessionbox.store.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise InvalidInput(
                "PostgreSQL needs the extra: pip install 'sessionbox[postgres]'"
            ) from exc
        store = PostgresStore(url, limits, homes=scopes, pool_max=settings.pg_pool_max)
    elif url.startswith("dir:///"):
        from sessionbox.store.sqlite import SqliteStore

        # The catalog stays in SQL (a SQLite file beside the volumes); every volume is
        # a directory, unsafe sessions' files included.
        root = dir_path_from_url(url).absolute()
        root.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(
            url,
            limits,
            homes=DirTree(root),
            path=root / DirTree.CATALOG,
            synchronous=settings.sqlite_synchronous,
        )
    else:
        raise InvalidInput(f"unknown store URL {url!r}: use sqlite:///, postgresql:// or dir:///")
    if migrate:
        store.migrate()
    return store
