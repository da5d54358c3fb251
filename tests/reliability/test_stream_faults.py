"""A raw read whose content cannot be fetched answers 503 problem+json, not a cut 200.

Regression: the first chunk was fetched after the 200 status line was sent, so
a database error there ("response already started") broke the connection.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import httpx
import pytest

from sessionbox.paths import VPath
from sessionbox.store import _safefs
from sessionbox.types import VolumeKey
from tests.conftest import LiveServer
from tests.reliability.conftest import new_session
from tests.store.test_invariants import corrupt


@pytest.mark.parametrize("live_server", ["sqlite", "postgres"], indirect=True)
def test_missing_content_on_a_raw_read_is_a_clean_503(
    live_server: LiveServer, http: httpx.Client
) -> None:
    base = new_session(http)
    data = (b"unique content for this test " + base.encode()) * 100  # in a blob, not inline
    written = http.put(f"{base}/f.bin", content=data)
    assert written.status_code == 201, written.text
    digest = http.get(f"{base}/f.bin").json()
    store = live_server.app.state.store
    entry_hash = store.view(_volume(base), lambda vol: vol.stat(VPath(digest["path"])).content_hash)
    try:
        corrupt(store, "DELETE FROM blob_chunks WHERE hash = ?", (entry_hash,))
        answer = http.get(f"{base}/f.bin", params={"raw": "1"})
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"]
    finally:  # leave the shared database sound for the invariant checks of other tests
        corrupt(store, "DELETE FROM entries WHERE blob_hash = ?", (entry_hash,))
        corrupt(store, "DELETE FROM blobs WHERE hash = ?", (entry_hash,))


@pytest.mark.parametrize("live_server", ["directory"], indirect=True)
def test_an_io_error_on_a_raw_read_of_a_directory_store_is_a_clean_503(
    live_server: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory store's counterpart: the disk fails on the first read of the file."""
    base = new_session(http)
    assert http.put(f"{base}/f.bin", content=b"on disk").status_code == 201
    failed: list[int] = []

    def broken(fd: int, start: int, end: int) -> Iterator[bytes]:
        failed.append(fd)
        raise OSError(errno.EIO, os.strerror(errno.EIO))
        yield b""  # a generator, as the real one

    monkeypatch.setattr(_safefs, "read_pieces", broken)
    answer = http.get(f"{base}/f.bin", params={"raw": "1"})
    assert failed, "the fault was not reached"
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"]
    monkeypatch.undo()
    assert http.get(f"{base}/f.bin", params={"raw": "1"}).content == b"on disk"


def _volume(base: str) -> VolumeKey:
    parts = base.split("/")  # /v1/agents/<a>/sessions/<s>/fs
    return VolumeKey(parts[3], parts[5], "files")
