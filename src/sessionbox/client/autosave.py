"""Autosave an app's state as its session snapshot: the csv-explorer loop, in Python.

    with Autosaver(box.session(a, s).snapshots, get_state, on_restore=apply_state) as saver:
        ...
        saver.mark_dirty()   # on every change; saved at most once per interval

The saver restores the latest snapshot on start (running registered migrations
from older ``version`` s), saves at most once per ``interval`` while dirty, and
flushes on ``close()``, context exit and interpreter exit. Storage errors never
reach the app: the state stays in memory, ``status.error`` says what failed and
the next interval retries. It works over any object with the snapshot methods
``save(data, *, version, updated_at, handle_key)`` and ``latest()`` (the
in-process ``Snapshots`` today, the HTTP SDK later).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sessionbox.errors import SnapshotConflict, SnapshotNotFound

log = logging.getLogger("sessionbox.autosave")

Migration = Callable[[dict[str, Any]], dict[str, Any]]


class SnapshotTarget(Protocol):
    """What the saver needs: the snapshot methods of a session handle."""

    def save(
        self,
        snapshot: dict[str, Any],
        *,
        version: int = 1,
        updated_at: int | None = None,
        handle_key: str | None = None,
    ) -> Any: ...

    def latest(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class AutosaveStatus:
    """What a status bar shows: "Restoring…", "Auto-saved 12:01:07", or the last error."""

    restoring: bool = False
    last_saved_at: datetime | None = None
    error: str | None = None
    supported: bool = True


class Autosaver:
    """Saves ``get_snapshot()`` to ``snapshots`` when dirty, at most once per ``interval`` s.

    ``clock`` (monotonic seconds) and ``wall_clock`` (epoch seconds) are injectable
    so tests drive time by hand; with ``background=False`` nothing runs on its own
    and the app calls ``tick()`` from its own loop.
    """

    def __init__(
        self,
        snapshots: SnapshotTarget,
        get_snapshot: Callable[[], dict[str, Any]],
        on_restore: Callable[[dict[str, Any], Any], None] | None = None,
        *,
        version: int = 1,
        interval: float = 60.0,
        handle_key: str | Callable[[], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        background: bool = True,
        save_at_exit: bool = True,
    ) -> None:
        self._target = snapshots
        self._get = get_snapshot
        self._on_restore = on_restore
        self.version = version
        self.interval = interval
        self._handle_key = handle_key
        self._clock = clock
        self._wall = wall_clock
        self._background = background
        self._at_exit = save_at_exit
        self._migrations: dict[int, Migration] = {}
        self._state = threading.Lock()  # dirty flag and stamp: held briefly, never during I/O
        self._saving = threading.Lock()  # one save at a time
        self._dirty = False
        self._updated_at = 0
        self._last_attempt: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        supported = callable(getattr(snapshots, "save", None)) and callable(
            getattr(snapshots, "latest", None)
        )
        self._status = AutosaveStatus(supported=supported)

    # -- state ---------------------------------------------------------------

    @property
    def status(self) -> AutosaveStatus:
        return self._status

    @property
    def dirty(self) -> bool:
        return self._dirty

    @property
    def updated_at(self) -> int:
        """``updatedAt`` (epoch ms) of the state in memory; flips on every ``mark_dirty``."""
        return self._updated_at

    def _set(self, **changes: Any) -> None:
        self._status = replace(self._status, **changes)

    def register_migration(self, from_version: int, migrate: Migration) -> None:
        """``migrate`` turns a snapshot of ``from_version`` into one of ``from_version + 1``."""
        self._migrations[from_version] = migrate

    def migration(self, from_version: int) -> Callable[[Migration], Migration]:
        """Decorator form of :meth:`register_migration`."""

        def register(migrate: Migration) -> Migration:
            self.register_migration(from_version, migrate)
            return migrate

        return register

    def mark_dirty(self) -> None:
        """Record a change: the next due ``tick()`` (or ``close()``) saves it."""
        with self._state:
            self._dirty = True
            self._updated_at = max(int(self._wall() * 1000), self._updated_at + 1)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> dict[str, Any] | None:
        """Restore the latest snapshot, then start saving; returns the restored state."""
        restored = self.restore()
        if self._started or not self._status.supported:
            return restored
        self._started = True
        if self._at_exit:
            atexit.register(self.close)
        if self._background:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sessionbox-autosave")
            self._thread.daemon = True
            self._thread.start()
        return restored

    def close(self) -> None:
        """Stop the background loop and save what is unsaved (errors are kept in status)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if self._started and self._at_exit:
            atexit.unregister(self.close)
        self._started = False
        self.flush()

    def __enter__(self) -> Autosaver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        poll = min(max(self.interval / 4, 0.05), 1.0)
        while not self._stop.wait(poll):
            self.tick()

    # -- restore and save ------------------------------------------------------

    def restore(self) -> dict[str, Any] | None:
        """Load the latest snapshot, migrate it and hand it to ``on_restore``."""
        if not self._status.supported:
            return None
        self._set(restoring=True)
        try:
            try:
                stored = self._target.latest()
            except SnapshotNotFound:
                self._set(restoring=False, error=None)
                return None
            data = self._migrate(stored.data, stored.version)
            with self._state:
                self._updated_at = max(self._updated_at, stored.updated_at)
            if self._on_restore is not None:
                self._on_restore(data, stored)
        except Exception as exc:
            log.warning("sessionbox autosave: restore failed: %s", exc)
            self._set(restoring=False, error=_describe(exc))
            return None
        self._set(restoring=False, error=None)
        return data

    def _migrate(self, data: dict[str, Any], version: int) -> dict[str, Any]:
        if version > self.version:
            raise ValueError(f"snapshot version {version} is newer than this app ({self.version})")
        while version < self.version:
            step = self._migrations.get(version)
            if step is None:
                raise ValueError(f"no migration registered from snapshot version {version}")
            data = step(data)
            version += 1
        return data

    def tick(self) -> bool:
        """Save if dirty and an interval has passed since the last attempt; True if saved."""
        with self._saving:
            now = self._clock()
            due = self._last_attempt is None or now - self._last_attempt >= self.interval
            if not (self._dirty and due):
                return False
            return self._save(now)

    def flush(self) -> bool:
        """Save now if dirty, whatever the interval; True when nothing is left unsaved."""
        with self._saving:
            if not self._dirty:
                return True
            return self._save(self._clock())

    def _save(self, now: float) -> bool:
        if not self._status.supported:
            return False
        self._last_attempt = now
        with self._state:
            stamp = self._updated_at
        try:
            key = self._handle_key() if callable(self._handle_key) else self._handle_key
            data = self._get()
            self._target.save(data, version=self.version, updated_at=stamp, handle_key=key)
        except SnapshotConflict as exc:  # changed without mark_dirty(): new stamp, next time
            self.mark_dirty()
            self._set(error=_describe(exc))
            return False
        except Exception as exc:
            log.warning("sessionbox autosave: save failed, will retry: %s", exc)
            self._set(error=_describe(exc))
            return False
        with self._state:
            if self._updated_at == stamp:
                self._dirty = False
        self._set(last_saved_at=datetime.fromtimestamp(self._wall(), UTC), error=None)
        return True


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
