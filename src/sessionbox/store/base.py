"""The storage contract every store implements, and the values it speaks in.

A store holds *volumes* (one virtual filesystem each) and the catalog of agents
and sessions that own them. Work on a volume is a function run inside one
transaction (bbolt's ``View``/``Update``):

    store.update(volume, lambda vol: vol.write(VPath("/a.txt"), Content.of(b"hi"), mode="create"))

``view`` sees one consistent snapshot; ``update`` is atomic and serialises with
every other writer of the same session, so a service can do several steps
(snapshot rotation, output id allocation) all-or-nothing. The function may run
more than once when the database asks for a retry (``database is locked``, a
serialisation failure), so it must not have effects outside the volume. Stores
raise only ``sessionbox.errors`` classes, never a driver exception.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, TypeVar, runtime_checkable

from sessionbox.errors import TooLarge
from sessionbox.ids import Mode, SessionType
from sessionbox.paths import VPath

CHUNK_BYTES = 1024 * 1024
"""Content is stored and streamed in chunks of this size."""

INLINE_BYTES = 4096
"""Files up to this size keep their bytes in their entry row (SQL stores), not in a blob:
one row and its index entries per create instead of five B-trees (``bench/RESULTS.md``)."""

VolumeKind = Literal["files", "outputs", "snapshots", "applets"]
SESSION_VOLUMES: tuple[VolumeKind, ...] = ("files", "outputs", "snapshots")
WriteMode = Literal["create", "update", "upsert"]
T = TypeVar("T")


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


ChangeCallback = Callable[[Change], None]

Reader = Callable[[int, int], Iterator[bytes]]
"""Bytes ``[start, end)`` of one version of a file's content; called once."""


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
    bytes_used: int
    entry_count: int


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_bytes: int
    session_quota_bytes: int
    max_entries_per_session: int


@dataclass(slots=True)
class Content:
    """Bytes to store, already hashed: in memory, or in a spooled file."""

    hash: str
    size: int
    data: bytes | None = None
    file: BinaryIO | None = field(default=None, repr=False)

    @classmethod
    def of(cls, data: bytes) -> Content:
        return cls(hash=content_hash(data), size=len(data), data=data)

    @classmethod
    def spool(cls, pieces: Iterable[bytes], *, max_bytes: int, spool_dir: str | None) -> Content:
        """Hash a stream while buffering it, refusing it past ``max_bytes``."""
        spooler = Spooler(max_bytes=max_bytes, spool_dir=spool_dir)
        try:
            for piece in pieces:
                spooler.feed(piece)
        except BaseException:
            spooler.abort()
            raise
        return spooler.finish()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def chunks(self) -> Iterator[bytes]:
        """The content in ``CHUNK_BYTES`` pieces; an empty file is one empty chunk."""
        source: BinaryIO = io.BytesIO(self.data) if self.data is not None else self.file  # type: ignore[assignment]
        source.seek(0)
        first = True
        while True:
            piece = source.read(CHUNK_BYTES)
            if not piece and not first:
                return
            first = False
            yield piece
            if len(piece) < CHUNK_BYTES:
                return


class Spooler:
    """Buffers a stream (on disk past 1 MiB) while hashing it.

    Buffering first keeps a slow upload out of the store's write transaction;
    memory stays at one chunk whatever the size.
    """

    def __init__(self, *, max_bytes: int, spool_dir: str | None) -> None:
        self._max = max_bytes
        self._hasher = hashlib.blake2b(digest_size=32)
        self._buffer = tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES, dir=spool_dir)  # noqa: SIM115
        self._size = 0

    def feed(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._max:
            self.abort()
            raise TooLarge(f"content is over the file size limit of {self._max} bytes")
        self._hasher.update(piece)
        self._buffer.write(piece)

    def abort(self) -> None:
        self._buffer.close()

    def finish(self) -> Content:
        return Content(hash=self._hasher.hexdigest(), size=self._size, file=self._buffer)  # type: ignore[arg-type]


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


class VolumeReader(Protocol):
    """Reads of one volume inside one consistent snapshot."""

    def stat(self, path: VPath) -> Entry:
        """The entry at ``path`` (the root is a synthetic directory); ``NotFound``."""
        ...

    def list(self, path: VPath, *, limit: int, after: str | None = None) -> list[Entry]:
        """Direct children of directory ``path`` sorted by name, names > ``after``."""
        ...

    def read(self, path: VPath, *, max_bytes: int) -> tuple[Entry, bytes]:
        """A whole file; ``IsADirectory``, ``TooLarge`` over ``max_bytes``."""
        ...

    def walk(self, path: VPath, *, with_content: bool) -> Iterator[tuple[Entry, bytes | None]]:
        """``path`` and everything below it, in path order; content of files if asked.

        Without ``with_content`` a file's bytes still come along when the store keeps them
        in the entry itself (small files in SQL stores): of the same version, for free.
        """
        ...

    def usage(self) -> Usage:
        """Bytes and entries of the whole session (or agent volume)."""
        ...


class VolumeWriter(VolumeReader, Protocol):
    """Changes to one volume, committed together when the context exits cleanly."""

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
        """Store a file, creating missing parents; returns (entry, created)."""
        ...

    def mkdir(self, path: VPath, *, exist_ok: bool = False) -> Entry:
        """Create a directory and its missing parents."""
        ...

    def set_attrs(
        self,
        path: VPath,
        *,
        readonly: bool | None = None,
        meta: dict[str, Any] | None = None,
        if_match: str | None = None,
    ) -> Entry:
        """Change flags or metadata without touching content."""
        ...

    def delete(self, path: VPath, *, recursive: bool = False, if_match: str | None = None) -> int:
        """Remove an entry (a tree with ``recursive``); returns how many entries went."""
        ...

    def move(
        self, src: VPath, dst: VPath, *, overwrite: bool = False, if_match: str | None = None
    ) -> Entry:
        """Rename a file or a whole tree; ``Exists`` unless ``overwrite``."""
        ...

    def copy(self, src: VPath, dst: VPath, *, overwrite: bool = False) -> Entry:
        """Copy a file or tree; content blobs are shared, never copied."""
        ...


class Catalog(Protocol):
    """Agents and sessions: who owns which volumes."""

    def create_session(
        self,
        agent_id: str,
        session_id: str,
        mode: Mode,
        type_: SessionType,
        expires_at: datetime | None = None,
    ) -> SessionRecord: ...

    def get_session(self, agent_id: str, session_id: str) -> SessionRecord: ...

    def list_sessions(
        self,
        agent_id: str,
        *,
        limit: int,
        after: str | None = None,
        mode: Mode | None = None,
        type_: SessionType | None = None,
    ) -> list[SessionRecord]: ...

    def delete_session(self, agent_id: str, session_id: str) -> None: ...

    def list_agents(self, *, limit: int, after: str | None = None) -> list[str]: ...

    def stale_sessions(
        self, *, idle_before: datetime | None, limit: int, after: tuple[str, str] | None = None
    ) -> list[SessionRecord]:
        """Expired sessions, and those idle since before ``idle_before``, by (agent, id)."""
        ...

    def delete_stale_session(
        self, agent_id: str, session_id: str, *, idle_before: datetime | None
    ) -> bool:
        """Delete the session only if it is still expired or idle; False if not."""
        ...

    def gc_mark(self) -> int:
        """Mark blobs no entry references (phase one of GC); returns how many."""
        ...

    def gc_sweep(self, marked_before: datetime) -> tuple[int, int]:
        """Remove blobs marked before then and still unreferenced: (count, bytes).

        Safe while writers run: a writer reusing a blob clears its mark and holds it
        locked until commit; the sweep skips locked blobs and re-checks references.
        """
        ...

    def clear_dead_dirs(self) -> int:
        """Remove host directories of sessions that do not exist (left by a crash during
        a create, an import or a delete); returns how many. The server runs it at start-up."""
        ...

    def open_session(
        self, agent_id: str, session_id: str, mode: Mode, type_: SessionType, *, create: bool
    ) -> tuple[SessionRecord, bool]:
        """Get-or-create in one transaction; returns (record, created).

        An existing session counts as used (``last_active_at`` moves). With
        ``create=False`` a missing session is ``SessionNotFound``.
        """
        ...

    def create_token(self, token: TokenRecord, secret_hash: str) -> None:
        """Store a token under the hash of its secret."""
        ...

    def find_token(self, secret_hash: str) -> tuple[TokenRecord, str] | None:
        """The token with that secret hash and the stored hash (revoked/expired included)."""
        ...

    def list_tokens(
        self, *, limit: int, after: str | None = None, agent_id: str | None = None
    ) -> list[TokenRecord]:
        """Tokens by id (creation order), revoked and expired ones included."""
        ...

    def revoke_token(self, token_id: str) -> TokenRecord:
        """Mark a token revoked (idempotent); ``TokenNotFound`` if there is none."""
        ...


class Store(Catalog, Protocol):
    """A catalog plus the volumes it owns; what ``open_store(url)`` returns."""

    url: str

    def view(self, volume: VolumeKey, fn: Callable[[VolumeReader], T]) -> T:
        """Run ``fn`` in a read transaction; ``SessionNotFound`` for a missing session."""
        ...

    def update(self, volume: VolumeKey, fn: Callable[[VolumeWriter], T]) -> T:
        """Run ``fn`` in a write transaction, committed when it returns."""
        ...

    def create_file(
        self,
        volume: VolumeKey,
        path: VPath,
        content: Content,
        *,
        readonly: bool = False,
        content_type: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Entry:
        """What ``update(volume, lambda v: v.write(path, content, mode="create", ...))``
        returns, with the same errors; the most frequent write, so a store may make
        a small file in one statement."""
        ...

    def stat(self, volume: VolumeKey, path: VPath) -> Entry:
        """What ``view(volume, lambda v: v.stat(path))`` returns, with the same errors;
        frequent enough that a store may answer it in one statement."""
        ...

    def list_dir(
        self, volume: VolumeKey, path: VPath, *, limit: int, after: str | None = None
    ) -> list[Entry]:
        """What ``view(volume, lambda v: v.list(path, limit=..., after=...))`` returns,
        with the same errors (one statement where a store can)."""
        ...

    def read_file(self, volume: VolumeKey, path: VPath, *, max_bytes: int) -> tuple[Entry, bytes]:
        """What ``view(volume, lambda v: v.read(path, max_bytes=...))`` returns, with the
        same errors; the most frequent call, so a store may answer it in one statement."""
        ...

    def open_file(self, volume: VolumeKey, path: VPath) -> tuple[Entry, Reader]:
        """A file's entry and a reader of that very version's bytes, even when the file
        is replaced before or while it is read (a raw read's headers and body agree).
        ``IsADirectory`` for a directory."""
        ...

    def read_bytes(self, volume: VolumeKey, path: VPath, *, max_bytes: int) -> bytes:
        """``read_file`` without the entry, for callers that want only the content."""
        ...

    def create_sessions(
        self,
        agent_id: str,
        sessions: Sequence[NewSession],
        steps: Sequence[tuple[VolumeKey, Callable[[VolumeWriter], Any]]],
    ) -> list[Any]:
        """Create ``sessions`` and run each step's function on its volume (one of those
        sessions' or one of the agent's), all in ONE write transaction; the results in
        order. ``Exists`` if an id is taken. After a crash the sessions exist with all
        the steps' changes, or do not exist at all (how an import stays whole)::

            store.create_sessions(a, [NewSession(sid, "safe", "named")],
                                  [(VolumeKey(a, sid, "files"), write_them)])
        """
        ...

    def read_chunks(self, volume: VolumeKey, entry: Entry, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of ``entry``'s content, fetched chunk by chunk."""
        ...

    def watch(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback`` (from any thread) after every committed change; returns an
        unsubscribe function. PostgreSQL also reports changes made by other processes."""
        ...

    def ping(self) -> None:
        """Raise ``Unavailable`` if the database cannot be reached."""
        ...

    def scope_dir(self, agent_id: str, session_id: str) -> Path | None:
        """The host directory holding a session's ``files``, when it is a plain directory."""
        ...

    def migrate(self) -> list[str]:
        """Apply pending schema migrations; returns the names applied."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class SelfChecking(Protocol):
    """A store that can audit itself; the crash and fault suites require it of every store."""

    def check_invariants(self, agent_id: str | None = None) -> list[str]:
        """Violations found (every parent exists, no blob or chunk missing, no orphan
        rows, counters equal actual usage), one line each; empty when all hold."""
        ...
