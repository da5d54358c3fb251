"""Disk full on SQLite and on a directory store: 507, the previous content intact, no 500.

Regression: SQLite rolls a transaction back by itself on SQLITE_FULL; the store's
own ROLLBACK then raised "no transaction is active" and turned the 507 into a 500.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from sessionbox.store import _safefs
from sessionbox.store.sqlite import SqliteStore
from tests.conftest import LiveServer, http_client, small_limits
from tests.reliability.conftest import assert_invariants, new_session

OCTET = {"content-type": "application/octet-stream"}


def test_sqlite_disk_full_is_507_and_keeps_the_previous_content(tmp_path: Path) -> None:
    settings = small_limits(tmp_path)
    server = LiveServer(settings).start()
    store = server.app.state.store
    assert isinstance(store, SqliteStore)
    with http_client(server.url, timeout=60) as client:
        base = new_session(client)
        assert client.put(f"{base}/keep.txt", content=b"v1", headers=OCTET).status_code == 201
        pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
        # The database may grow by a few pages, not by the 2 MiB the next write needs.
        store._writer.execute(f"PRAGMA max_page_count = {pages + 8}")
        big = secrets.token_bytes(2 * 1024 * 1024)
        for path in ("/keep.txt", "/new.bin"):
            full = client.put(f"{base}{path}", content=big, headers=OCTET)
            assert full.status_code == 507, full.text
            assert full.headers["content-type"] == "application/problem+json"
            assert full.json()["code"] == "storage_full"
        assert client.get(f"{base}/keep.txt", params={"raw": "1"}).content == b"v1"
        assert client.get(f"{base}/new.bin").status_code == 404
        store._writer.execute("PRAGMA max_page_count = 1073741823")
        assert client.put(f"{base}/new.bin", content=big, headers=OCTET).status_code == 201
    server.stop()
    assert_invariants(settings.store_url, tmp_path)


class _FullDisk:
    """``os`` for ``_safefs``, whose ``write`` hits ENOSPC once ``full`` (after a partial write)."""

    def __init__(self) -> None:
        self.full = False
        self.hits = 0

    def write(self, fd: int, data: Any) -> int:
        if not self.full:
            return os.write(fd, data)
        self.hits += 1
        if self.hits % 2:  # the disk fills part-way through the file, as a real one does
            return os.write(fd, bytes(data[: max(len(data) // 2, 1)]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def test_directory_disk_full_is_507_and_keeps_the_previous_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "dirstore"
    settings = small_limits(tmp_path, store=f"dir:///{root}")
    disk = _FullDisk()
    monkeypatch.setattr(_safefs, "os", disk)
    server = LiveServer(settings).start()
    try:
        with http_client(server.url, timeout=60) as client:
            base = new_session(client)
            assert client.put(f"{base}/keep.txt", content=b"v1", headers=OCTET).status_code == 201
            disk.full = True
            big = secrets.token_bytes(2 * 1024 * 1024)
            for path in ("/keep.txt", "/new.bin", "/sub/new.bin"):
                full = client.put(f"{base}{path}", content=big, headers=OCTET)
                assert full.status_code == 507, full.text
                assert full.headers["content-type"] == "application/problem+json"
                assert full.json()["code"] == "storage_full"
            assert disk.hits > 0
            assert client.get(f"{base}/keep.txt", params={"raw": "1"}).content == b"v1"
            assert client.get(f"{base}/new.bin").status_code == 404
            assert client.get(f"{base}/sub/new.bin").status_code == 404
            assert [p.name for p in root.rglob(f"{_safefs.TMP_PREFIX}*")] == []
            disk.full = False
            assert client.put(f"{base}/new.bin", content=big, headers=OCTET).status_code == 201
            assert client.get(f"{base}/new.bin", params={"raw": "1"}).content == big
    finally:
        server.stop()
    assert_invariants(settings.store_url, tmp_path)
