"""A volume that is a plain directory on the host, so native tools can work in it.

``DirVolume`` implements ``VolumeReader``/``VolumeWriter`` with the same
semantics as ``SqlVolume``: the SQL store hands one out, inside its
transaction and under its session lock, for every directory-backed volume
(``dir:///`` stores, and the ``files`` volume of every unsafe session). What a
plain file cannot carry lives in the sidecar (``_dirmeta``); files changed by
native tools are seen as they are on disk. Path safety is ``_safefs``'s.

Every check runs before the first change on disk, so a refused operation has
no effect; the changes themselves are single renames where the OS allows.
"""

from __future__ import annotations

import builtins
import hashlib
import mimetypes
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sessionbox import paths
from sessionbox.errors import (
    DirectoryNotEmpty,
    Exists,
    IsADirectory,
    MoveIntoSelf,
    NotADirectory,
    NotFound,
    PathForbidden,
    PathInvalid,
    PathReserved,
    PreconditionFailed,
    QuotaExceeded,
    ReadOnly,
    TooLarge,
    Unavailable,
)
from sessionbox.ids import uuid7
from sessionbox.paths import ROOT, VPath
from sessionbox.store import _safefs as sfs
from sessionbox.store._dirmeta import DirMeta, MetaRow
from sessionbox.store._volume import check_if_match, root_entry
from sessionbox.store.base import Content, Entry, Limits, Usage, WriteMode

RECOUNT_AFTER = timedelta(seconds=5)
"""How long a counted usage is trusted before the disk is counted again."""

_NATIVE = uuid.UUID("5e55b0c5-d1f0-4a1e-9d1b-000000000001")
"""uuid5 namespace for the ids of files sessionbox has no sidecar row for."""

Place = tuple[Path, tuple[str, ...]]
"""A volume's directory: a trusted base the operator configured, and parts below it."""


def _parts(path: VPath) -> builtins.list[str]:
    return list(paths.iter_segments(path))


def _stamp(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return f"d{st.st_ino}"
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _valid_name(name: str) -> bool:
    try:
        return paths.validate("/" + name) != ROOT and "/" not in name
    except PathInvalid:
        return False


def visible(parts: builtins.list[str], st: os.stat_result) -> bool:
    """Listed and walked: valid names of directories and singly-linked regular files."""
    name = parts[-1]
    if name.startswith(sfs.TMP_PREFIX) or not _valid_name(name) or sfs.is_sensitive(parts):
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
    with os.scandir(dir_fd) as found:
        items = [(item.name, item.stat(follow_symlinks=False)) for item in found]
    for name, st in items:
        into.entries += 1
        into.sensitive = into.sensitive or sfs.is_sensitive([*prefix, name])
        if stat.S_ISDIR(st.st_mode):
            child = sfs.open_child_dir(dir_fd, name)
            if child is not None:
                try:
                    census(child, [*prefix, name], into)
                finally:
                    os.close(child)
        elif stat.S_ISREG(st.st_mode):
            into.bytes += st.st_size
            into.unusual = into.unusual or st.st_nlink > 1
        else:
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


def _hash_fd(fd: int) -> str:
    hasher = hashlib.blake2b(digest_size=32)
    for piece in sfs.read_pieces(fd):
        hasher.update(piece)
    return hasher.hexdigest()


class DirVolume:
    """One directory-backed volume inside one store transaction."""

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
        self._scanned: Usage | None = None
        self._delta = Usage(0, 0)
        self._limits = limits
        self._now = datetime.now(UTC)

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
        parts = _parts(path)
        if any(part.startswith(sfs.TMP_PREFIX) for part in parts):
            raise PathReserved(f"names starting with {sfs.TMP_PREFIX} are sessionbox's own")
        if sfs.is_sensitive(parts):
            raise PathForbidden(f"{path} is a sensitive name; it is never read or written")

    def _find(self, path: VPath) -> tuple[int, str, os.stat_result]:
        """Parent directory fd (the caller closes it), name and lstat of ``path``."""
        parts = _parts(path)
        with sfs.os_errors(path):
            fd = self._open(parts[:-1])
            if fd is None:
                raise NotFound(f"no such file or directory: {path}")
            try:
                st = sfs.lstat_at(fd, parts[-1])
                if st is None:
                    raise NotFound(f"no such file or directory: {path}")
                if not stat.S_ISDIR(st.st_mode):
                    sfs.check_regular(st, path)
            except BaseException:
                os.close(fd)
                raise
        return fd, parts[-1], st

    def _entry(
        self,
        dir_fd: int,
        name: str,
        path: VPath,
        st: os.stat_result,
        row: MetaRow | None,
        digest: str | None = None,
    ) -> Entry:
        is_dir = stat.S_ISDIR(st.st_mode)
        mtime = datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC)
        if row is not None and row.stamp == _stamp(st):
            version, digest = row.version, row.content_hash
        elif is_dir:
            version, digest = 1, None
        else:  # changed outside sessionbox: the content decides the version
            if digest is None:
                fd, _ = sfs.open_regular(dir_fd, name)
                try:
                    digest = _hash_fd(fd)
                finally:
                    os.close(fd)
            version = int(digest[:13], 16)
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

    def _record(self, dir_fd: int, name: str, entry: Entry) -> None:
        """Remember ``entry`` with the stat identity its file has now."""
        st = sfs.lstat_at(dir_fd, name)
        if st is None:
            raise Unavailable(f"{entry.path} disappeared while it was being written")
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
                    stamp=_stamp(st),
                )
            ]
        )

    # -- reading -------------------------------------------------------------------

    def stat(self, path: VPath) -> Entry:
        if path == ROOT:
            return root_entry()
        self._guard(path)
        fd, name, st = self._find(path)
        try:
            with sfs.os_errors(path):
                return self._entry(fd, name, path, st, self._meta.get(path))
        finally:
            os.close(fd)

    def _open_listed(self, path: VPath) -> int | None:
        if path == ROOT:
            return self._root()
        fd, name, st = self._find(path)
        try:
            if not stat.S_ISDIR(st.st_mode):
                raise NotADirectory(f"not a directory: {path}")
            with sfs.os_errors(path):
                return sfs.open_child_dir(fd, name)
        finally:
            os.close(fd)

    def _children(self, dir_fd: int, path: VPath) -> builtins.list[tuple[str, os.stat_result]]:
        prefix = _parts(path)
        with os.scandir(dir_fd) as found:
            items = [(item.name, item.stat(follow_symlinks=False)) for item in found]
        return sorted((n, st) for n, st in items if visible([*prefix, n], st))

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
        if path == ROOT:
            raise IsADirectory("is a directory: /")
        self._guard(path)
        fd, name, st = self._find(path)
        try:
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectory(f"is a directory: {path}")
            if st.st_size > max_bytes:
                raise TooLarge(
                    f"{path} has {st.st_size} bytes, more than {max_bytes} can be "
                    "returned at once; stream it with ?raw=1"
                )
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
        rows = self._meta.children(path)
        for name, st in self._children(dir_fd, path):
            child = paths.join(path, name)
            out.append(self._entry(dir_fd, name, child, st, rows.get(name)))
            if stat.S_ISDIR(st.st_mode):
                fd = sfs.open_child_dir(dir_fd, name)
                if fd is not None:
                    try:
                        self._tree(fd, child, out)
                    finally:
                        os.close(fd)

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
        if self._scanned is None:
            with sfs.os_errors("the volume directory"):
                self._scanned = self._count()
        return Usage(
            self._usage.bytes_used + self._scanned.bytes_used + self._delta.bytes_used,
            self._usage.entry_count + self._scanned.entry_count + self._delta.entry_count,
        )

    def _count(self) -> Usage:
        """The owner's directory-backed volumes: as last counted, or counted on disk now.

        A count younger than ``RECOUNT_AFTER`` plus sessionbox's own changes since
        is trusted; an older one is redone, so native tools' changes are counted too.
        """
        since = self._now - RECOUNT_AFTER
        total = Usage(0, 0)
        for vid, kind in self._meta.owner_volumes() or [(-1, self._kind)]:
            place = self._owner_places.get(kind)
            if place is None:
                continue  # kept in SQL: in the store's counters already
            counted = self._meta.counted(vid, since) if vid >= 0 else None
            if counted is None:
                counted = scan_usage([place])
                if self._limits is not None and vid >= 0:
                    self._meta.save_count(vid, counted, self._now)
            total = Usage(
                total.bytes_used + counted.bytes_used, total.entry_count + counted.entry_count
            )
        return total

    def save_usage(self) -> None:
        """Add this transaction's changes to the volume's count (the store calls it last)."""
        if self._delta != Usage(0, 0):
            self._meta.add_count(self._delta)

    # -- writing -------------------------------------------------------------------

    def _grow(self, new_bytes: int, new_entries: int) -> None:
        """Account for a change about to be made, refusing growth past the session's limits.

        The disk is counted once per transaction (native tools change it behind
        sessionbox's back, so stored counters would drift), then kept up to date here.
        """
        if self._limits is None:
            return
        used = self.usage()
        if new_bytes > 0 and used.bytes_used + new_bytes > self._limits.session_quota_bytes:
            raise QuotaExceeded(
                f"the session would hold {used.bytes_used + new_bytes} bytes, "
                f"over its quota of {self._limits.session_quota_bytes}"
            )
        if new_entries > 0 and used.entry_count + new_entries > (
            self._limits.max_entries_per_session
        ):
            raise QuotaExceeded(
                f"the session would hold more than {self._limits.max_entries_per_session} entries"
            )
        self._delta = Usage(
            self._delta.bytes_used + new_bytes, self._delta.entry_count + new_entries
        )

    def _target(self, path: VPath) -> _Slot:
        """Where ``path`` would go: its deepest existing ancestor, and what is there now."""
        above = _parts(path)[:-1]
        fd = self._root(create=True)
        assert fd is not None
        slot = _Slot(fd, path)
        try:
            for i, part in enumerate(above):
                st = sfs.lstat_at(slot.fd, part)
                if st is None:
                    slot.missing = above[i:]
                    return slot
                if stat.S_ISREG(st.st_mode):
                    slot.blocked = VPath("/" + "/".join(above[: i + 1]))
                    return slot
                child = sfs.open_child_dir(slot.fd, part)
                assert child is not None
                os.close(slot.fd)
                slot.fd = child
            st = sfs.lstat_at(slot.fd, slot.name)
            if st is not None:
                if not stat.S_ISDIR(st.st_mode):
                    sfs.check_regular(st, path)
                slot.existing = self._entry(slot.fd, slot.name, path, st, self._meta.get(path))
        except BaseException:
            slot.close()
            raise
        return slot

    def _make_parents(self, slot: _Slot) -> int:
        """Create the missing ancestors of ``slot.path``; the parent's fd (owned by ``slot``)."""
        above = _parts(slot.path)[:-1]
        at = VPath("/" + "/".join(above[: len(above) - len(slot.missing)]))
        for name in slot.missing:
            at = paths.join(at, name)
            os.mkdir(name, 0o777, dir_fd=slot.fd)
            child = sfs.open_child_dir(slot.fd, name)
            assert child is not None
            os.close(slot.fd)
            slot.fd = child
            st = os.fstat(child)
            self._meta.put([MetaRow(at, uuid7(), False, None, {}, 1, None, self._now, _stamp(st))])
        slot.missing = []
        return slot.fd

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
        self._guard(path)
        if self._limits is not None and content.size > self._limits.max_file_bytes:
            raise TooLarge(
                f"{content.size} bytes is over the file size limit of {self._limits.max_file_bytes}"
            )
        with sfs.os_errors(path), self._target(path) as slot:
            existing = slot.existing
            if existing is None:
                if mode == "update":
                    raise NotFound(f"no such file: {path}")
                if if_match is not None:
                    raise PreconditionFailed(f"{path} does not exist, so If-Match cannot match")
                if slot.blocked:
                    raise NotADirectory(f"{slot.blocked} is a file, not a directory")
                self._grow(content.size, len(slot.missing) + 1)
                fd = self._make_parents(slot)
                sfs.atomic_write(fd, slot.name, content.chunks(), readonly=bool(readonly))
                entry = self._entry_for(path, content, readonly, content_type, meta, None)
                self._record(fd, slot.name, entry)
                return entry, True
            if existing.is_directory:
                raise IsADirectory(f"is a directory: {path}")
            if mode == "create":
                raise Exists(f"already exists: {path}")
            check_if_match(existing, if_match)
            if existing.is_readonly:
                raise ReadOnly(f"{path} is read-only; clear is_readonly before changing it")
            self._grow(content.size - existing.size_bytes, 0)
            perms = stat.S_IMODE(os.stat(slot.name, dir_fd=slot.fd, follow_symlinks=False).st_mode)
            sfs.atomic_write(
                slot.fd, slot.name, content.chunks(), readonly=bool(readonly), perms=perms
            )
            entry = self._entry_for(path, content, readonly, content_type, meta, existing)
            self._record(slot.fd, slot.name, entry)
            return entry, False

    def _entry_for(
        self,
        path: VPath,
        content: Content,
        readonly: bool | None,
        content_type: str | None,
        meta: dict[str, Any] | None,
        old: Entry | None,
    ) -> Entry:
        return Entry(
            id=old.id if old else uuid7(),
            path=path,
            is_directory=False,
            is_readonly=bool(readonly),
            size_bytes=content.size,
            content_type=content_type or (old.content_type if old else None),
            meta=(old.meta if old else {}) if meta is None else meta,
            version=old.version + 1 if old else 1,
            content_hash=content.hash,
            created_at=old.created_at if old else self._now,
            updated_at=self._now,
        )

    def mkdir(self, path: VPath, *, exist_ok: bool = False) -> Entry:
        if path == ROOT:
            if exist_ok:
                return root_entry()
            raise Exists("already exists: /")
        self._guard(path)
        with sfs.os_errors(path), self._target(path) as slot:
            if slot.existing is not None:
                if slot.existing.is_directory and exist_ok:
                    return slot.existing
                raise Exists(f"already exists: {path}")
            if slot.blocked:
                raise NotADirectory(f"{slot.blocked} is a file, not a directory")
            self._grow(0, len(slot.missing) + 1)
            fd = self._make_parents(slot)
            os.mkdir(slot.name, 0o777, dir_fd=fd)
            st = sfs.lstat_at(fd, slot.name)
            assert st is not None
            entry = self._entry(fd, slot.name, path, st, None)
            self._record(fd, slot.name, replace(entry, id=uuid7(), created_at=self._now))
        return self.stat(path)

    def set_attrs(
        self,
        path: VPath,
        *,
        readonly: bool | None = None,
        meta: dict[str, Any] | None = None,
        if_match: str | None = None,
    ) -> Entry:
        if path == ROOT:
            raise PathInvalid("the root directory has no attributes to change")
        entry = self.stat(path)
        check_if_match(entry, if_match)
        fd, name, _ = self._find(path)
        try:
            with sfs.os_errors(path):
                if readonly is not None and not entry.is_directory:
                    sfs.set_readonly(fd, name, readonly)
                changed = replace(
                    entry,
                    is_readonly=entry.is_readonly if readonly is None else readonly,
                    meta=entry.meta if meta is None else meta,
                    version=entry.version + 1,
                )
                self._record(fd, name, changed)
        finally:
            os.close(fd)
        return self.stat(path)

    def _census_of(self, fd: int, name: str, path: VPath, entry: Entry) -> Census:
        """The tree at ``path`` (``entry``) counted on disk, top included."""
        found = Census(entries=1, bytes=entry.size_bytes)
        if entry.is_directory:
            child = sfs.open_child_dir(fd, name)
            if child is not None:
                try:
                    census(child, _parts(path), found)
                finally:
                    os.close(child)
        return found

    def delete(self, path: VPath, *, recursive: bool = False, if_match: str | None = None) -> int:
        if path == ROOT:
            total = 0
            for child in self.list(ROOT, limit=1_000_000):
                total += self.delete(child.path, recursive=recursive)
            return total
        self._guard(path)
        if self._unlink_odd(path, if_match):
            return 1
        entry = self.stat(path)
        check_if_match(entry, if_match)
        fd, name, _ = self._find(path)
        try:
            with sfs.os_errors(path):
                tree = self._census_of(fd, name, path, entry)
                if tree.entries > 1 and not recursive:
                    raise DirectoryNotEmpty(f"{path} is not empty; delete it with recursive=true")
                if tree.sensitive:
                    raise PathForbidden(f"{path} holds sensitive files; they are never removed")
                self._grow(-tree.bytes, -tree.entries)
                sfs.remove(fd, name)
                self._meta.drop(path)
                return tree.entries
        finally:
            os.close(fd)

    def _unlink_odd(self, path: VPath, if_match: str | None) -> bool:
        """Remove a link, FIFO, device or hard link a native tool left: only its name goes."""
        parts = _parts(path)
        with sfs.os_errors(path):
            fd = self._open(parts[:-1])
            if fd is None:
                return False
            try:
                st = sfs.lstat_at(fd, parts[-1])
                if st is None or visible(parts, st) or stat.S_ISDIR(st.st_mode):
                    return False
                if if_match not in (None, "*"):
                    raise PreconditionFailed(f"{path} has no ETag: it is not a regular file")
                self._grow(-st.st_size if stat.S_ISREG(st.st_mode) else 0, -1)
                os.unlink(parts[-1], dir_fd=fd)
                self._meta.drop(path)
                return True
            finally:
                os.close(fd)

    def _claim(self, src: Entry, dst: VPath, overwrite: bool, grow: Usage) -> _Slot:
        """Check that ``dst`` may receive ``src`` (``grow`` more) before anything changes."""
        if src.path == ROOT:
            raise PathInvalid("the root directory cannot be moved or copied")
        if src.is_directory and paths.is_within(dst, src.path):
            raise MoveIntoSelf(f"cannot put {src.path} inside itself ({dst})")
        if paths.is_within(src.path, dst):
            raise MoveIntoSelf(f"{dst} contains {src.path}; it cannot be replaced by it")
        self._guard(dst)
        slot = self._target(dst)
        try:
            target = slot.existing
            if target is not None:
                if not overwrite:
                    raise Exists(f"already exists: {dst}; pass overwrite=true to replace it")
                if target.is_readonly:
                    raise ReadOnly(f"{dst} is read-only and cannot be replaced")
                cleared = self._census_of(slot.fd, slot.name, dst, target)
                if cleared.sensitive:
                    raise PathForbidden(f"{dst} holds sensitive files; they are never removed")
                self._grow(-cleared.bytes, -cleared.entries)
            elif slot.blocked:
                raise NotADirectory(f"{slot.blocked} is a file, not a directory")
            self._grow(grow.bytes_used, grow.entry_count + len(slot.missing))
        except BaseException:
            slot.close()
            raise
        return slot

    def _clear(self, slot: _Slot) -> int:
        """Make room at a claimed target; the parent directory's fd (owned by ``slot``)."""
        if slot.existing is not None:
            sfs.remove(slot.fd, slot.name)
            self._meta.drop(slot.path)
            return slot.fd
        return self._make_parents(slot)

    def move(
        self, src: VPath, dst: VPath, *, overwrite: bool = False, if_match: str | None = None
    ) -> Entry:
        self._guard(src)
        entry = self.stat(src)
        check_if_match(entry, if_match)
        if src == dst:
            return entry
        src_fd, src_name, _ = self._find(src)
        try:
            with sfs.os_errors(src):
                if self._census_of(src_fd, src_name, src, entry).sensitive:
                    raise PathForbidden(f"{src} holds sensitive files; they are never moved")
                with self._claim(entry, dst, overwrite, Usage(0, 0)) as slot:
                    dst_fd = self._clear(slot)
                    os.rename(src_name, slot.name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
                    os.fsync(dst_fd)
                    self._meta.rename(src, dst)
                    self._record(dst_fd, slot.name, replace(entry, path=dst))
        finally:
            os.close(src_fd)
        return self.stat(dst)

    def copy(self, src: VPath, dst: VPath, *, overwrite: bool = False) -> Entry:
        self._guard(src)
        entry = self.stat(src)
        if src == dst:
            raise Exists(f"cannot copy {src} onto itself")
        src_fd, src_name, _ = self._find(src)
        try:
            with sfs.os_errors(src):
                found = self._census_of(src_fd, src_name, src, entry)
        finally:
            os.close(src_fd)
        if found.sensitive or found.unusual:
            raise PathForbidden(f"{src} holds sensitive files, links or special files")
        tree = [e for e, _ in self.walk(src, with_content=False)]
        size = Usage(sum(e.size_bytes for e in tree), len(tree))
        with sfs.os_errors(dst), self._claim(entry, dst, overwrite, size) as slot:
            self._clear(slot)
        with sfs.os_errors(dst):
            for item in tree:
                self._copy_one(item, paths.rebase(item.path, src, dst))
        return self.stat(dst)

    def _copy_one(self, item: Entry, target: VPath) -> None:
        parent = self._open(_parts(target)[:-1])
        if parent is None:
            raise Unavailable(f"the parent of {target} disappeared during a copy")
        name = paths.name(target)
        try:
            if item.is_directory:
                os.mkdir(name, 0o777, dir_fd=parent)
            else:
                src_parent, src_name, _ = self._find(item.path)
                try:
                    fd, opened = sfs.open_regular(src_parent, src_name)
                finally:
                    os.close(src_parent)
                try:
                    sfs.atomic_write(
                        parent,
                        name,
                        sfs.read_pieces(fd),
                        readonly=item.is_readonly,
                        perms=stat.S_IMODE(opened.st_mode),
                    )
                finally:
                    os.close(fd)
            copied = replace(
                item, id=uuid7(), path=target, version=1, created_at=self._now, updated_at=self._now
            )
            self._record(parent, name, copied)
        finally:
            os.close(parent)


class _Slot:
    """A path about to be written: an open ancestor directory and what was found there."""

    def __init__(self, fd: int, path: VPath) -> None:
        self.fd = fd
        self.path = path
        self.name = paths.name(path)
        self.missing: builtins.list[str] = []
        self.blocked: VPath | None = None
        self.existing: Entry | None = None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> _Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_range(place: Place, entry: Entry, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of a file of a directory volume, streamed from disk."""
    if entry.is_directory or start >= end:
        return
    base, root = place
    parts = _parts(entry.path)
    if sfs.is_sensitive(parts):
        raise PathForbidden(f"{entry.path} is a sensitive name; it is never read")
    with sfs.os_errors(entry.path):
        parent = sfs.open_root(base, [*root, *parts[:-1]], create=False)
        if parent is None:
            raise Unavailable(f"{entry.path} disappeared while it was being read")
        try:
            fd, opened = sfs.open_regular(parent, parts[-1])
        finally:
            os.close(parent)
    try:
        if opened.st_size != entry.size_bytes:
            raise Unavailable(f"content of {entry.path} changed while it was being read")
        with sfs.os_errors(entry.path):
            yield from sfs.read_pieces(fd, start, end)
    finally:
        os.close(fd)
