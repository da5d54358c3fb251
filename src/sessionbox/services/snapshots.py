"""Session snapshots: the csv-explorer "current session" model over a session volume.

A session's ``snapshots`` volume holds ``/latest.json`` (the envelope
``{version, updatedAt, handleKey, snapshot}``) and up to N older envelopes as
``/snapshot-<updatedAt>.json``. A save is one ``store.update``: the previous
latest is *moved* (no bytes copied, its entry and ETag kept) to its history
name, the new latest is written, and history is pruned to the newest N by
``updatedAt``, all or nothing and serialised with every other writer of the
session. Because they are ordinary files, export, quotas and session deletion
treat snapshots like any other file.

``updatedAt`` names a snapshot within its session: a save reusing the
``updatedAt`` of a stored snapshot with different content is refused
(``SnapshotConflict``), a repeat of the latest one is an idempotent no-op.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sessionbox import paths
from sessionbox.config import Settings
from sessionbox.content import Content
from sessionbox.errors import (
    InvalidInput,
    NotFound,
    PathInvalid,
    PreconditionFailed,
    SnapshotConflict,
    SnapshotInvalid,
    SnapshotNotFound,
    TooLarge,
)
from sessionbox.ids import parse_session_id, validate_agent_id
from sessionbox.paths import VPath
from sessionbox.store.base import Store, VolumeReader, VolumeWriter
from sessionbox.types import Entry, VolumeKey

LATEST = VPath("/latest.json")
MAX_SAFE_INTEGER = 2**53 - 1
"""``updatedAt`` and ``version`` must survive a round trip through a JavaScript number."""
MAX_HANDLE_KEY = 4096
_HISTORY_NAME = re.compile(r"snapshot-(\d{1,16})\.json")
_FIELDS = frozenset({"version", "updatedAt", "handleKey", "snapshot"})
_READ_ALL = 2**62


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a client saves: its own state plus the metadata to evolve and order it."""

    version: int
    updated_at: int
    handle_key: str | None
    snapshot: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "updatedAt": self.updated_at,
            "handleKey": self.handle_key,
            "snapshot": self.snapshot,
        }

    def encode(self) -> bytes:
        """Compact UTF-8 JSON; ``SnapshotInvalid`` for values JSON cannot carry."""
        try:
            text = json.dumps(
                self.to_json(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
            )
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise SnapshotInvalid("the snapshot has a lone surrogate (invalid UTF-8)") from None
        except RecursionError:
            raise SnapshotInvalid("the snapshot is nested too deeply") from None
        except (TypeError, ValueError) as exc:
            raise SnapshotInvalid(f"the snapshot is not JSON: {exc}") from None


@dataclass(frozen=True, slots=True)
class Handle:
    """Where ``handleKey`` points in the session's files; ``code`` says why it is not there."""

    path: str
    exists: bool
    etag: str | None
    code: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"path": self.path, "exists": self.exists, "etag": self.etag}
        if self.code is not None:
            body["code"] = self.code
        return body


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored envelope with its file's validator and size."""

    envelope: Envelope
    etag: str
    size_bytes: int
    created_at: datetime
    raw: bytes
    handle: Handle | None = None

    @property
    def version(self) -> int:
        return self.envelope.version

    @property
    def updated_at(self) -> int:
        return self.envelope.updated_at

    @property
    def handle_key(self) -> str | None:
        return self.envelope.handle_key

    @property
    def data(self) -> dict[str, Any]:
        return self.envelope.snapshot


@dataclass(frozen=True, slots=True)
class HistoryItem:
    updated_at: int
    size_bytes: int
    created_at: datetime


def _safe_int(value: Any, name: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_SAFE_INTEGER:
        raise SnapshotInvalid(f"{name} must be an integer from 0 to {MAX_SAFE_INTEGER}")
    return value


def validate_envelope(value: Any) -> Envelope:
    """Check a decoded envelope; ``SnapshotInvalid`` (422) says which field is wrong."""
    if not isinstance(value, dict):
        raise SnapshotInvalid("the envelope must be a JSON object")
    unknown = sorted(set(value) - _FIELDS)
    if unknown:
        raise SnapshotInvalid(f"unknown envelope fields: {', '.join(map(str, unknown))}")
    for field in ("version", "updatedAt", "snapshot"):
        if field not in value:
            raise SnapshotInvalid(f"the envelope needs {field!r}")
    handle_key = value.get("handleKey")
    if handle_key is not None and (
        not isinstance(handle_key, str) or len(handle_key) > MAX_HANDLE_KEY
    ):
        raise SnapshotInvalid(f"handleKey must be null or a string of at most {MAX_HANDLE_KEY}")
    if not isinstance(value["snapshot"], dict):
        raise SnapshotInvalid("snapshot must be a JSON object")
    return Envelope(
        version=_safe_int(value["version"], "version"),
        updated_at=_safe_int(value["updatedAt"], "updatedAt"),
        handle_key=handle_key,
        snapshot=value["snapshot"],
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_envelope(raw: bytes, *, max_bytes: int) -> Envelope:
    """Decode a request body: 413 over ``max_bytes``, 400 if not JSON, 422 if not an envelope."""
    if len(raw) > max_bytes:
        raise TooLarge(f"the snapshot is over the limit of {max_bytes} bytes")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidInput("the request body is nested too deeply") from None
    except ValueError:  # also JSONDecodeError, bad UTF-8 and over-long integers
        raise InvalidInput("the request body is not valid JSON") from None
    return validate_envelope(value)


def history_path(updated_at: int) -> VPath:
    return VPath(f"/snapshot-{updated_at}.json")


def _decode_stored(entry: Entry, raw: bytes) -> Snapshot:
    value = json.loads(raw)
    envelope = Envelope(
        version=value["version"],
        updated_at=value["updatedAt"],
        handle_key=value.get("handleKey"),
        snapshot=value["snapshot"],
    )
    return Snapshot(envelope, entry.etag, entry.size_bytes, entry.created_at, raw)


def _read(volume: VolumeReader, path: VPath) -> Snapshot:
    entry, raw = volume.read(path, max_bytes=_READ_ALL)
    return _decode_stored(entry, raw)


def _stat(volume: VolumeReader, path: VPath) -> Entry | None:
    try:
        return volume.stat(path)
    except NotFound:
        return None


def _updated_at(volume: VolumeReader, entry: Entry) -> int:
    """From the entry's metadata; a file written by other means is read instead."""
    stamp = entry.meta.get("updatedAt")
    if type(stamp) is int:
        return stamp
    return _read(volume, entry.path).updated_at


def _history(volume: VolumeReader) -> list[tuple[int, Entry]]:
    """History files, newest ``updatedAt`` first."""
    found = []
    for entry in volume.list(paths.ROOT, limit=100_000):
        match = _HISTORY_NAME.fullmatch(entry.name)
        if match and not entry.is_directory:
            found.append((int(match.group(1)), entry))
    found.sort(key=lambda item: item[0], reverse=True)
    return found


def _check_if_match(current: Entry | None, if_match: str | None) -> None:
    if if_match is None:
        return
    if current is None:
        raise PreconditionFailed("there is no latest snapshot, so If-Match cannot match")
    if not current.matches(if_match):
        raise PreconditionFailed(f"the latest snapshot's ETag is {current.etag}")


class SnapshotService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def volume(self, agent_id: str, session_id: str, kind: str = "snapshots") -> VolumeKey:
        validate_agent_id(agent_id)
        return VolumeKey(agent_id, str(parse_session_id(session_id)), kind)  # type: ignore[arg-type]

    def save(
        self, agent_id: str, session_id: str, envelope: Envelope, *, if_match: str | None = None
    ) -> Snapshot:
        """Make ``envelope`` the latest, rotating the previous one into history."""
        raw = envelope.encode()
        if len(raw) > self.settings.snapshot_max_bytes:
            raise TooLarge(
                f"the snapshot has {len(raw)} bytes, over the limit of "
                f"{self.settings.snapshot_max_bytes}"
            )
        content = Content.of(raw)
        meta = {"updatedAt": envelope.updated_at, "version": envelope.version}
        keep = self.settings.snapshot_history

        def run(volume: VolumeWriter) -> Snapshot:
            current = _stat(volume, LATEST)
            _check_if_match(current, if_match)
            if current is not None:
                current_at = _updated_at(volume, current)
                if current_at == envelope.updated_at:
                    if current.content_hash == content.hash:
                        return Snapshot(
                            envelope, current.etag, current.size_bytes, current.created_at, raw
                        )
                    raise SnapshotConflict(
                        f"the latest snapshot already has updatedAt {envelope.updated_at} "
                        "with other content; a changed snapshot needs a new updatedAt"
                    )
            if any(stamp == envelope.updated_at for stamp, _ in _history(volume)):
                raise SnapshotConflict(
                    f"a snapshot in the history has updatedAt {envelope.updated_at}; "
                    "restore it instead, or save with a new updatedAt"
                )
            if current is not None:
                volume.move(LATEST, history_path(current_at))
            entry, _ = volume.write(
                LATEST, content, mode="create", content_type="application/json", meta=meta
            )
            _prune(volume, keep)
            return Snapshot(envelope, entry.etag, entry.size_bytes, entry.created_at, raw)

        return self.store.update(self.volume(agent_id, session_id), run)

    def latest(self, agent_id: str, session_id: str, *, resolve_handle: bool = False) -> Snapshot:
        snapshot = self.store.view(self.volume(agent_id, session_id), _latest)
        if resolve_handle and snapshot.handle_key is not None:
            handle = self.resolve_handle(agent_id, session_id, snapshot.handle_key)
            snapshot = Snapshot(
                snapshot.envelope,
                snapshot.etag,
                snapshot.size_bytes,
                snapshot.created_at,
                snapshot.raw,
                handle,
            )
        return snapshot

    def resolve_handle(self, agent_id: str, session_id: str, handle_key: str) -> Handle:
        """Look ``handle_key`` up among the session's files; gone is reported, not raised."""
        try:
            vpath = paths.validate(handle_key)
            entry = self.store.view(
                self.volume(agent_id, session_id, "files"), lambda v: v.stat(vpath)
            )
        except (PathInvalid, NotFound):
            return Handle(handle_key, False, None, "missing_handle")
        if entry.is_directory:
            return Handle(handle_key, False, None, "missing_handle")
        return Handle(handle_key, True, entry.etag)

    def history(self, agent_id: str, session_id: str) -> list[HistoryItem]:
        """Older snapshots (not the latest), newest first."""
        items = self.store.view(self.volume(agent_id, session_id), _history)
        return [HistoryItem(stamp, e.size_bytes, e.created_at) for stamp, e in items]

    def get(self, agent_id: str, session_id: str, updated_at: int) -> Snapshot:
        """One snapshot by its ``updatedAt``: the latest or one in the history."""

        def run(volume: VolumeReader) -> Snapshot:
            current = _stat(volume, LATEST)
            if current is not None and _updated_at(volume, current) == updated_at:
                return _read(volume, LATEST)
            try:
                return _read(volume, history_path(updated_at))
            except NotFound:
                raise SnapshotNotFound(f"no snapshot with updatedAt {updated_at}") from None

        return self.store.view(self.volume(agent_id, session_id), run)

    def restore(
        self, agent_id: str, session_id: str, updated_at: int, *, if_match: str | None = None
    ) -> Snapshot:
        """Make a history entry the latest; the current latest goes into history."""
        keep = self.settings.snapshot_history

        def run(volume: VolumeWriter) -> Snapshot:
            current = _stat(volume, LATEST)
            _check_if_match(current, if_match)
            if current is not None and _updated_at(volume, current) == updated_at:
                return _read(volume, LATEST)
            source = history_path(updated_at)
            if _stat(volume, source) is None:
                raise SnapshotNotFound(f"no snapshot with updatedAt {updated_at} in the history")
            if current is not None:
                volume.move(LATEST, history_path(_updated_at(volume, current)))
            volume.move(source, LATEST)
            _prune(volume, keep)
            return _read(volume, LATEST)

        return self.store.update(self.volume(agent_id, session_id), run)

    def clear(self, agent_id: str, session_id: str) -> int:
        """Delete the latest snapshot and the whole history; returns how many files went."""
        return self.store.update(self.volume(agent_id, session_id), _clear)


def _latest(volume: VolumeReader) -> Snapshot:
    try:
        return _read(volume, LATEST)
    except NotFound:
        raise SnapshotNotFound("this session has no snapshot yet") from None


def _prune(volume: VolumeWriter, keep: int) -> None:
    for _, entry in _history(volume)[keep:]:
        volume.delete(entry.path)


def _clear(volume: VolumeWriter) -> int:
    total = 0
    for child in volume.list(paths.ROOT, limit=100_000):
        total += volume.delete(child.path, recursive=True)
    return total
