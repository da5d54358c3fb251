"""A raw read whose content cannot be fetched answers 503 problem+json, not a cut 200.

Regression: the first chunk was fetched after the 200 status line was sent, so
a database error there ("response already started") broke the connection.
"""

from __future__ import annotations

import httpx

from sessionbox.paths import VPath
from sessionbox.store.base import VolumeKey
from tests.conftest import LiveServer
from tests.reliability.conftest import new_session
from tests.store.test_invariants import corrupt


def test_missing_content_on_a_raw_read_is_a_clean_503(
    live_server: LiveServer, http: httpx.Client
) -> None:
    base = new_session(http)
    data = b"unique content for this test " + base.encode()
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


def _volume(base: str) -> VolumeKey:
    parts = base.split("/")  # /v1/agents/<a>/sessions/<s>/fs
    return VolumeKey(parts[3], parts[5], "files")
