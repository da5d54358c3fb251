"""Snapshots over every store: rotation, history, restore, handles, limits, concurrency."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

import sessionbox
from sessionbox.client.local import SessionHandle
from sessionbox.config import Settings
from sessionbox.errors import (
    PreconditionFailed,
    QuotaExceeded,
    SessionNotFound,
    SnapshotConflict,
    SnapshotInvalid,
    SnapshotNotFound,
    TooLarge,
)
from sessionbox.paths import ROOT
from sessionbox.services.snapshots import parse_envelope, validate_envelope
from sessionbox.store.base import Store
from sessionbox.types import VolumeKey


@pytest.fixture
def session(box: sessionbox.Sessionbox, agent: str) -> SessionHandle:
    record = box.create_session(agent)
    return box.session(agent, record.id)


def _files(store: Store, session: SessionHandle) -> list[str]:
    volume = VolumeKey(session.agent_id, session.id, "snapshots")
    return sorted(e.path for e in store.view(volume, lambda v: v.list(ROOT, limit=100)))


def test_no_snapshot_is_snapshot_not_found(session: SessionHandle) -> None:
    with pytest.raises(SnapshotNotFound):
        session.snapshots.latest()
    with pytest.raises(SnapshotNotFound):
        session.snapshots.get(1)
    with pytest.raises(SnapshotNotFound):
        session.snapshots.restore(1)
    assert session.snapshots.history() == []
    assert session.snapshots.clear() == 0


def test_save_then_latest_round_trips(session: SessionHandle) -> None:
    data = {"filters": [{"col": "a", "op": "="}], "font": "inter", "n": 1.5, "ü": None}
    saved = session.snapshots.save(data, version=2, updated_at=1000, handle_key="/d.csv")
    latest = session.snapshots.latest()
    assert (latest.version, latest.updated_at, latest.handle_key, latest.data) == (
        2,
        1000,
        "/d.csv",
        data,
    )
    assert latest.etag == saved.etag
    assert json.loads(latest.raw)["updatedAt"] == 1000


def test_rotation_keeps_the_newest_three_in_history(
    session: SessionHandle, settings_and_store: tuple[Settings, Store]
) -> None:
    store = settings_and_store[1]
    for stamp in range(1, 8):
        session.snapshots.save({"i": stamp}, updated_at=stamp * 10)
    assert session.snapshots.latest().data == {"i": 7}
    history = session.snapshots.history()
    assert [h.updated_at for h in history] == [60, 50, 40]
    assert all(h.size_bytes > 0 for h in history)
    assert session.snapshots.get(50).data == {"i": 5}
    assert session.snapshots.get(70).data == {"i": 7}
    with pytest.raises(SnapshotNotFound):
        session.snapshots.get(30)
    assert _files(store, session) == [
        "/latest.json",
        "/snapshot-40.json",
        "/snapshot-50.json",
        "/snapshot-60.json",
    ]


def test_history_limit_is_a_setting(
    settings_and_store: tuple[Settings, Store], agent: str, tmp_path: Any
) -> None:
    settings, store = settings_and_store
    box = sessionbox.Sessionbox(store, settings.model_copy(update={"snapshot_history": 1}))
    session = box.session(agent, box.create_session(agent).id)
    for stamp in (1, 2, 3):
        session.snapshots.save({"i": stamp}, updated_at=stamp)
    assert [h.updated_at for h in session.snapshots.history()] == [2]


def test_restore_swaps_latest_into_history(session: SessionHandle) -> None:
    for stamp in (10, 20, 30):
        session.snapshots.save({"i": stamp}, updated_at=stamp)
    restored = session.snapshots.restore(10)
    assert restored.data == {"i": 10}
    assert session.snapshots.latest().updated_at == 10
    assert [h.updated_at for h in session.snapshots.history()] == [30, 20]
    # restoring the latest is a no-op
    assert session.snapshots.restore(10).updated_at == 10
    # a newer save rotates the restored one back into history
    session.snapshots.save({"i": 40}, updated_at=40)
    assert [h.updated_at for h in session.snapshots.history()] == [30, 20, 10]


def test_restore_prunes_when_an_old_latest_joins_a_full_history(session: SessionHandle) -> None:
    for stamp in (50, 10, 20, 30, 40):
        session.snapshots.save({"i": stamp}, updated_at=stamp)
    # latest is 40 (last write wins), history newest three by updatedAt: 50, 30, 20
    assert session.snapshots.latest().updated_at == 40
    assert [h.updated_at for h in session.snapshots.history()] == [50, 30, 20]
    session.snapshots.restore(20)
    assert session.snapshots.latest().updated_at == 20
    assert [h.updated_at for h in session.snapshots.history()] == [50, 40, 30]


def test_same_updated_at_is_idempotent_or_conflict(session: SessionHandle) -> None:
    first = session.snapshots.save({"a": 1}, updated_at=5)
    again = session.snapshots.save({"a": 1}, updated_at=5)
    assert again.etag == first.etag
    assert session.snapshots.history() == []
    with pytest.raises(SnapshotConflict):
        session.snapshots.save({"a": 2}, updated_at=5)
    session.snapshots.save({"a": 3}, updated_at=6)
    with pytest.raises(SnapshotConflict):  # 5 is in the history now
        session.snapshots.save({"a": 1}, updated_at=5)
    assert session.snapshots.latest().data == {"a": 3}


def test_older_updated_at_is_accepted_last_write_wins(session: SessionHandle) -> None:
    session.snapshots.save({"a": 1}, updated_at=100)
    session.snapshots.save({"a": 0}, updated_at=50)
    assert session.snapshots.latest().updated_at == 50
    assert [h.updated_at for h in session.snapshots.history()] == [100]


def test_if_match(session: SessionHandle) -> None:
    with pytest.raises(PreconditionFailed):
        session.snapshots.save({"a": 1}, updated_at=1, etag='"nope"')
    first = session.snapshots.save({"a": 1}, updated_at=1)
    second = session.snapshots.save({"a": 2}, updated_at=2, etag=first.etag)
    assert second.etag != first.etag
    with pytest.raises(PreconditionFailed):  # the other tab still holds the first ETag
        session.snapshots.save({"a": 3}, updated_at=3, etag=first.etag)
    with pytest.raises(PreconditionFailed):
        session.snapshots.restore(1, etag=first.etag)
    assert session.snapshots.latest().data == {"a": 2}
    session.snapshots.save({"a": 4}, updated_at=4, etag="*")


def test_clear_removes_latest_and_history(session: SessionHandle) -> None:
    for stamp in (1, 2, 3):
        session.snapshots.save({"i": stamp}, updated_at=stamp)
    assert session.snapshots.clear() == 3
    with pytest.raises(SnapshotNotFound):
        session.snapshots.latest()
    assert session.snapshots.history() == []


def test_resolve_handle(session: SessionHandle) -> None:
    session.files.write("/data/sales.csv", "a,b\n1,2\n")
    session.snapshots.save({}, updated_at=1, handle_key="/data/sales.csv")
    handle = session.snapshots.latest(resolve_handle=True).handle
    assert handle is not None
    assert handle.exists
    assert handle.etag == session.files.get_info("/data/sales.csv").etag
    session.files.remove("/data/sales.csv")
    handle = session.snapshots.latest(resolve_handle=True).handle
    assert handle is not None
    assert (handle.exists, handle.etag, handle.code) == (False, None, "missing_handle")
    for stamp, key in enumerate(("active-handle", "/data", "/../x"), start=10):
        session.snapshots.save({}, updated_at=stamp, handle_key=key)
        handle = session.snapshots.latest(resolve_handle=True).handle
        assert handle is not None
        assert handle.code == "missing_handle"
    session.snapshots.save({}, updated_at=99)
    assert session.snapshots.latest(resolve_handle=True).handle is None
    assert session.snapshots.latest().handle is None


@pytest.mark.parametrize(
    "envelope",
    [
        [],
        "x",
        {},
        {"version": 1, "updatedAt": 1},
        {"version": 1, "updatedAt": 1, "snapshot": []},
        {"version": 1, "updatedAt": 1, "snapshot": "s"},
        {"version": "1", "updatedAt": 1, "snapshot": {}},
        {"version": True, "updatedAt": 1, "snapshot": {}},
        {"version": 1.0, "updatedAt": 1, "snapshot": {}},
        {"version": 1, "updatedAt": -1, "snapshot": {}},
        {"version": 1, "updatedAt": 2**53, "snapshot": {}},
        {"version": 1, "updatedAt": "2024-01-01", "snapshot": {}},
        {"version": 1, "updatedAt": 1, "snapshot": {}, "handleKey": 7},
        {"version": 1, "updatedAt": 1, "snapshot": {}, "handleKey": "x" * 5000},
        {"version": 1, "updatedAt": 1, "snapshot": {}, "extra": 1},
    ],
)
def test_bad_envelopes_are_refused(envelope: Any) -> None:
    with pytest.raises(SnapshotInvalid):
        validate_envelope(envelope)


def test_unencodable_snapshots_are_refused(session: SessionHandle) -> None:
    for bad in ({"s": "\ud800"}, {"f": float("nan")}, {"o": object()}):
        with pytest.raises(SnapshotInvalid):
            session.snapshots.save(bad, updated_at=1)
    with pytest.raises(SnapshotNotFound):
        session.snapshots.latest()


def test_parse_envelope_refuses_hostile_bodies() -> None:
    from sessionbox.errors import InvalidInput

    for raw in (b"{", b"\xff\xfe", b'{"version": NaN}', b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(InvalidInput):
            parse_envelope(raw, max_bytes=10**7)
    with pytest.raises(TooLarge):
        parse_envelope(b" " * 101, max_bytes=100)


def test_size_limit_and_session_quota(
    settings_and_store: tuple[Settings, Store], agent: str
) -> None:
    settings, store = settings_and_store
    small = settings.model_copy(update={"snapshot_max_bytes": 1000})
    box = sessionbox.Sessionbox(store, small)
    session = box.session(agent, box.create_session(agent).id)
    with pytest.raises(TooLarge):
        session.snapshots.save({"x": "y" * 1000}, updated_at=1)
    # the quota counts every volume of the session: fill the files first
    big = sessionbox.Sessionbox(store, settings.model_copy(update={"snapshot_max_bytes": 10**7}))
    session = big.session(agent, big.create_session(agent).id)
    chunk = b"x" * (settings.max_file_bytes - 1)
    written = 0
    while written + len(chunk) <= settings.session_quota_bytes - 1024:
        session.files.write(f"/f{written}", chunk)
        written += len(chunk)
    with pytest.raises(QuotaExceeded):
        session.snapshots.save({"x": "y" * (settings.max_file_bytes - 100)}, updated_at=1)
    with pytest.raises(SnapshotNotFound):
        session.snapshots.latest()


def test_missing_session(box: sessionbox.Sessionbox, agent: str) -> None:
    ghost = box.session(agent, "safe_named_ghost")
    with pytest.raises(SessionNotFound):
        ghost.snapshots.save({}, updated_at=1)
    with pytest.raises(SessionNotFound):
        ghost.snapshots.latest()


def test_deleting_the_session_deletes_its_snapshots(box: sessionbox.Sessionbox, agent: str) -> None:
    record = box.create_session(agent, "safe_named_gone")
    box.session(agent, record.id).snapshots.save({"a": 1}, updated_at=1)
    box.delete_session(agent, record.id)
    box.create_session(agent, "safe_named_gone")
    with pytest.raises(SnapshotNotFound):
        box.session(agent, record.id).snapshots.latest()


def test_concurrent_saves_lose_nothing_acknowledged(session: SessionHandle) -> None:
    """N writers race; a reader checks every latest it sees is whole and history is bounded."""
    writers, per_writer, limit = 6, 8, 3
    acknowledged: list[int] = []
    lock = threading.Lock()
    bad: list[str] = []
    done = threading.Event()

    def write(worker: int) -> None:
        for i in range(per_writer):
            stamp = 1000 + i * writers + worker
            try:
                session.snapshots.save(
                    {"worker": worker, "i": i, "pad": "p" * 200}, updated_at=stamp
                )
            except Exception as exc:
                bad.append(repr(exc))
                continue
            with lock:
                acknowledged.append(stamp)

    def read() -> None:
        while not done.is_set():
            try:
                latest = session.snapshots.latest()
            except SnapshotNotFound:
                continue
            if latest.data.get("pad") != "p" * 200 or latest.updated_at < 1000:
                bad.append(f"torn latest {latest.raw[:80]!r}")
            if len(session.snapshots.history()) > limit:
                bad.append("history over the limit")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    assert bad == []
    assert len(acknowledged) == writers * per_writer
    stored = {session.snapshots.latest().updated_at} | {
        h.updated_at for h in session.snapshots.history()
    }
    assert len(stored) == limit + 1
    # the latest is one acknowledged save; the newest acknowledged ones all survive
    assert session.snapshots.latest().updated_at in acknowledged
    assert set(sorted(acknowledged)[-limit:]) <= stored


def test_async_library_mirrors_snapshots(box: sessionbox.Sessionbox, agent: str) -> None:
    from sessionbox.client.local import _AsyncProxy

    async def scenario() -> list[int]:
        abox: Any = _AsyncProxy(box)
        record = await abox.create_session(agent)
        session = abox.session(agent, record.id)
        await session.snapshots.save({"x": 1}, updated_at=1)
        await session.snapshots.save({"x": 2}, updated_at=2)
        assert (await session.snapshots.latest()).data == {"x": 2}
        return [h.updated_at for h in await session.snapshots.history()]

    assert asyncio.run(scenario()) == [1]
