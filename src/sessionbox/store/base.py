"""The storage contract every store implements (its values are in ``sessionbox.types``).

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

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from sessionbox.content import Content
from sessionbox.ids import Mode, SessionType
from sessionbox.paths import VPath
from sessionbox.types import (
    Change,
    Entry,
    NewSession,
    SessionRecord,
    TokenRecord,
    Usage,
    VolumeKey,
    WriteMode,
)

T = TypeVar("T")

ChangeCallback = Callable[[Change], None]

Reader = Callable[[int, int], Iterator[bytes]]
"""Bytes ``[start, end)`` of one version of a file's content; called once."""


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
