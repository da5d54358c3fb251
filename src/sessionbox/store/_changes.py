"""Which changes a write transaction made, and who hears about them once it commits.

``Recorder`` wraps the writer a store hands to ``update(volume, fn)`` and notes
each successful mutation; the store publishes the notes only after the commit,
so a rolled-back or retried attempt is never announced. ``ChangeFeed`` is the
in-process fan-out a store mixes in; PostgreSQL replaces the delivery with
``NOTIFY`` so that every replica hears every change.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sessionbox.content import Content
from sessionbox.paths import VPath
from sessionbox.store.base import ChangeCallback, VolumeWriter
from sessionbox.types import Change, Entry, Usage, VolumeKey, WriteMode

log = logging.getLogger(__name__)


class Recorder:
    """A ``VolumeWriter`` that remembers what it changed."""

    def __init__(self, inner: VolumeWriter, volume: VolumeKey) -> None:
        self._inner = inner
        self._volume = volume
        self.changes: builtins.list[Change] = []

    def __getattr__(self, name: str) -> Any:
        # Methods a store adds beyond the protocol still work (they are not announced).
        return getattr(self._inner, name)

    def _note(self, op: str, path: str, to: str | None = None) -> None:
        v = self._volume
        self.changes.append(Change(v.agent_id, v.session_id, v.kind, op, path, to))

    # -- reads pass straight through ----------------------------------------------

    def stat(self, path: VPath) -> Entry:
        return self._inner.stat(path)

    def list(self, path: VPath, *, limit: int, after: str | None = None) -> builtins.list[Entry]:
        return self._inner.list(path, limit=limit, after=after)

    def read(self, path: VPath, *, max_bytes: int) -> tuple[Entry, bytes]:
        return self._inner.read(path, max_bytes=max_bytes)

    def walk(self, path: VPath, *, with_content: bool) -> Iterator[tuple[Entry, bytes | None]]:
        return self._inner.walk(path, with_content=with_content)

    def usage(self) -> Usage:
        return self._inner.usage()

    # -- writes are noted once they succeed ----------------------------------------

    def write(
        self,
        path: VPath,
        content: Content,
        *,
        mode: WriteMode,
        if_match: str | None = None,
        readonly: bool | None = None,
        content_type: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> tuple[Entry, bool]:
        result = self._inner.write(
            path,
            content,
            mode=mode,
            if_match=if_match,
            readonly=readonly,
            content_type=content_type,
            meta=meta,
        )
        self._note("write", path)
        return result

    def mkdir(self, path: VPath, *, exist_ok: bool = False) -> Entry:
        entry = self._inner.mkdir(path, exist_ok=exist_ok)
        self._note("mkdir", path)
        return entry

    def set_attrs(
        self,
        path: VPath,
        *,
        readonly: bool | None = None,
        meta: dict[str, Any] | None = None,
        if_match: str | None = None,
    ) -> Entry:
        entry = self._inner.set_attrs(path, readonly=readonly, meta=meta, if_match=if_match)
        self._note("attrs", path)
        return entry

    def delete(self, path: VPath, *, recursive: bool = False, if_match: str | None = None) -> int:
        count = self._inner.delete(path, recursive=recursive, if_match=if_match)
        self._note("delete", path)
        return count

    def move(
        self, src: VPath, dst: VPath, *, overwrite: bool = False, if_match: str | None = None
    ) -> Entry:
        entry = self._inner.move(src, dst, overwrite=overwrite, if_match=if_match)
        self._note("move", src, dst)
        return entry

    def copy(self, src: VPath, dst: VPath, *, overwrite: bool = False) -> Entry:
        entry = self._inner.copy(src, dst, overwrite=overwrite)
        self._note("copy", src, dst)
        return entry


class ChangeFeed:
    """In-process fan-out of committed changes to ``watch`` callbacks."""

    def __init__(self) -> None:
        self._watchers: list[ChangeCallback] = []
        self._watchers_lock = threading.Lock()

    def watch(self, callback: ChangeCallback) -> Callable[[], None]:
        with self._watchers_lock:
            self._watchers.append(callback)

        def unwatch() -> None:
            with self._watchers_lock:
                if callback in self._watchers:
                    self._watchers.remove(callback)

        return unwatch

    def _watching(self) -> bool:
        return bool(self._watchers)

    def _deliver(self, changes: list[Change]) -> None:
        """Hand committed changes to every watcher; a failing watcher never fails a write."""
        with self._watchers_lock:
            watchers = self._watchers.copy()
        for change in changes:
            for callback in watchers:
                try:
                    callback(change)
                except Exception:  # a watcher's bug must not turn a committed write into a 500
                    log.exception("a change watcher failed")

    def _committed(self, changes: list[Change]) -> None:
        """Called by the store after a write transaction committed."""
        if changes:
            self._deliver(changes)
