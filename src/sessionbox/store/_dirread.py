"""Reading a directory-backed volume: finding entries on disk and describing them.

``DirReader`` is the read half of ``_dirvolume.DirVolume``: it walks paths with
``_safefs`` (never following links), joins what the disk says with the
sidecar rows (``_dirmeta``), and counts usage. Files changed by native tools
are described as they are on disk.
"""

from __future__ import annotations

import builtins
import hashlib
import mimetypes
import os
import stat
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sessionbox import paths
from sessionbox.errors import (
    NotADirectory,
    PathForbidden,
    PathInvalid,
    PathReserved,
    TooLarge,
    Unavailable,
)
from sessionbox.paths import ROOT, VPath
from sessionbox.store import _rules as rules
from sessionbox.store import _safefs as sfs
from sessionbox.store._dirmeta import DirMeta, MetaRow
from sessionbox.types import Entry, Limits, Usage

RECOUNT_AFTER = timedelta(seconds=5)
"""How long a counted usage is trusted before the disk is counted again."""

_NATIVE = uuid.UUID("5e55b0c5-d1f0-4a1e-9d1b-000000000001")
"""uuid5 namespace for the ids of files sessionbox has no sidecar row for."""

Place = tuple[Path, tuple[str, ...]]
"""A volume's directory: a trusted base the operator configured, and parts below it."""


def segments(path: VPath) -> builtins.list[str]:
    return list(paths.iter_segments(path))


def stamp_of(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return f"d{st.st_ino}"
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _valid_name(name: str) -> bool:
    try:
        return paths.validate("/" + name) != ROOT and "/" not in name
    except PathInvalid:
        return False


def visible(parts: builtins.list[str], st: os.stat_result) -> bool:
    """Listed and walked: valid names of directories and singly-linked regular files.

    ``parts`` ends with the name; its ancestors must have been checked already.
    """
    name = parts[-1]
    if name.startswith(sfs.TMP_PREFIX) or not _valid_name(name) or sfs.is_sensitive(parts[-2:]):
        return False
    return stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1)


@dataclass(slots=True)
class Census:
    """Everything below a directory on disk, hidden entries included."""

    entries: int = 0
    bytes: int = 0
    sensitive: bool = False
    unusual: bool = False  # a symlink, special file or hard link


def census(dir_fd: int, prefix: builtins.list[str], into: Census) -> Census:
    for parts, _, items in sfs.walk_dirs(dir_fd):
        for name, st in items:
            into.entries += 1
            above = parts[-1] if parts else (prefix[-1] if prefix else "")
            into.sensitive = into.sensitive or sfs.is_sensitive([above, name])
            if stat.S_ISREG(st.st_mode):
                into.bytes += st.st_size
                into.unusual = into.unusual or st.st_nlink > 1
            elif not stat.S_ISDIR(st.st_mode):
                into.unusual = True
    return into


def scan_usage(places: builtins.list[Place]) -> Usage:
    total = Census()
    for base, parts in places:
        fd = sfs.open_root(base, parts, create=False)
        if fd is not None:
            try:
                census(fd, [], total)
            finally:
                os.close(fd)
    return Usage(total.bytes, total.entries)


RACY_NS = 50_000_000
"""A stamp recorded this soon after the file's ctime cannot tell a same-size rewrite
in the same kernel clock tick (timestamps are coarse, ~1-10 ms) from sessionbox's
own write: such rows are only trusted after comparing the content hash (git's
"racily clean" rule)."""


RACY_HASH_MAX = 16 * 1024 * 1024
"""Larger racy files are trusted by their stamp (rewriting one takes longer than a tick)."""


def _trusted(row: MetaRow, st: os.stat_result, content_digest: Callable[[], str]) -> bool:
    """Whether the sidecar row still describes the file on disk."""
    stamp, _, recorded = row.stamp.partition("@")
    if stamp != stamp_of(st):
        return False
    if stat.S_ISDIR(st.st_mode) or recorded in ("", "fine"):
        return True
    if int(recorded) - st.st_ctime_ns >= RACY_NS or st.st_size > RACY_HASH_MAX:
        return True
    return content_digest() == row.content_hash


def _time_of(ns: int) -> datetime:
    """A file time; one a native tool set out of range reads as the epoch."""
    try:
        return datetime.fromtimestamp(ns / 1e9, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return rules.EPOCH


def _hash_fd(fd: int) -> str:
    hasher = hashlib.blake2b(digest_size=32)
    for piece in sfs.read_pieces(fd):
        hasher.update(piece)
    return hasher.hexdigest()


class DirReader:
    """Reads of one directory-backed volume inside one store transaction."""

    def __init__(
        self,
        meta: DirMeta,
        place: Place,
        *,
        kind: str,
        usage: Usage,
        owner_places: dict[str, Place],
        limits: Limits | None = None,
    ) -> None:
        self._meta = meta
        self._base, self._root_parts = place
        self._kind = kind
        self._key = "/".join(self._root_parts)
        self._usage = usage
        self._owner_places = owner_places
        self._limits = limits
        self._now = datetime.now(UTC)
        self._quota: rules.Quota | None = None

    @property
    def quota(self) -> rules.Quota:
        """Made on first need (a reader rarely has one); its count holds no ``self``, so
        the volume is freed as soon as its transaction drops it."""
        if self._quota is None:
            meta, kind, owners, usage = self._meta, self._kind, self._owner_places, self._usage
            now, save = self._now, self._limits is not None
            self._quota = rules.Quota(
                self._limits, count=lambda: _counted(meta, kind, owners, usage, now, save=save)
            )
        return self._quota

    # -- finding things ----------------------------------------------------------

    def _root(self, *, create: bool = False) -> int | None:
        with sfs.os_errors("the volume directory"):
            return sfs.open_root(self._base, self._root_parts, create=create)

    def _open(self, parts: builtins.list[str]) -> int | None:
        """The directory at ``parts``; None if it or an ancestor is missing or a file."""
        fd = self._root()
        for part in parts:
            if fd is None:
                return None
            try:
                child = sfs.open_child_dir(fd, part)
            except NotADirectory:
                child = None
            finally:
                os.close(fd)
            fd = child
        return fd

    def _guard(self, path: VPath) -> None:
        """Refuse sessionbox's own temporary names and Caco's sensitive names."""
        parts = segments(path)
        if any(part.startswith(sfs.TMP_PREFIX) for part in parts):
            raise PathReserved(f"names starting with {sfs.TMP_PREFIX} are sessionbox's own")
        if sfs.is_sensitive(parts):
            raise PathForbidden(f"{path} is a sensitive name; it is never read or written")

    def _find(self, path: VPath) -> tuple[int, str, os.stat_result]:
        """Parent directory fd (the caller closes it), name and lstat of ``path``."""
        parts = segments(path)
        with sfs.os_errors(path):
            fd = self._open(parts[:-1])
            if fd is None:
                raise rules.not_found(path)
            try:
                st = sfs.lstat_at(fd, parts[-1])
                if st is None:
                    raise rules.not_found(path)
                if not stat.S_ISDIR(st.st_mode):
                    sfs.check_regular(st, path)
            except BaseException:
                os.close(fd)
                raise
        return fd, parts[-1], st

    def _find_file(self, path: VPath) -> tuple[int, str, os.stat_result]:
        """``_find`` for a file: ``IsADirectory`` for a directory, the root included."""
        if path == ROOT:
            raise rules.is_a_directory(path)
        self._guard(path)
        fd, name, st = self._find(path)
        if stat.S_ISDIR(st.st_mode):
            os.close(fd)
            raise rules.is_a_directory(path)
        return fd, name, st

    def _entry(
        self,
        dir_fd: int,
        name: str,
        path: VPath,
        st: os.stat_result,
        row: MetaRow | None,
        digest: str | None = None,
        content_fd: int | None = None,
    ) -> Entry:
        """``content_fd``: the file already open, whose bytes an untrusted row is hashed from."""
        is_dir = stat.S_ISDIR(st.st_mode)
        mtime = _time_of(st.st_mtime_ns)

        def content_digest() -> str:
            nonlocal digest
            if digest is None:
                if content_fd is not None:
                    digest = _hash_fd(content_fd)
                else:
                    fd, _ = sfs.open_regular(dir_fd, name)
                    try:
                        digest = _hash_fd(fd)
                    finally:
                        os.close(fd)
            return digest

        if row is not None and _trusted(row, st, content_digest):
            version, digest = row.version, row.content_hash
        elif is_dir:
            version, digest = 1, None
        else:  # changed outside sessionbox: the content decides the version
            version = int(content_digest()[:13], 16)
        return Entry(
            id=row.id if row else uuid.uuid5(_NATIVE, f"{self._key}:{path}"),
            path=path,
            is_directory=is_dir,
            is_readonly=(bool(row and row.is_readonly) if is_dir else not st.st_mode & 0o200),
            size_bytes=0 if is_dir else st.st_size,
            content_type=(
                row.content_type if row else None if is_dir else mimetypes.guess_type(name)[0]
            ),
            meta=row.meta if row else {},
            version=version,
            content_hash=None if is_dir else digest,
            created_at=row.created_at if row else mtime,
            updated_at=mtime,
        )

    def _record(self, dir_fd: int, name: str, entry: Entry, mtime_ns: int | None = None) -> None:
        """Remember ``entry`` with the stat identity its file has now.

        ``mtime_ns`` is the fine mtime ``atomic_write`` set; if the filesystem kept it,
        the stamp alone is proof against native rewrites (``@fine``); otherwise the row
        records when it was made, for the racy check in ``_trusted``.
        """
        st = sfs.lstat_at(dir_fd, name)
        if st is None:
            raise Unavailable(f"{entry.path} disappeared while it was being written")
        fine = mtime_ns is not None and st.st_mtime_ns == mtime_ns
        marker = "fine" if fine else str(time.time_ns())
        self._meta.put(
            [
                MetaRow(
                    path=entry.path,
                    id=entry.id,
                    is_readonly=entry.is_readonly,
                    content_type=entry.content_type,
                    meta=entry.meta,
                    version=entry.version,
                    content_hash=entry.content_hash,
                    created_at=entry.created_at,
                    stamp=f"{stamp_of(st)}@{marker}",
                )
            ]
        )

    # -- reading -------------------------------------------------------------------

    def stat(self, path: VPath) -> Entry:
        if path == ROOT:
            return rules.root_entry()
        self._guard(path)
        fd, name, st = self._find(path)
        try:
            with sfs.os_errors(path):
                return self._entry(fd, name, path, st, self._meta.get(path))
        finally:
            os.close(fd)

    def open(self, path: VPath) -> tuple[Entry, HeldFile]:
        """A file's entry and its bytes, both of the version open now.

        The descriptor is opened here, under the caller's view (the volume's shared
        lock), and the entry is made from its ``fstat``: a writer replaces a file by
        renaming a new one over it, so the open file keeps serving the version the
        entry describes, however long the stream takes to start.
        """
        fd, name, _ = self._find_file(path)
        try:
            with sfs.os_errors(path):
                file_fd, opened = sfs.open_regular(fd, name)
                held = HeldFile(file_fd, path)
                try:
                    row = self._meta.get(path)
                    return self._entry(fd, name, path, opened, row, content_fd=file_fd), held
                except BaseException:
                    held.close()
                    raise
        finally:
            os.close(fd)

    def _open_listed(self, path: VPath) -> int | None:
        if path == ROOT:
            return self._root()
        fd, name, st = self._find(path)
        try:
            if not stat.S_ISDIR(st.st_mode):
                raise rules.not_a_directory(path)
            with sfs.os_errors(path):
                return sfs.open_child_dir(fd, name)
        finally:
            os.close(fd)

    def _children(self, dir_fd: int, path: VPath) -> builtins.list[tuple[str, os.stat_result]]:
        parent = segments(path)[-1:]
        with os.scandir(dir_fd) as found:
            items = [(item.name, item.stat(follow_symlinks=False)) for item in found]
        return sorted((n, st) for n, st in items if visible([*parent, n], st))

    def list(self, path: VPath, *, limit: int, after: str | None = None) -> builtins.list[Entry]:
        if path != ROOT:
            self._guard(path)
        fd = self._open_listed(path)
        if fd is None:
            return []
        try:
            with sfs.os_errors(path):
                rows = self._meta.children(path)
                items = [(n, st) for n, st in self._children(fd, path) if n > (after or "")]
                return [
                    self._entry(fd, n, paths.join(path, n), st, rows.get(n))
                    for n, st in items[:limit]
                ]
        finally:
            os.close(fd)

    def read(self, path: VPath, *, max_bytes: int) -> tuple[Entry, bytes]:
        fd, name, st = self._find_file(path)
        try:
            rules.check_read_size(path, st.st_size, max_bytes)
            with sfs.os_errors(path):
                file_fd, opened = sfs.open_regular(fd, name)
                try:
                    data = b"".join(sfs.read_pieces(file_fd, 0, max_bytes + 1))
                finally:
                    os.close(file_fd)
                if len(data) > max_bytes:
                    raise TooLarge(f"{path} grew past {max_bytes} bytes while it was read")
                digest = hashlib.blake2b(data, digest_size=32).hexdigest()
                return self._entry(fd, name, path, opened, self._meta.get(path), digest), data
        finally:
            os.close(fd)

    def _tree(self, dir_fd: int, path: VPath, out: builtins.list[Entry]) -> None:
        prefix = segments(path)

        def listed(parts: builtins.list[str], st: os.stat_result) -> bool:
            return visible(([*prefix, *parts])[-2:], st)

        for parts, fd, _ in sfs.walk_dirs(dir_fd, listed):
            here = VPath("/" + "/".join([*prefix, *parts])) if prefix or parts else ROOT
            rows = self._meta.children(here)
            for name, st in self._children(fd, here):
                out.append(self._entry(fd, name, paths.join(here, name), st, rows.get(name)))

    def walk(self, path: VPath, *, with_content: bool) -> Iterator[tuple[Entry, bytes | None]]:
        top = self.stat(path)
        tree = [top] if path != ROOT else []
        if top.is_directory:
            fd = self._open_listed(path)
            if fd is not None:
                try:
                    with sfs.os_errors(path):
                        self._tree(fd, path, tree)
                finally:
                    os.close(fd)
        tree.sort(key=lambda e: e.path)
        for entry in tree:
            data = None
            if with_content and not entry.is_directory:
                data = self.read(entry.path, max_bytes=entry.size_bytes)[1]
            yield entry, data

    def usage(self) -> Usage:
        return self.quota.usage()


def _counted(
    meta: DirMeta,
    kind: str,
    owner_places: dict[str, Place],
    usage: Usage,
    now: datetime,
    *,
    save: bool,
) -> Usage:
    """The owner's usage: the store's counters (of its volumes kept in SQL), plus its
    directory-backed volumes as last counted, or counted on disk now.

    A count younger than ``RECOUNT_AFTER`` plus sessionbox's own changes since is
    trusted; an older one is redone, so native tools' changes are counted too. A writer
    (``save``) stores what it counted.
    """
    since = now - RECOUNT_AFTER
    total = usage
    with sfs.os_errors("the volume directory"):
        for vid, owned in meta.owner_volumes() or [(-1, kind)]:
            place = owner_places.get(owned)
            if place is None:
                continue  # kept in SQL: in the store's counters already
            counted = meta.counted(vid, since) if vid >= 0 else None
            if counted is None:
                counted = scan_usage([place])
                if save and vid >= 0:
                    meta.save_count(vid, counted, now)
            total = Usage(
                total.bytes_used + counted.bytes_used, total.entry_count + counted.entry_count
            )
    return total


class HeldFile:
    """An open file of a directory volume, read once as ``held(start, end)``.

    The stream closes the descriptor when it ends. A stream never started (a 304, a
    client gone before the body) closes it when the last reference goes; one abandoned
    midway, when its generator is collected. A second read is refused: the descriptor
    may be closed by then, and its number reused by another file.
    """

    def __init__(self, fd: int, path: VPath) -> None:
        self._fd = fd
        self._path = path
        self._close = weakref.finalize(self, os.close, fd)
        self._read = False

    def __call__(self, start: int, end: int) -> Iterator[bytes]:
        if self._read:
            raise RuntimeError(f"{self._path} was opened for one read")
        self._read = True
        return self._pieces(start, end)

    def _pieces(self, start: int, end: int) -> Iterator[bytes]:
        try:
            with sfs.os_errors(self._path):
                yield from sfs.read_pieces(self._fd, start, end)
        finally:
            self.close()

    def close(self) -> None:
        self._close()


def read_range(place: Place, entry: Entry, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of a file of a directory volume, streamed from disk: of the
    version ``entry`` describes (a walk's, as an export streams it), or ``Unavailable``."""
    if entry.is_directory or start >= end:
        return
    base, root = place
    parts = segments(entry.path)
    if sfs.is_sensitive(parts):
        raise PathForbidden(f"{entry.path} is a sensitive name; it is never read")
    # Opened under the volume's shared lock: mid-update, a file about to be replaced is
    # hard-linked into the undo journal, and a reader must not take that for a foreign link.
    # The descriptor then reads that version, whatever is renamed over the path later.
    with sfs.volume_lock(base, root, shared=True), sfs.os_errors(entry.path):
        parent = sfs.open_root(base, [*root, *parts[:-1]], create=False)
        if parent is None:
            raise Unavailable(f"{entry.path} disappeared while it was being read")
        try:
            fd, opened = sfs.open_regular(parent, parts[-1])
        finally:
            os.close(parent)
    held = HeldFile(fd, entry.path)
    # Every write sets a fine-grained mtime (atomic_write), so size and time together
    # tell a replacement apart, a same-size one too.
    if (opened.st_size, _time_of(opened.st_mtime_ns)) != (entry.size_bytes, entry.updated_at):
        held.close()
        raise Unavailable(f"content of {entry.path} changed while it was being read")
    yield from held(start, end)
