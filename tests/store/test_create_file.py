"""``Store.create_file``: the most frequent write, on every store.

SQLite makes a small file in one statement (migration 0014's view and trigger);
every check that statement makes must refuse exactly what the locked path
refuses, with the same error, and change nothing when it does.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sessionbox.content import Content
from sessionbox.errors import (
    Exists,
    IsADirectory,
    NotADirectory,
    QuotaExceeded,
    SessionNotFound,
)
from sessionbox.paths import VPath
from sessionbox.store._sqlstore import SqlStore
from sessionbox.store._sqlvolume import INLINE_BYTES
from sessionbox.store.base import Store
from sessionbox.types import Change, VolumeKey, WriteMode

MiB = 1024 * 1024


def create(store: Store, volume: VolumeKey, path: str, data: bytes = b"hi") -> None:
    store.create_file(volume, VPath(path), Content.of(data), content_type="text/plain")


def write(
    store: Store, volume: VolumeKey, path: str, data: bytes, mode: WriteMode = "upsert"
) -> None:
    store.update(volume, lambda v: v.write(VPath(path), Content.of(data), mode=mode))


def usage(store: Store, volume: VolumeKey) -> tuple[int, int]:
    used = store.view(volume, lambda v: v.usage())
    return used.bytes_used, used.entry_count


def test_a_small_file_is_whole_and_counted(store: Store, volume: VolumeKey) -> None:
    store.update(volume, lambda v: v.mkdir(VPath("/d")))
    before = usage(store, volume)
    entry = store.create_file(
        volume,
        VPath("/d/f.txt"),
        Content.of(b"hello"),
        readonly=True,
        content_type="text/plain",
        meta={"k": 1},
    )
    stored, data = store.view(volume, lambda v: v.read(VPath("/d/f.txt"), max_bytes=100))
    assert data == b"hello"
    assert (stored.id, stored.etag, stored.size_bytes) == (entry.id, entry.etag, 5)
    assert (entry.is_readonly, entry.content_type, entry.meta, entry.version) == (
        True,
        "text/plain",
        {"k": 1},
        1,
    )
    assert entry.content_hash == Content.of(b"hello").hash
    assert usage(store, volume) == (before[0] + 5, before[1] + 1)
    assert isinstance(store, SqlStore) and store.check_invariants(volume.agent_id) == []


@pytest.mark.parametrize("size", [0, 1, INLINE_BYTES, INLINE_BYTES + 1, 2 * MiB])
def test_every_size_and_place(store: Store, volume: VolumeKey, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    create(store, volume, "/top", data)  # below the root
    create(store, volume, "/new/deep/f", data)  # missing parents are made
    store.update(volume, lambda v: v.mkdir(VPath("/d")))
    create(store, volume, "/d/f", data)  # below an existing directory
    for path in ("/top", "/new/deep/f", "/d/f"):
        assert store.read_bytes(volume, VPath(path), max_bytes=4 * MiB) == data
    assert store.view(volume, lambda v: v.stat(VPath("/new/deep"))).is_directory
    assert isinstance(store, SqlStore) and store.check_invariants(volume.agent_id) == []


def test_a_refused_create_changes_nothing(store: Store, volume: VolumeKey) -> None:
    write(store, volume, "/d/file", b"old")
    store.update(volume, lambda v: v.mkdir(VPath("/d/sub")))
    before = (
        usage(store, volume),
        store.view(volume, lambda v: list(v.walk(VPath("/"), with_content=True))),
    )
    with pytest.raises(Exists):
        create(store, volume, "/d/file", b"new")
    with pytest.raises(IsADirectory):
        create(store, volume, "/d/sub", b"new")
    with pytest.raises(NotADirectory):
        create(store, volume, "/d/file/below", b"new")
    with pytest.raises(NotADirectory):
        create(store, volume, "/d/file/below/deeper", b"new")
    after = (
        usage(store, volume),
        store.view(volume, lambda v: list(v.walk(VPath("/"), with_content=True))),
    )
    assert after == before


def test_no_session_no_file(store: Store, agent: str) -> None:
    missing = VolumeKey(agent, "safe_named_nobody", "files")
    with pytest.raises(SessionNotFound):
        create(store, missing, "/f")
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.create_session(agent, "safe_named_expired", "safe", "named", expires_at=past)
    with pytest.raises(SessionNotFound):
        create(store, VolumeKey(agent, "safe_named_expired", "files"), "/f")


def test_a_deleted_session_takes_no_more_files(store: Store, agent: str) -> None:
    store.create_session(agent, "safe_named_gone", "safe", "named")
    volume = VolumeKey(agent, "safe_named_gone", "files")
    create(store, volume, "/a")
    store.delete_session(agent, "safe_named_gone")
    with pytest.raises(SessionNotFound):
        create(store, volume, "/b")


def test_quota_counts_every_volume_of_the_session(store: Store, volume: VolumeKey) -> None:
    # 8 MiB per session (tests' small limits): the outputs volume holds most of it.
    outputs = VolumeKey(volume.agent_id, volume.session_id, "outputs")
    write(store, outputs, "/big1", b"x" * (3 * MiB))
    write(store, outputs, "/big2", b"x" * (3 * MiB))
    write(store, volume, "/big3", b"x" * (2 * MiB - 100))
    with pytest.raises(QuotaExceeded):
        create(store, volume, "/small", b"y" * 101)
    create(store, volume, "/fits", b"y" * 100)  # exactly at the quota
    with pytest.raises(QuotaExceeded):
        create(store, volume, "/one-more", b"y")
    create(store, volume, "/empty", b"")  # no bytes: still fits
    assert usage(store, volume)[0] == 8 * MiB


def test_entry_limit(store: Store, volume: VolumeKey) -> None:
    store.update(volume, lambda v: v.mkdir(VPath("/d")))
    for i in range(299):  # 300 entries per session: the directory and 299 files
        create(store, volume, f"/d/f{i}")
    with pytest.raises(QuotaExceeded):
        create(store, volume, "/d/over")
    with pytest.raises(QuotaExceeded):
        create(store, volume, "/over")
    assert usage(store, volume)[1] == 300


def test_an_idle_session_is_touched(store: Store, agent: str, session_id: str) -> None:
    volume = VolumeKey(agent, session_id, "files")
    create(store, volume, "/first")  # the session's first write may take another path
    assert isinstance(store, SqlStore)
    old = datetime.now(UTC) - timedelta(hours=1)
    store._write_tx(
        lambda conn: conn.execute(
            store.dialect.sql("UPDATE sessions SET last_active_at = ? WHERE id = ?"),
            (store.dialect.ts(old), session_id),
        )
    )
    create(store, volume, "/second")
    assert store.get_session(agent, session_id).last_active_at > old + timedelta(minutes=59)


def test_watchers_hear_the_create(store: Store, volume: VolumeKey) -> None:
    heard: list[Change] = []
    done = threading.Event()

    def hear(change: Change) -> None:
        if change.session_id == volume.session_id and change.path == "/heard":
            heard.append(change)
            done.set()

    unwatch = store.watch(hear)
    try:
        create(store, volume, "/heard")
        assert done.wait(10)  # PostgreSQL delivers through NOTIFY, from another thread
    finally:
        unwatch()
    assert [(c.op, c.volume, c.to) for c in heard] == [("write", "files", None)]


def test_a_race_for_one_path_has_one_winner(store: Store, volume: VolumeKey) -> None:
    store.update(volume, lambda v: v.mkdir(VPath("/d")))
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def racer(i: int) -> None:
        start.wait()
        try:
            create(store, volume, "/d/same", f"writer {i}".encode())
            outcomes.append("made")
        except Exists:
            outcomes.append("exists")

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["exists", "exists", "exists", "made"]
    assert usage(store, volume)[1] == 2
    assert isinstance(store, SqlStore) and store.check_invariants(volume.agent_id) == []


def test_creates_racing_a_delete_never_land_below_a_file(store: Store, volume: VolumeKey) -> None:
    """The deleter turns /d from a directory into a file and back; a create that checked
    /d before it became a file must not land below it (PostgreSQL: the checks run again
    after the row locks). Violations are looked for while /d is a file, before anything
    could hide them."""
    assert isinstance(store, SqlStore)
    stop = threading.Event()
    errors: list[BaseException] = []
    found: list[str] = []

    def creator(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                create(store, volume, f"/d/f{n}-{i}")
            except (Exists, NotADirectory):
                pass
            except QuotaExceeded:
                # The fixture's 300 entries fill up when the deleter is slow to get a turn
                # (a loaded machine); its next cycle empties /d again.
                time.sleep(0.001)
            except BaseException as exc:  # anything else fails the test
                errors.append(exc)
                return
            i += 1

    def to_file(v: Any) -> None:
        v.delete(VPath("/d"), recursive=True)
        v.write(VPath("/d"), Content.of(b"file"), mode="create")

    def to_directory(v: Any) -> None:
        v.delete(VPath("/d"))
        v.mkdir(VPath("/d"))

    store.update(volume, lambda v: v.mkdir(VPath("/d")))
    threads = [threading.Thread(target=creator, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(40):
            store.update(volume, to_file)
            found += store.check_invariants(volume.agent_id)
            store.update(volume, to_directory)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert found == []


def test_racing_creates_never_overshoot_the_quota(store: Store, volume: VolumeKey) -> None:
    """Eight writers of two volumes of one session race for the last 4 KiB, 15 times:
    exactly one wins each time (PostgreSQL: the session's rows are locked first)."""
    outputs = VolumeKey(volume.agent_id, volume.session_id, "outputs")
    write(store, volume, "/big", b"x" * (3 * MiB))
    write(store, outputs, "/big", b"x" * (3 * MiB))
    write(store, volume, "/fill", b"x" * (2 * MiB - 4096))  # room for one file of 4 KiB
    writers = 8
    start = threading.Barrier(writers)
    won: list[tuple[int, VolumeKey, str]] = []

    def race(n: int, round_: int) -> None:
        target = (volume, outputs)[n % 2]
        start.wait()
        try:
            create(store, target, f"/r{round_}-{n}", b"q" * 4096)
            won.append((round_, target, f"/r{round_}-{n}"))
        except QuotaExceeded:
            pass

    for round_ in range(15):
        threads = [threading.Thread(target=race, args=(n, round_)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [w[0] for w in won] == [round_], won
        _, target, path = won.pop()
        assert usage(store, volume)[0] == 8 * MiB
        store.update(target, lambda v, path=path: v.delete(VPath(path)))
    assert isinstance(store, SqlStore) and store.check_invariants(volume.agent_id) == []
