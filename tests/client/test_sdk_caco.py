"""Snapshots, outputs, applets and resolve: the same contract on both transports, every store.

Like test_sdk.py, each test gets ``sdk`` (in-process ``Sessionbox`` or HTTP
``Client`` against a live server) and must not care which one it has.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest

import sessionbox
from sessionbox.services.applets import Applet
from sessionbox.services.outputs import Output
from sessionbox.services.sessions import Resolved
from sessionbox.services.snapshots import HistoryItem, Snapshot
from sessionbox.types import Change
from tests.conftest import LiveServer, _free_port


@pytest.fixture
def session(sdk: Any, agent: str) -> Any:
    return sdk.session(agent, sdk.create_session(agent).id)


def test_snapshots_round_trip(session: Any) -> None:
    snaps = session.snapshots
    with pytest.raises(sessionbox.SnapshotNotFound):
        snaps.latest()
    first = snaps.save({"filters": ["a"]}, version=2, updated_at=1000, handle_key="k1")
    assert isinstance(first, Snapshot)
    assert (first.version, first.updated_at, first.handle_key) == (2, 1000, "k1")
    assert first.data == {"filters": ["a"]} and first.size_bytes == len(first.raw)
    latest = snaps.latest()
    assert latest.etag == first.etag and latest.raw == first.raw and latest.data == first.data
    assert latest.created_at == first.created_at
    second = snaps.save({"filters": ["b"]}, updated_at=2000, etag=first.etag)
    with pytest.raises(sessionbox.PreconditionFailed):
        snaps.save({"filters": ["c"]}, updated_at=3000, etag=first.etag)
    with pytest.raises(sessionbox.SnapshotConflict):
        snaps.save({"filters": ["old"]}, updated_at=1000)  # in the history, other content
    history = snaps.history()
    assert [h.updated_at for h in history] == [1000]
    assert isinstance(history[0], HistoryItem) and history[0].size_bytes == first.size_bytes
    assert snaps.get(1000).data == {"filters": ["a"]}
    with pytest.raises(sessionbox.SnapshotNotFound):
        snaps.get(999)
    restored = snaps.restore(1000, etag=second.etag)
    assert restored.data == {"filters": ["a"]} and snaps.latest().etag == restored.etag
    assert [h.updated_at for h in snaps.history()] == [2000]
    assert snaps.clear() == 2
    with pytest.raises(sessionbox.SnapshotNotFound):
        snaps.latest()


def test_snapshot_bad_input(session: Any) -> None:
    with pytest.raises(sessionbox.SnapshotInvalid):
        session.snapshots.save({"x": float("nan")})
    with pytest.raises(sessionbox.SnapshotInvalid):
        session.snapshots.save({"x": 1}, version=-1)
    with pytest.raises(sessionbox.SnapshotNotFound):
        session.snapshots.latest()


def test_snapshot_handle_resolution(session: Any) -> None:
    session.files.write("/data.csv", "a,b\n")
    session.snapshots.save({"q": 1}, updated_at=5, handle_key="/data.csv")
    found = session.snapshots.latest(resolve_handle=True)
    assert found.handle is not None and found.handle.exists and found.handle.path == "/data.csv"
    assert found.data == {"q": 1} and found.raw == session.snapshots.latest().raw


def test_outputs(session: Any) -> None:
    outs = session.outputs
    text = outs.store_output("ls -l\n", {"type": "terminal", "command": "ls -l"})
    assert isinstance(text, Output) and text.id == "out_1" and text.marker == "[output:out_1]"
    blob = outs.store_output(b"\x00\xff", {"type": "image", "mimeType": "image/png"})
    assert blob.encoding == "base64"
    got = outs.get_output(blob.id)
    assert got.raw == b"\x00\xff" and got.etag == blob.etag and got.media_type == "image/png"
    assert outs.get_output(text.id).data == "ls -l\n"
    assert outs.format_marker("out_9") == "[output:out_9]"
    assert [o.id for o in outs.list_outputs()] == ["out_1", "out_2"]
    assert [o.id for o in outs.list_outputs(type="image")] == ["out_2"]
    found, missing = outs.resolve_markers([{"content": f"see {blob.marker} and [output:out_7]"}])
    assert [o.id for o in found] == ["out_2"] and missing == ["out_7"]
    found, missing = outs.resolve_markers(f"{text.marker}")
    assert [o.data for o in found] == ["ls -l\n"] and missing == []
    outs.delete_output("out_1")
    with pytest.raises(sessionbox.OutputNotFound):
        outs.get_output("out_1")
    with pytest.raises(sessionbox.OutputNotFound):
        outs.get_output("../etc")
    assert [o.id for o in outs.list_outputs()] == ["out_2"]
    assert outs.store_output("next", {"type": "raw"}).id == "out_3"  # ids are not reused


def test_output_bad_input(session: Any) -> None:
    with pytest.raises(sessionbox.InvalidInput):
        session.outputs.store_output("x", {"type": "not-a-type"})
    with pytest.raises(sessionbox.InvalidInput):
        session.outputs.store_output("x", {})
    assert session.outputs.list_outputs() == []


def test_applets(sdk: Any, agent: str) -> None:
    applets = sdk.applets(agent)
    assert applets.list() == []
    saved = applets.save("chart", name="Chart", html="<div id=c></div>", js="draw()")
    assert isinstance(saved, Applet) and saved.version == 1 and saved.js == "draw()"
    loaded = applets.load("chart")
    assert (loaded.name, loaded.html, loaded.state) == ("Chart", "<div id=c></div>", {})
    applets.save("chart", name="Chart 2", html="<p>v2</p>", description="second")
    assert [(a.slug, a.name, a.version) for a in applets.list()] == [("chart", "Chart 2", 2)]
    state, etag = applets.get_state("chart")
    assert state == {}
    etag2 = applets.set_state("chart", {"zoom": 2}, etag=etag)
    with pytest.raises(sessionbox.PreconditionFailed):
        applets.set_state("chart", {"zoom": 3}, etag=etag)
    assert applets.get_state("chart") == ({"zoom": 2}, etag2)
    assert [v["version"] for v in applets.versions("chart")] == [2, 1]
    back = applets.restore("chart", 1)
    assert back.html == "<div id=c></div>" and back.state == {"zoom": 2}
    applets.delete("chart")
    with pytest.raises(sessionbox.AppletNotFound):
        applets.load("chart")
    with pytest.raises(sessionbox.SlugInvalid):
        applets.load("../x")
    with pytest.raises(sessionbox.SlugInvalid):
        applets.save("Bad Slug", name="x", html="")


def test_resolve_session(sdk: Any, agent: str) -> None:
    first = sdk.resolve_session(agent, "safe", panel_path="panels/editor")
    assert isinstance(first, Resolved) and first.created and first.resumable
    assert first.session.id == "safe_auto_panels~editor" and first.session.mode == "safe"
    again = sdk.resolve_session(agent, "safe", panel_path="panels/editor")
    assert not again.created and again.session.id == first.session.id
    assert again.session.created_at == first.session.created_at
    child = sdk.resolve_session(agent, "unsafe", parent_session=first.session.id, name="notes")
    assert child.created and child.resumable and child.session.mode == "unsafe"
    assert (
        sdk.resolve_session(
            agent, "unsafe", parent_session=first.session.id, name="notes"
        ).session.id
        == child.session.id
    )
    fresh = sdk.resolve_session(agent, "safe", new_session=True)
    assert fresh.created and not fresh.resumable and fresh.session.id != first.session.id
    with pytest.raises(sessionbox.InvalidInput):
        sdk.resolve_session(agent, "safe", name="orphan")
    with pytest.raises(sessionbox.InvalidInput):
        sdk.resolve_session(agent, "sideways", panel_path="p")  # type: ignore[arg-type]
    with pytest.raises(sessionbox.AgentIdInvalid):
        sdk.resolve_session("..", "safe", panel_path="p")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now


def test_autosaver_on_either_transport(session: Any) -> None:
    """The Autosaver takes ``session.snapshots`` of the HTTP client as it takes the library's."""
    clock, state, restored = _Clock(), {"n": 0}, []
    options: dict[str, Any] = {"clock": clock, "wall_clock": clock.wall, "background": False}
    saver = sessionbox.Autosaver(
        session.snapshots, lambda: dict(state), save_at_exit=False, interval=60, **options
    )
    assert saver.start() is None and saver.status.supported
    state["n"] = 1
    saver.mark_dirty()
    assert saver.tick() is True and session.snapshots.latest().data == {"n": 1}
    state["n"] = 2
    saver.mark_dirty()
    clock.now += 30
    assert saver.tick() is False  # within the interval
    saver.close()  # flushes
    assert session.snapshots.latest().data == {"n": 2} and saver.status.error is None
    again = sessionbox.Autosaver(
        session.snapshots,
        lambda: {},
        lambda data, _: restored.append(data),
        save_at_exit=False,
        **options,
    )
    assert again.start() == {"n": 2} and restored == [{"n": 2}]
    again.close()


def test_autosaver_reports_an_unreachable_server() -> None:
    with sessionbox.Client(f"http://127.0.0.1:{_free_port()}", retries=0) as client:
        snaps = client.session("agent", "safe_named_x").snapshots
        saver = sessionbox.Autosaver(snaps, lambda: {"k": 1}, background=False, save_at_exit=False)
        assert saver.start() is None
        assert saver.status.error is not None and "Unavailable" in saver.status.error
        saver.mark_dirty()
        assert saver.flush() is False and saver.dirty
        assert "Unavailable" in (saver.status.error or "")


def test_watch_yields_the_changes_below_a_path(sdk: Any, session: Any) -> None:
    fs = session.files
    with fs.watch("/src", timeout=30) as changes:
        fs.write("/src/a.py", "1")
        fs.write("/other.txt", "x")  # outside /src: not seen
        session.snapshots.save({"k": 1})  # another volume: not seen
        fs.make_dir("/src/pkg")
        fs.rename("/src/a.py", "/src/pkg/b.py")
        fs.rename("/other.txt", "/src/moved.txt")  # moved in: seen
        fs.remove("/src", recursive=True)
        seen = [(c.op, c.path, c.to) for c in itertools.islice(changes, 5)]
    assert seen == [
        ("write", "/src/a.py", None),
        ("mkdir", "/src/pkg", None),
        ("move", "/src/a.py", "/src/pkg/b.py"),
        ("move", "/other.txt", "/src/moved.txt"),
        ("delete", "/src", None),
    ]
    with pytest.raises(sessionbox.PathInvalid):
        fs.watch("src")
    with pytest.raises(sessionbox.SessionNotFound):
        sdk.session(session.agent_id, "safe_named_missing").files.watch()


def test_watch_sees_a_tree_above_its_path_go(session: Any) -> None:
    """Emptying the volume (a delete of ``/``) or moving a parent away reaches a watcher
    of a directory below, as one change at the tree that went."""
    fs = session.files
    fs.write("/top/src/a.py", "1")
    with fs.watch("/top/src", timeout=30) as changes:
        fs.write("/elsewhere.txt", "x")  # not seen
        fs.rename("/top", "/moved")
        fs.copy("/moved", "/top")
        fs.remove("/", recursive=True)
        # The first write may still be on its way (PostgreSQL's feed): writes are skipped.
        trees = (c for c in changes if c.op != "write")
        seen = [(c.op, c.path, c.to) for c in itertools.islice(trees, 3)]
    assert seen == [
        ("move", "/top", "/moved"),
        ("copy", "/moved", "/top"),
        ("delete", "/", None),
    ]
    assert fs.list("/") == []


def test_watch_ends_after_a_quiet_timeout(session: Any) -> None:
    with session.files.watch(timeout=0.2) as changes:
        session.files.write("/x", "1")
        found = list(changes)  # the quiet period ends the iteration
    assert [(c.op, c.path) for c in found] == [("write", "/x")]
    assert isinstance(found[0], Change) and found[0].volume == "files"


def test_async_client_watch(server_for: Callable[[str], LiveServer], agent: str) -> None:
    async def run(url: str) -> list[Change]:
        async with sessionbox.AsyncClient(url) as client:
            record = await client.create_session(agent)
            fs = client.session(agent, record.id).files
            async with await fs.watch("/", timeout=30) as changes:
                await fs.write("/a.txt", "1")
                await fs.remove("/a.txt")
                found = []
                async for change in changes:
                    found.append(change)
                    if len(found) == 2:
                        break
                return found

    found = asyncio.run(run(server_for("sqlite").url))
    assert [(c.op, c.path, c.volume) for c in found] == [
        ("write", "/a.txt", "files"),
        ("delete", "/a.txt", "files"),
    ]
