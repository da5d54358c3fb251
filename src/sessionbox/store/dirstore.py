"""``dir:///path``: a whole deployment as plain directories, git-friendly and readable.

The catalog (agents, sessions, and everything else other features keep there)
stays in SQL: a SQLite file ``<path>/catalog.db``, so this store *is* a
``SqliteStore`` whose volumes all happen to be directories::

    <path>/catalog.db
    <path>/agents/<agent>/sessions/<session>/files/...
    <path>/agents/<agent>/sessions/<session>/outputs/...
    <path>/agents/<agent>/sessions/<session>/snapshots/...
    <path>/agents/<agent>/applets/...
"""

from __future__ import annotations

from pathlib import Path

from sessionbox.errors import InvalidInput
from sessionbox.store.sqlite import SqliteStore
from sessionbox.types import Limits

CATALOG = "catalog.db"


def dir_path_from_url(url: str) -> Path:
    """``dir:///relative`` or ``dir:////absolute``, as for ``sqlite:///``."""
    if not url.startswith("dir:///") or url == "dir:///":
        raise InvalidInput(f"a directory store URL is dir:///<path>: {url!r}")
    return Path(url.removeprefix("dir:///"))


class DirectoryStore(SqliteStore):
    def __init__(self, url: str, limits: Limits, *, synchronous: str = "NORMAL") -> None:
        root = dir_path_from_url(url).absolute()
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(f"sqlite:///{root / CATALOG}", limits, synchronous=synchronous)
        self.url = url
        self.dir_root = root
