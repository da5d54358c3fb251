"""The values every layer speaks in: entries, changes, sessions, tokens, usage, limits.

The store returns them, the services pass them on, the API renders them and the
SDKs rebuild them from JSON, so they live here, apart from all of those: this
module imports nothing of sessionbox but the vocabulary (``paths``, ``ids``).
A value's JSON form lives with the value (``to_json``/``from_json``), so the
server, both SDKs and the CLI agree on it by construction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sessionbox.ids import Mode, SessionType
from sessionbox.paths import VPath

VolumeKind = Literal["files", "outputs", "snapshots", "applets"]
SESSION_VOLUMES: tuple[VolumeKind, ...] = ("files", "outputs", "snapshots")
"""The volumes every session has; ``applets`` is an agent's, shared by its sessions."""

WriteMode = Literal["create", "update", "upsert"]
"""``create`` refuses an existing file, ``update`` a missing one; ``upsert`` takes both."""


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class VolumeKey:
    """Names a volume: a session's (``session_id`` set) or an agent's shared one."""

    agent_id: str
    session_id: str | None
    kind: VolumeKind


@dataclass(frozen=True, slots=True)
class Entry:
    """A file or directory. ``version`` grows on every change of content or flags."""

    id: uuid.UUID
    path: VPath
    is_directory: bool
    is_readonly: bool
    size_bytes: int
    content_type: str | None
    meta: dict[str, Any]
    version: int
    content_hash: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1] if self.path != "/" else ""

    @property
    def etag(self) -> str:
        """Strong validator: changes with every write, even two in one millisecond."""
        return f'"{self.id.hex}.{self.version}"'

    def matches(self, if_match: str) -> bool:
        """An ``If-Match`` value: ``*``, or a comma-separated list of ETags (RFC 9110)."""
        tags = {tag.strip() for tag in if_match.split(",")}
        return "*" in tags or self.etag in tags

    def to_json(self, session_id: str) -> dict[str, Any]:
        """The entry as the REST API renders it (``EntryOut``); the hash stays private."""
        return {
            "id": str(self.id),
            "session_id": session_id,
            "path": self.path,
            "name": self.name,
            "is_directory": self.is_directory,
            "is_readonly": self.is_readonly,
            "size_bytes": self.size_bytes,
            "content_type": self.content_type,
            "meta": self.meta,
            "etag": self.etag,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Entry:
        """An entry from its JSON; the version is the ETag's suffix (``"<id>.<version>"``).

        The content hash is not part of the REST contract, so it is ``None`` over HTTP.
        """
        return cls(
            id=uuid.UUID(body["id"]),
            path=VPath(body["path"]),
            is_directory=body["is_directory"],
            is_readonly=body["is_readonly"],
            size_bytes=body["size_bytes"],
            content_type=body["content_type"],
            meta=body["meta"],
            version=int(body["etag"].strip('"').rsplit(".", 1)[1]),
            content_hash=None,
            created_at=datetime.fromisoformat(body["created_at"]),
            updated_at=datetime.fromisoformat(body["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change to a volume, as the live feed publishes it.

    ``op`` is ``write``, ``mkdir``, ``attrs``, ``delete``, ``move`` (``to`` set)
    or ``copy`` (``to`` set); ``changed`` with path ``/`` means "something changed,
    look again" (a notification too large to describe). ``Change.gap()`` tells
    every watcher of every session to look again: changes may have been missed.
    """

    agent_id: str
    session_id: str | None
    volume: VolumeKind
    op: str
    path: str
    to: str | None = None

    def to_json(self) -> dict[str, Any]:
        body = {
            "agent": self.agent_id,
            "session": self.session_id,
            "volume": self.volume,
            "op": self.op,
            "path": self.path,
        }
        if self.to is not None:
            body["to"] = self.to
        return body

    @classmethod
    def gap(cls) -> Change:
        """Changes may have been missed (PostgreSQL's listener lost its connection)."""
        return cls("", None, "files", "resync", "/")

    @property
    def is_gap(self) -> bool:
        return self.op == "resync" and self.agent_id == ""

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Change:
        return cls(
            body["agent"], body["session"], body["volume"], body["op"], body["path"], body.get("to")
        )


@dataclass(frozen=True, slots=True)
class SessionRecord:
    agent_id: str
    id: str
    mode: Mode
    type: SessionType
    created_at: datetime
    last_active_at: datetime
    expires_at: datetime | None = None

    @property
    def partition(self) -> str:
        return f"persist:{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The session as the REST API renders it (``SessionOut``)."""
        return {
            "id": self.id,
            "agent_id": self.agent_id,
            "mode": self.mode,
            "type": self.type,
            "partition": self.partition,
            "created_at": _iso(self.created_at),
            "last_active_at": _iso(self.last_active_at),
            "expires_at": _iso(self.expires_at) if self.expires_at else None,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SessionRecord:
        expires = body.get("expires_at")
        return cls(
            agent_id=body["agent_id"],
            id=body["id"],
            mode=body["mode"],
            type=body["type"],
            created_at=datetime.fromisoformat(body["created_at"]),
            last_active_at=datetime.fromisoformat(body["last_active_at"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session ``Store.create_sessions`` makes: its id, mode and type."""

    id: str
    mode: Mode
    type: SessionType


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: its scope and lifetime; the secret itself is never kept."""

    id: str
    agent_id: str
    mode: Mode
    session_id: str | None
    read_only: bool
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """What a session (or an agent volume) holds: bytes of content and entries."""

    bytes_used: int
    entry_count: int


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits every write is checked against (from ``Settings``)."""

    max_file_bytes: int
    session_quota_bytes: int
    max_entries_per_session: int
