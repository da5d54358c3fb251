"""The Python Autosaver over the in-process library, on every store, with a hand-driven clock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import sessionbox
from sessionbox import Autosaver
from sessionbox.client.local import SessionHandle, Snapshots
from sessionbox.errors import Unavailable
from sessionbox.store import open_store
from tests.conftest import STORES, small_limits


class Clock:
    """Monotonic and wall time, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now


class Flaky:
    """The real snapshot methods, failing like a store that is down while ``down`` is set."""

    def __init__(self, inner: Snapshots) -> None:
        self.inner = inner
        self.down = False

    def save(self, snapshot: dict[str, Any], **kwargs: Any) -> Any:
        if self.down:
            raise Unavailable("the database is not reachable")
        return self.inner.save(snapshot, **kwargs)

    def latest(self) -> Any:
        if self.down:
            raise Unavailable("the database is not reachable")
        return self.inner.latest()


@pytest.fixture
def session(box: sessionbox.Sessionbox, agent: str) -> SessionHandle:
    return box.session(agent, box.create_session(agent).id)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def saver_for(target: Any, state: dict[str, Any], clock: Clock, **kwargs: Any) -> Autosaver:
    restored: list[dict[str, Any]] = kwargs.pop("restored", [])
    return Autosaver(
        target,
        lambda: dict(state),
        lambda data, _: restored.append(data),
        clock=clock,
        wall_clock=clock.wall,
        background=False,
        save_at_exit=False,
        **kwargs,
    )


def test_saves_at_most_once_per_interval(session: SessionHandle, clock: Clock) -> None:
    state = {"n": 0}
    saver = saver_for(session.snapshots, state, clock, interval=60)
    assert saver.start() is None
    assert saver.tick() is False  # nothing to save
    state["n"] = 1
    saver.mark_dirty()
    assert saver.tick() is True
    first = saver.updated_at
    assert session.snapshots.latest().data == {"n": 1}
    for n in (2, 3):
        state["n"] = n
        saver.mark_dirty()
        clock.now += 20
        assert saver.tick() is False
    clock.now += 20  # 60 s after the first save
    assert saver.tick() is True
    assert session.snapshots.latest().data == {"n": 3}
    assert [h.updated_at for h in session.snapshots.history()] == [first]
    status = saver.status
    assert status.error is None and status.supported and not status.restoring
    assert status.last_saved_at is not None
    assert status.last_saved_at.timestamp() == clock.wall()


def test_close_and_context_exit_flush(session: SessionHandle, clock: Clock) -> None:
    state = {"text": "a"}
    with saver_for(session.snapshots, state, clock) as saver:
        saver.mark_dirty()
        assert saver.tick()
        state["text"] = "b"
        saver.mark_dirty()
        assert not saver.tick()
    assert session.snapshots.latest().data == {"text": "b"}
    other = saver_for(session.snapshots, {"text": "c"}, clock)
    other.start()
    other.mark_dirty()
    other.close()
    assert session.snapshots.latest().data == {"text": "c"}


def test_background_thread_saves_on_close(session: SessionHandle) -> None:
    state = {"k": 1}
    saver = Autosaver(session.snapshots, lambda: dict(state), save_at_exit=False)
    saver.start()
    saver.mark_dirty()
    saver.close()
    assert session.snapshots.latest().data == {"k": 1}


def test_handle_key_follows_the_app(session: SessionHandle, clock: Clock) -> None:
    opened = {"file": "/data/a.csv"}
    saver = saver_for(session.snapshots, {}, clock, handle_key=lambda: opened["file"])
    saver.start()
    saver.mark_dirty()
    assert saver.flush()
    assert session.snapshots.latest().handle_key == "/data/a.csv"
    opened["file"] = "/data/b.csv"
    saver.mark_dirty()
    assert saver.flush()
    assert session.snapshots.latest().handle_key == "/data/b.csv"
    assert saver.flush()  # nothing dirty: nothing saved
    assert len(session.snapshots.history()) == 1


def test_restores_on_start(session: SessionHandle, clock: Clock) -> None:
    session.snapshots.save({"layout": [1, 2]}, version=1, updated_at=5_000)
    restored: list[dict[str, Any]] = []
    saver = saver_for(session.snapshots, {}, clock, restored=restored)
    assert saver.start() == {"layout": [1, 2]}
    assert restored == [{"layout": [1, 2]}]
    assert saver.updated_at == 5_000 and not saver.dirty


def test_store_down_never_raises_and_retries(session: SessionHandle, clock: Clock) -> None:
    flaky = Flaky(session.snapshots)
    flaky.down = True
    state = {"rows": 10}
    saver = saver_for(flaky, state, clock, interval=60)
    assert saver.start() is None
    assert saver.status.error is not None and "Unavailable" in saver.status.error
    saver.mark_dirty()
    assert saver.tick() is False
    assert saver.dirty and "not reachable" in (saver.status.error or "")
    state["rows"] = 11  # the app keeps working in memory
    saver.mark_dirty()
    flaky.down = False
    clock.now += 30
    assert saver.tick() is False  # the retry waits for the interval too
    clock.now += 30
    assert saver.tick() is True
    assert saver.status.error is None and not saver.dirty
    assert session.snapshots.latest().data == {"rows": 11}
    flaky.down = True
    saver.mark_dirty()
    saver.close()  # a failing flush at close is reported, not raised
    assert saver.status.error is not None


@pytest.mark.parametrize("kind", STORES)
def test_a_closed_store_is_reported_not_raised(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, agent: str, clock: Clock
) -> None:
    """A real outage: the saver's own store is closed under it."""
    extra = {"store": request.getfixturevalue("postgres_url")} if kind == "postgres" else {}
    settings = small_limits(tmp_path, **extra)
    box = sessionbox.Sessionbox(open_store(settings.store_url, settings), settings)
    session = box.session(agent, box.create_session(agent).id)
    saver = saver_for(session.snapshots, {"a": 1}, clock)
    saver.start()
    box.close()
    saver.mark_dirty()
    assert saver.tick() is False
    assert saver.status.error and saver.dirty
    saver.close()


def test_migrations_are_applied_on_restore(session: SessionHandle, clock: Clock) -> None:
    session.snapshots.save({"font": 13}, version=1, updated_at=1)
    restored: list[dict[str, Any]] = []
    saver = saver_for(session.snapshots, {}, clock, version=3, restored=restored)
    saver.register_migration(1, lambda old: {"fontSize": old["font"]})

    @saver.migration(2)
    def add_family(old: dict[str, Any]) -> dict[str, Any]:
        return {**old, "fontFamily": "inter"}

    assert saver.start() == {"fontSize": 13, "fontFamily": "inter"}
    assert restored == [{"fontSize": 13, "fontFamily": "inter"}]


@pytest.mark.parametrize(("stored", "app"), [(1, 3), (4, 3)])
def test_unmigratable_snapshots_are_an_error_not_a_crash(
    session: SessionHandle, clock: Clock, stored: int, app: int
) -> None:
    session.snapshots.save({"x": 1}, version=stored, updated_at=1)
    restored: list[dict[str, Any]] = []
    saver = saver_for(session.snapshots, {}, clock, version=app, restored=restored)
    saver.register_migration(1, lambda old: old)  # 2 -> 3 is missing
    assert saver.start() is None
    assert restored == [] and saver.status.error and not saver.status.restoring


def test_unsupported_target_is_a_no_op(clock: Clock) -> None:
    saver = saver_for(object(), {"a": 1}, clock)
    assert not saver.status.supported
    assert saver.start() is None
    saver.mark_dirty()
    assert saver.tick() is False
    saver.close()


def test_interpreter_exit_flushes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    script = textwrap.dedent(
        f"""
        import sessionbox
        box = sessionbox.open({url!r})
        box.create_session("a", "safe_named_s")
        saver = sessionbox.Autosaver(
            box.session("a", "safe_named_s").snapshots, lambda: {{"unsaved": True}},
            background=False,
        )
        saver.start()
        saver.mark_dirty()
        # no close(): atexit must save it
        """
    )
    env_dir = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"SESSIONBOX_DATA_DIR": str(env_dir), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    with sessionbox.open(url) as box:
        assert box.session("a", "safe_named_s").snapshots.latest().data == {"unsaved": True}
