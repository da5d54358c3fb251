"""The filesystem's rules, written once: what every volume checks before its I/O.

A volume (``SqlVolume`` in SQL rows, ``DirVolume`` in a host directory) finds the
facts with its own primitives (what is at a path, the first file in the way of
its parents, whether a directory is empty) and asks these functions whether the
operation may go ahead; each raises the one error, with the one wording, that
both volumes give. ``Quota`` is the session's limits as one transaction spends
them. Nothing here does I/O, so the rules are tested as a table
(``tests/store/test_rules.py``), and a new volume implementation writes only
its primitives.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sessionbox import paths
from sessionbox.errors import (
    DirectoryNotEmpty,
    Exists,
    IsADirectory,
    MoveIntoSelf,
    NotADirectory,
    NotFound,
    PathInvalid,
    PreconditionFailed,
    QuotaExceeded,
    ReadOnly,
    TooLarge,
)
from sessionbox.paths import ROOT, VPath
from sessionbox.types import Entry, Limits, Usage, WriteMode

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ROOT_ID = uuid.UUID(int=0)


def root_entry() -> Entry:
    """The root directory: always there, never changed, the same in every volume."""
    return Entry(
        id=_ROOT_ID,
        path=ROOT,
        is_directory=True,
        is_readonly=False,
        size_bytes=0,
        content_type=None,
        meta={},
        version=0,
        content_hash=None,
        created_at=EPOCH,
        updated_at=EPOCH,
    )


# -- the errors a volume finds during its own lookups ---------------------------------


def not_found(path: VPath) -> NotFound:
    return NotFound(f"no such file or directory: {path}")


def no_such_file(path: VPath) -> NotFound:
    return NotFound(f"no such file: {path}")


def is_a_directory(path: VPath) -> IsADirectory:
    return IsADirectory(f"is a directory: {path}")


def not_a_directory(path: VPath) -> NotADirectory:
    return NotADirectory(f"not a directory: {path}")


def file_in_the_way(path: VPath) -> NotADirectory:
    """``path`` is a file where a directory above the target must be."""
    return NotADirectory(f"{path} is a file, not a directory")


def not_empty(path: VPath) -> DirectoryNotEmpty:
    return DirectoryNotEmpty(f"{path} is not empty; delete it with recursive=true")


# -- checks, each before the I/O of one operation --------------------------------------


def check_if_match(entry: Entry, if_match: str | None) -> None:
    if if_match is not None and not entry.matches(if_match):
        raise PreconditionFailed(f"{entry.path} has changed (ETag {entry.etag})")


def check_read(entry: Entry, max_bytes: int) -> None:
    """A whole file into memory: not a directory, and within ``max_bytes``."""
    if entry.is_directory:
        raise is_a_directory(entry.path)
    check_read_size(entry.path, entry.size_bytes, max_bytes)


def check_read_size(path: VPath, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise TooLarge(
            f"{path} has {size} bytes, more than {max_bytes} can be "
            "returned at once; stream it with ?raw=1"
        )


def check_write(
    path: VPath,
    existing: Entry | None,
    *,
    mode: WriteMode,
    if_match: str | None,
    blocked: VPath | None = None,
) -> None:
    """Before a file is written at ``path``, where ``existing`` is (None: nothing) and
    ``blocked`` is the file in the way of its parents, if any (parents are made)."""
    if existing is None:
        if mode == "update":
            raise no_such_file(path)
        if if_match is not None:
            raise PreconditionFailed(f"{path} does not exist, so If-Match cannot match")
        if blocked is not None:
            raise file_in_the_way(blocked)
        return
    if existing.is_directory:
        raise is_a_directory(path)
    if mode == "create":
        raise Exists(f"already exists: {path}")
    check_if_match(existing, if_match)
    if existing.is_readonly:
        raise ReadOnly(f"{path} is read-only; clear is_readonly before changing it")


def check_mkdir(
    path: VPath, existing: Entry | None, *, exist_ok: bool, blocked: VPath | None = None
) -> Entry | None:
    """Before a directory is made at ``path``: ``existing`` when it is a directory and
    ``exist_ok`` (the caller returns it, nothing to make), else None."""
    if existing is not None:
        if existing.is_directory and exist_ok:
            return existing
        raise Exists(f"already exists: {path}")
    if blocked is not None:
        raise file_in_the_way(blocked)
    return None


def check_attrs(entry: Entry, if_match: str | None) -> None:
    """Before flags or metadata of ``entry`` change."""
    if entry.path == ROOT:
        raise PathInvalid("the root directory has no attributes to change")
    check_if_match(entry, if_match)


def check_delete(
    entry: Entry, *, if_match: str | None, recursive: bool, empty: Callable[[], bool]
) -> None:
    """Before ``entry`` (the root: everything in the volume) goes; ``empty`` says whether
    it has no children, asked only when that matters. Read-only entries may be deleted:
    the flag guards content, not names."""
    check_if_match(entry, if_match)
    if entry.is_directory and not recursive and not empty():
        raise not_empty(entry.path)


def check_move(entry: Entry, dst: VPath, *, if_match: str | None) -> bool:
    """Before ``entry`` moves to ``dst``: whether there is anything to do (not onto itself)."""
    check_if_match(entry, if_match)
    if entry.path == dst:
        return False
    check_placement(entry, dst)
    return True


def check_copy(entry: Entry, dst: VPath) -> None:
    """Before ``entry`` is copied to ``dst``."""
    if entry.path == dst:
        raise Exists(f"cannot copy {entry.path} onto itself")
    check_placement(entry, dst)


def check_placement(src: Entry, dst: VPath) -> None:
    """A move or copy of ``src`` to ``dst``, judged by the paths alone."""
    if src.path == ROOT:
        raise PathInvalid("the root directory cannot be moved or copied")
    if src.is_directory and paths.is_within(dst, src.path):
        raise MoveIntoSelf(f"cannot put {src.path} inside itself ({dst})")
    if paths.is_within(src.path, dst):
        raise MoveIntoSelf(f"{dst} contains {src.path}; it cannot be replaced by it")


def check_target(
    dst: VPath, target: Entry | None, *, overwrite: bool, blocked: VPath | None = None
) -> None:
    """What is at the target of a move or copy (``target``) may be replaced by it."""
    if target is not None:
        if not overwrite:
            raise Exists(f"already exists: {dst}; pass overwrite=true to replace it")
        if target.is_readonly:
            raise ReadOnly(f"{dst} is read-only and cannot be replaced")
    elif blocked is not None:
        raise file_in_the_way(blocked)


class Quota:
    """The session's limits as one write transaction spends them.

    ``usage`` is what the session (or agent volume) held when the transaction began,
    or ``count`` gives it on first need (a reader or a shrinking write may never need
    it). Growth is refused before the I/O that would make it.
    """

    def __init__(
        self,
        limits: Limits | None,
        *,
        usage: Usage | None = None,
        count: Callable[[], Usage] | None = None,
    ) -> None:
        self.limits = limits
        self._base = usage
        self._count = count
        self._bytes = 0
        self._entries = 0

    @property
    def grown(self) -> Usage:
        """What this transaction added (negative: freed), for the store's counters."""
        return Usage(self._bytes, self._entries)

    def usage(self) -> Usage:
        if self._base is None:
            assert self._count is not None, "a Quota needs usage or a way to count it"
            self._base = self._count()
        return Usage(self._base.bytes_used + self._bytes, self._base.entry_count + self._entries)

    def check_file(self, size: int) -> None:
        if self.limits is not None and size > self.limits.max_file_bytes:
            raise TooLarge(
                f"{size} bytes is over the file size limit of {self.limits.max_file_bytes}"
            )

    def has_room(self, new_bytes: int, new_entries: int) -> bool:
        if self.limits is None:
            return True
        used = self.usage()
        return (
            used.bytes_used + new_bytes <= self.limits.session_quota_bytes
            and used.entry_count + new_entries <= self.limits.max_entries_per_session
        )

    def reserve(self, new_bytes: int, new_entries: int) -> None:
        """Account for a change about to be made, refusing growth past the limits
        (shrinking is always allowed, even over a limit lowered since)."""
        limits = self.limits
        if limits is not None and (new_bytes > 0 or new_entries > 0):
            used = self.usage()
            if new_bytes > 0 and used.bytes_used + new_bytes > limits.session_quota_bytes:
                raise QuotaExceeded(
                    f"the session would hold {used.bytes_used + new_bytes} bytes, "
                    f"over its quota of {limits.session_quota_bytes}"
                )
            if new_entries > 0 and used.entry_count + new_entries > limits.max_entries_per_session:
                raise QuotaExceeded(
                    f"the session would hold more than {limits.max_entries_per_session} entries"
                )
        self._bytes += new_bytes
        self._entries += new_entries

    def add(self, new_bytes: int, new_entries: int) -> None:
        """Account for a change already checked (``has_room``) and made."""
        self._bytes += new_bytes
        self._entries += new_entries
