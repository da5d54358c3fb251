"""``Store.stat`` and ``Store.list_dir`` answer exactly what a read transaction would.

SQL stores answer them in one joined statement and fall back to ``view`` whenever that
statement proves nothing; every outcome, errors included, must match ``view``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sessionbox.content import Content
from sessionbox.errors import NotADirectory, NotFound, SessionNotFound
from sessionbox.paths import ROOT, VPath
from sessionbox.store._sqlstore import SqlStore
from sessionbox.store.base import Store
from sessionbox.types import VolumeKey

PATHS = ["/", "/a", "/a/f.txt", "/a/sub", "/a/sub/deep", "/a/empty", "/b", "/missing", "/a/f.txt/x"]


def outcome(call: Any) -> Any:
    """What a call returns, or the type of error it raises (messages may differ)."""
    try:
        return call()
    except Exception as exc:
        return type(exc)


@pytest.fixture
def filled(store: Store, volume: VolumeKey) -> VolumeKey:
    def fill(v: Any) -> None:
        v.write(VPath("/a/f.txt"), Content.of(b"hello"), mode="create")
        v.write(VPath("/a/sub/deep"), Content.of(b"x" * 5000), mode="create")
        v.mkdir(VPath("/a/empty"))
        v.write(VPath("/b"), Content.of(b""), mode="create")
        for i in range(5):
            v.write(VPath(f"/a/n{i}"), Content.of(b"%d" % i), mode="create")

    store.update(volume, fill)
    return volume


@pytest.mark.parametrize("path", PATHS)
def test_stat_matches_a_read_transaction(store: Store, filled: VolumeKey, path: str) -> None:
    vpath = VPath(path)
    expected = outcome(lambda: store.view(filled, lambda v: v.stat(vpath)))
    assert outcome(lambda: store.stat(filled, vpath)) == expected


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("limit", "after"), [(1000, None), (2, None), (2, "n1"), (5, "sub")])
def test_list_matches_a_read_transaction(
    store: Store, filled: VolumeKey, path: str, limit: int, after: str | None
) -> None:
    vpath = VPath(path)
    expected = outcome(
        lambda: store.view(filled, lambda v: v.list(vpath, limit=limit, after=after))
    )
    assert outcome(lambda: store.list_dir(filled, vpath, limit=limit, after=after)) == expected


def test_the_errors_are_the_precise_ones(store: Store, filled: VolumeKey) -> None:
    with pytest.raises(NotFound):
        store.stat(filled, VPath("/missing"))
    with pytest.raises(NotADirectory):
        store.list_dir(filled, VPath("/a/f.txt"), limit=10)
    with pytest.raises(NotFound):
        store.list_dir(filled, VPath("/missing"), limit=10)
    assert store.list_dir(filled, VPath("/a/empty"), limit=10) == []
    assert store.stat(filled, ROOT).is_directory


def test_no_session_no_answer(store: Store, agent: str) -> None:
    gone = VolumeKey(agent, "safe_named_nobody", "files")
    with pytest.raises(SessionNotFound):
        store.stat(gone, VPath("/a"))
    with pytest.raises(SessionNotFound):
        store.list_dir(gone, ROOT, limit=10)
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.create_session(agent, "safe_named_over", "safe", "named", expires_at=past)
    expired = VolumeKey(agent, "safe_named_over", "files")
    with pytest.raises(SessionNotFound):
        store.stat(expired, VPath("/a"))
    with pytest.raises(SessionNotFound):
        store.list_dir(expired, ROOT, limit=10)


def test_an_expired_session_shows_nothing(store: Store, filled: VolumeKey) -> None:
    assert isinstance(store, SqlStore)
    past = datetime.now(UTC) - timedelta(seconds=1)
    store._write_tx(
        lambda conn: conn.execute(
            store.dialect.sql("UPDATE sessions SET expires_at = ? WHERE id = ?"),
            (store.dialect.ts(past), filled.session_id),
        )
    )
    with pytest.raises(SessionNotFound):
        store.stat(filled, VPath("/a/f.txt"))
    with pytest.raises(SessionNotFound):
        store.list_dir(filled, VPath("/a"), limit=10)
    with pytest.raises(SessionNotFound):
        store.read_file(filled, VPath("/a/f.txt"), max_bytes=100)


def test_another_sessions_files_are_not_seen(store: Store, filled: VolumeKey) -> None:
    other = store.create_session(filled.agent_id, "safe_named_other", "safe", "named")
    volume = VolumeKey(filled.agent_id, other.id, "files")
    with pytest.raises(NotFound):
        store.stat(volume, VPath("/a"))
    assert store.list_dir(volume, ROOT, limit=10) == []
    outputs = VolumeKey(filled.agent_id, filled.session_id, "outputs")
    with pytest.raises(NotFound):
        store.stat(outputs, VPath("/a"))
