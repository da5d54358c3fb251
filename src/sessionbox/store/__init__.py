"""Stores: where volumes and the session catalog live. ``open_store`` picks one by URL."""

from __future__ import annotations

from sessionbox.config import Settings
from sessionbox.errors import InvalidInput
from sessionbox.store._sqlstore import SqlStore
from sessionbox.store.base import Store
from sessionbox.types import Limits

__all__ = ["Store", "limits_from", "open_store"]


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_file_bytes=settings.max_file_bytes,
        session_quota_bytes=settings.session_quota_bytes,
        max_entries_per_session=settings.max_entries_per_session,
    )


def open_store(url: str, settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """Open the store a URL names (``sqlite:///``, ``postgresql://``, ``dir:///``), migrated."""
    settings = settings or Settings()
    limits = limits_from(settings)
    store: Store
    if url.startswith("sqlite:///"):
        from sessionbox.store.sqlite import SqliteStore

        store = SqliteStore(url, limits, synchronous=settings.sqlite_synchronous)
    elif url.startswith(("postgresql://", "postgres://")):
        try:
            from sessionbox.store.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise InvalidInput(
                "PostgreSQL needs the extra: pip install 'sessionbox[postgres]'"
            ) from exc
        store = PostgresStore(url, limits, pool_max=settings.pg_pool_max)
    elif url.startswith("dir:///"):
        from sessionbox.store.dirstore import DirectoryStore

        store = DirectoryStore(url, limits, synchronous=settings.sqlite_synchronous)
    else:
        raise InvalidInput(f"unknown store URL {url!r}: use sqlite:///, postgresql:// or dir:///")
    if isinstance(store, SqlStore) and store.dir_root is None:
        store.scopes_dir = settings.scopes_dir.absolute()  # unsafe sessions' files volumes
    if migrate:
        store.migrate()
    return store
