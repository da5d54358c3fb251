"""Prune and garbage collection, on every store, including GC racing real writers."""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import sessionbox
from sessionbox.content import Content
from sessionbox.errors import InvalidInput, SessionNotFound
from sessionbox.paths import VPath
from sessionbox.services.retention import RetentionService, parse_duration, run_periodically
from sessionbox.store.base import Store, VolumeWriter
from sessionbox.types import VolumeKey


def _keeps_blobs(store: Store) -> bool:
    """``dir:///`` stores keep plain files: they have no blobs for GC to collect."""
    return not store.url.startswith("dir:")


def _scalar(store: Store, sql: str, *params: Any) -> Any:
    d = store.dialect  # type: ignore[attr-defined]
    return store._read_tx(  # type: ignore[attr-defined]
        lambda conn: conn.execute(d.sql(sql), params).fetchone()[0]
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45), ("2w", 1209600), ("7", 7)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "d", "-1d", "1y", "1 d x", "1e9d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


def test_prune_outputs_by_age(box: sessionbox.Sessionbox, agent: str) -> None:
    box.create_session(agent, "safe_named_p")
    outputs = box.session(agent, "safe_named_p").outputs
    outputs.store_output("a", {"type": "raw"})
    outputs.store_output("b", {"type": "raw"})
    retention = RetentionService(box.store, box.settings)
    kept = retention.prune(outputs_older_than=timedelta(days=30))
    assert len(outputs.list_outputs()) == 2 and kept.outputs_deleted == 0
    dry = retention.prune(outputs_older_than=timedelta(0), dry_run=True)
    assert dry.outputs_deleted >= 2 and len(outputs.list_outputs()) == 2
    done = retention.prune(outputs_older_than=timedelta(0))
    assert done.outputs_deleted >= 2 and outputs.list_outputs() == []
    assert outputs.store_output("c", {"type": "raw"}).id == "out_3"  # the counter survives


def test_prune_removes_expired_and_idle_sessions(
    box: sessionbox.Sessionbox, store: Store, agent: str
) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.create_session(agent, "safe_named_old", "safe", "named", expires_at=past)
    box.create_session(agent, "safe_named_live")
    retention = RetentionService(store, box.settings)
    assert f"{agent}/safe_named_old" in retention.prune(dry_run=True).sessions_deleted
    assert _scalar(store, "SELECT count(*) FROM sessions WHERE agent_id = ?", agent) == 2
    report = retention.prune()
    assert f"{agent}/safe_named_old" in report.sessions_deleted
    assert f"{agent}/safe_named_live" not in report.sessions_deleted
    assert _scalar(store, "SELECT count(*) FROM sessions WHERE agent_id = ?", agent) == 1
    idle_day = retention.prune(sessions_idle_for=timedelta(days=1)).sessions_deleted
    assert f"{agent}/safe_named_live" not in idle_day
    box.get_session(agent, "safe_named_live")
    report = retention.prune(sessions_idle_for=timedelta(0))
    assert f"{agent}/safe_named_live" in report.sessions_deleted
    with pytest.raises(SessionNotFound):
        box.get_session(agent, "safe_named_live")


def test_gc_two_phases_and_reuse(box: sessionbox.Sessionbox, store: Store, agent: str) -> None:
    box.create_session(agent, "safe_named_gc")
    files = box.session(agent, "safe_named_gc").files
    content = f"unique {agent}".encode() * 400  # over INLINE_BYTES: kept in a blob
    files.write("/a.bin", content)
    blob = files.get_info("/a.bin").content_hash
    count = "SELECT count(*) FROM blobs WHERE hash = ?"
    retention = RetentionService(store, box.settings)
    if not _keeps_blobs(store):
        files.remove("/a.bin")
        files.write("/b.bin", content)
        report = retention.gc(grace=timedelta(0))
        assert (report.marked, report.removed) == (0, 0)
        assert files.read("/b.bin") == content
        return
    retention.gc(grace=timedelta(0))
    assert _scalar(store, count, blob) == 1  # referenced: kept
    files.remove("/a.bin")
    first = retention.gc(grace=timedelta(hours=1))
    assert first.marked >= 1 and _scalar(store, count, blob) == 1  # marked, within grace
    assert _scalar(store, "SELECT orphaned_at FROM blobs WHERE hash = ?", blob) is not None
    files.write("/b.bin", content)  # reuse clears the mark
    assert _scalar(store, "SELECT orphaned_at FROM blobs WHERE hash = ?", blob) is None
    retention.gc(grace=timedelta(0))
    assert files.read("/b.bin") == content
    files.remove("/b.bin")
    retention.gc(grace=timedelta(hours=1))
    swept = retention.gc(grace=timedelta(0))
    assert swept.removed >= 1 and swept.bytes_freed >= len(content)
    assert _scalar(store, count, blob) == 0
    assert _scalar(store, "SELECT count(*) FROM blob_chunks WHERE hash = ?", blob) == 0
    files.write("/c.bin", content)  # written afresh after collection
    assert files.read("/c.bin") == content


def test_gc_is_safe_while_writers_run(box: sessionbox.Sessionbox, store: Store, agent: str) -> None:
    box.create_session(agent, "safe_named_race")
    files = box.session(agent, "safe_named_race").files
    retention = RetentionService(store, box.settings)
    expected: dict[str, bytes] = {}
    errors: list[BaseException] = []
    writers_done = threading.Event()
    removed = 0

    def writer(t: int) -> None:
        rng = random.Random(t)
        try:
            for i in range(60):
                path = f"/w{t}/f{i % 3}"
                # A few contents per writer, overwritten and deleted in turn, so blobs
                # keep becoming unreferenced and then wanted again while GC runs.
                data = f"{agent}-{t}-{rng.randrange(4)}".encode() * 400  # blobs, not inline
                if rng.random() < 0.25 and path in expected:
                    files.remove(path)
                    del expected[path]
                else:
                    files.write(path, data)
                    expected[path] = data
        except BaseException as exc:
            errors.append(exc)

    def collector() -> None:
        nonlocal removed
        try:
            while not writers_done.is_set():
                removed += retention.gc(grace=timedelta(0)).removed
        except BaseException as exc:
            errors.append(exc)

    gc_thread = threading.Thread(target=collector)
    gc_thread.start()
    threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writers_done.set()
    gc_thread.join()
    assert errors == [], errors
    removed += retention.gc(grace=timedelta(0)).removed
    for path, data in expected.items():
        assert files.read(path) == data, path
    if not _keeps_blobs(store):
        assert removed == 0
        return
    assert removed > 0  # blobs were orphaned and collected along the way
    broken = _scalar(
        store,
        "SELECT count(*) FROM blobs b WHERE b.chunk_count <> "
        "(SELECT count(*) FROM blob_chunks c WHERE c.hash = b.hash)",
    )
    assert broken == 0


def test_scheduled_task_prunes(box: sessionbox.Sessionbox, store: Store, agent: str) -> None:
    settings = box.settings.model_copy(update={"retention_interval_seconds": 1})
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.create_session(agent, "safe_named_sched", "safe", "named", expires_at=past)
    retention = RetentionService(store, settings)

    async def run() -> None:
        task = asyncio.create_task(run_periodically(retention, settings))
        count = "SELECT count(*) FROM sessions WHERE agent_id = ?"
        for _ in range(300):  # a bound, not a timing assertion
            await asyncio.sleep(0.1)
            if _scalar(store, count, agent) == 0:
                break
        task.cancel()
        assert _scalar(store, count, agent) == 0

    asyncio.run(run())


def test_postgres_sweep_skips_a_blob_a_writer_is_reusing(_pg_store: Store, agent: str) -> None:
    """The interleaving that used to break: a sweep while a writer holds a marked blob."""
    store = _pg_store
    store.create_session(agent, "safe_named_pgrace", "safe", "named")
    volume = VolumeKey(agent, "safe_named_pgrace", "files")
    data = f"pg race {agent}".encode() * 400  # over INLINE_BYTES: kept in a blob
    store.update(volume, lambda v: v.write(VPath("/a"), Content.of(data), mode="create"))
    store.update(volume, lambda v: v.delete(VPath("/a")))
    assert store.gc_mark() >= 1  # the blob is now marked and unreferenced
    swept: list[tuple[int, int]] = []

    def reuse_while_sweeping(vol: VolumeWriter) -> None:
        vol.write(VPath("/b"), Content.of(data), mode="create")
        # Still inside the writer's transaction: the sweep must skip the blob, not wait.
        sweeper = threading.Thread(
            target=lambda: swept.append(store.gc_sweep(datetime.now(UTC) + timedelta(hours=1)))
        )
        sweeper.start()
        sweeper.join(60)
        assert not sweeper.is_alive()

    store.update(volume, reuse_while_sweeping)
    blob = Content.of(data).hash
    assert _scalar(store, "SELECT count(*) FROM blobs WHERE hash = ?", blob) == 1
    assert store.view(volume, lambda v: v.read(VPath("/b"), max_bytes=len(data)))[1] == data
    assert _scalar(store, "SELECT orphaned_at FROM blobs WHERE hash = ?", blob) is None
