"""A volume that is a plain directory on the host, so native tools can work in it.

``DirVolume`` (reads in ``_dirread.DirReader``) implements
``VolumeReader``/``VolumeWriter`` with the same semantics as ``SqlVolume``: the
store's homes (``_homes.Directories``) hand one out, inside the store's
transaction and under its session lock, for every directory-backed volume
(``dir:///`` stores, and the ``files`` volume of every unsafe session). The rules
are ``_rules``'s; this module holds the primitives on disk. What a
plain file cannot carry lives in the sidecar (``_dirmeta``); files changed by
native tools are seen as they are on disk. Path safety is ``_safefs``'s.

Every check runs before the first change on disk, so a refused operation has
no effect; the changes themselves are single renames where the OS allows, and
each is logged first in the update's undo journal (``_dirjournal``), so an
update of several steps (a snapshot rotation, a move over a target, a tree
copy) is undone whole if it fails or the process dies part-way.
"""

from __future__ import annotations

import builtins
import os
import stat
from dataclasses import replace
from typing import Any

from sessionbox import paths
from sessionbox.content import Content
from sessionbox.errors import (
    PathForbidden,
    PreconditionFailed,
    Unavailable,
)
from sessionbox.ids import uuid7
from sessionbox.paths import ROOT, VPath
from sessionbox.store import _rules as rules
from sessionbox.store import _safefs as sfs
from sessionbox.store._dirjournal import Journal
from sessionbox.store._dirmeta import MetaRow
from sessionbox.store._dirread import Census, DirReader, census, segments, stamp_of, visible
from sessionbox.types import Entry, Usage, WriteMode


class DirVolume(DirReader):
    """One directory-backed volume inside one store transaction: reads and changes."""

    journal: Journal | None = None
    """Set by the store for an update: every change on disk is logged here first."""

    def _log(self) -> Journal:
        if self.journal is None:  # a change outside ``store.update`` would never commit
            raise Unavailable("a directory volume changed outside a store update")
        return self.journal

    def finish(self) -> None:
        """Last in the store's transaction: add this update's growth to the volume's
        count, and record its journal's token, the commit point of the disk's changes."""
        if self.quota.grown != Usage(0, 0):
            self._meta.add_count(self.quota.grown)
        if self.journal is not None and self.journal.active:
            self._meta.commit(self.journal.token)

    # -- writing -------------------------------------------------------------------

    def _target(self, path: VPath) -> _Slot:
        """Where ``path`` would go: its deepest existing ancestor, and what is there now."""
        above = segments(path)[:-1]
        fd = self._root(create=True)
        if fd is None:
            raise Unavailable("the volume directory could not be created")
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
                if child is None:
                    raise Unavailable(f"{part} disappeared while {path} was being written")
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
        above = segments(slot.path)[:-1]
        at = VPath("/" + "/".join(above[: len(above) - len(slot.missing)]))
        if slot.missing:
            self._log().created(above[: len(above) - len(slot.missing) + 1])
        for name in slot.missing:
            at = paths.join(at, name)
            os.mkdir(name, 0o777, dir_fd=slot.fd)
            child = sfs.open_child_dir(slot.fd, name)
            if child is None:
                raise Unavailable(f"{name} disappeared while it was being created")
            os.close(slot.fd)
            slot.fd = child
            st = os.fstat(child)
            self._meta.put(
                [MetaRow(at, uuid7(), False, None, {}, 1, None, self._now, stamp_of(st))]
            )
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
        self.quota.check_file(content.size)
        with sfs.os_errors(path), self._target(path) as slot:
            existing = slot.existing
            rules.check_write(path, existing, mode=mode, if_match=if_match, blocked=slot.blocked)
            if existing is None:
                self.quota.reserve(content.size, len(slot.missing) + 1)
                fd = self._make_parents(slot)
                self._log().created(segments(path))
                mtime = sfs.atomic_write(fd, slot.name, content.chunks(), readonly=bool(readonly))
                entry = self._entry_for(path, content, readonly, content_type, meta, None)
                self._record(fd, slot.name, entry, mtime)
                return entry, True
            self.quota.reserve(content.size - existing.size_bytes, 0)
            perms = stat.S_IMODE(os.stat(slot.name, dir_fd=slot.fd, follow_symlinks=False).st_mode)
            self._log().keep(slot.fd, slot.name, segments(path), link=True)
            mtime = sfs.atomic_write(
                slot.fd, slot.name, content.chunks(), readonly=bool(readonly), perms=perms
            )
            entry = self._entry_for(path, content, readonly, content_type, meta, existing)
            self._record(slot.fd, slot.name, entry, mtime)
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
            root = rules.root_entry()
            rules.check_mkdir(path, root, exist_ok=exist_ok)  # Exists unless exist_ok
            return root
        self._guard(path)
        with sfs.os_errors(path), self._target(path) as slot:
            found = rules.check_mkdir(path, slot.existing, exist_ok=exist_ok, blocked=slot.blocked)
            if found is not None:
                return found
            self.quota.reserve(0, len(slot.missing) + 1)
            fd = self._make_parents(slot)
            self._log().created(segments(path))
            os.mkdir(slot.name, 0o777, dir_fd=fd)
            st = sfs.lstat_at(fd, slot.name)
            if st is None:
                raise Unavailable(f"{path} disappeared while it was being created")
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
        entry = self.stat(path)
        rules.check_attrs(entry, if_match)
        fd, name, _ = self._find(path)
        try:
            with sfs.os_errors(path):
                if readonly is not None and not entry.is_directory:
                    old = stat.S_IMODE(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
                    self._log().mode(segments(path), old)
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
                    census(child, segments(path), found)
                finally:
                    os.close(child)
        return found

    def delete(self, path: VPath, *, recursive: bool = False, if_match: str | None = None) -> int:
        if path == ROOT:
            children = self.list(ROOT, limit=1_000_000)
            rules.check_delete(
                rules.root_entry(),
                if_match=if_match,
                recursive=recursive,
                empty=lambda: not children,
            )
            return sum(self.delete(child.path, recursive=True) for child in children)
        self._guard(path)
        if self._unlink_odd(path, if_match):
            return 1
        entry = self.stat(path)
        fd, name, _ = self._find(path)
        try:
            with sfs.os_errors(path):
                tree = self._census_of(fd, name, path, entry)
                rules.check_delete(
                    entry, if_match=if_match, recursive=recursive, empty=lambda: tree.entries == 1
                )
                if tree.sensitive:
                    raise PathForbidden(f"{path} holds sensitive files; they are never removed")
                self.quota.reserve(-tree.bytes, -tree.entries)
                self._log().keep(fd, name, segments(path), link=False)
                self._meta.drop(path)
                return tree.entries
        finally:
            os.close(fd)

    def _unlink_odd(self, path: VPath, if_match: str | None) -> bool:
        """Remove a link, FIFO, device or hard link a native tool left: only its name goes."""
        parts = segments(path)
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
                self.quota.reserve(-st.st_size if stat.S_ISREG(st.st_mode) else 0, -1)
                self._log().keep(fd, parts[-1], parts, link=False)
                self._meta.drop(path)
                return True
            finally:
                os.close(fd)

    def _claim(self, dst: VPath, overwrite: bool, grow: Usage) -> _Slot:
        """Check that ``dst`` may receive a move or copy (``grow`` more) before anything
        changes; the paths were judged already (``rules.check_placement``)."""
        self._guard(dst)
        slot = self._target(dst)
        try:
            target = slot.existing
            rules.check_target(dst, target, overwrite=overwrite, blocked=slot.blocked)
            if target is not None:
                cleared = self._census_of(slot.fd, slot.name, dst, target)
                if cleared.sensitive:
                    raise PathForbidden(f"{dst} holds sensitive files; they are never removed")
                self.quota.reserve(-cleared.bytes, -cleared.entries)
            self.quota.reserve(grow.bytes_used, grow.entry_count + len(slot.missing))
        except BaseException:
            slot.close()
            raise
        return slot

    def _clear(self, slot: _Slot) -> int:
        """Make room at a claimed target; the parent directory's fd (owned by ``slot``)."""
        if slot.existing is not None:
            self._log().keep(slot.fd, slot.name, segments(slot.path), link=False)
            self._meta.drop(slot.path)
            return slot.fd
        return self._make_parents(slot)

    def move(
        self, src: VPath, dst: VPath, *, overwrite: bool = False, if_match: str | None = None
    ) -> Entry:
        self._guard(src)
        entry = self.stat(src)
        if not rules.check_move(entry, dst, if_match=if_match):
            return entry
        src_fd, src_name, _ = self._find(src)
        try:
            with sfs.os_errors(src):
                if self._census_of(src_fd, src_name, src, entry).sensitive:
                    raise PathForbidden(f"{src} holds sensitive files; they are never moved")
                with self._claim(dst, overwrite, Usage(0, 0)) as slot:
                    dst_fd = self._clear(slot)
                    self._log().moved(segments(src), segments(dst))
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
        rules.check_copy(entry, dst)
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
        with sfs.os_errors(dst), self._claim(dst, overwrite, size) as slot:
            self._clear(slot)
            self._log().created(segments(dst))
        with sfs.os_errors(dst):
            for item in tree:
                self._copy_one(item, paths.rebase(item.path, src, dst))
        return self.stat(dst)

    def _copy_one(self, item: Entry, target: VPath) -> None:
        parent = self._open(segments(target)[:-1])
        if parent is None:
            raise Unavailable(f"the parent of {target} disappeared during a copy")
        name = paths.name(target)
        try:
            mtime = None
            if item.is_directory:
                os.mkdir(name, 0o777, dir_fd=parent)
            else:
                src_parent, src_name, _ = self._find(item.path)
                try:
                    fd, opened = sfs.open_regular(src_parent, src_name)
                finally:
                    os.close(src_parent)
                try:
                    mtime = sfs.atomic_write(
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
            self._record(parent, name, copied, mtime)
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
