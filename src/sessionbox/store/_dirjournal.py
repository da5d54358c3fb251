"""An undo log that makes one update of a directory volume all-or-nothing, even across a crash.

A directory volume has no transactions: a snapshot rotation (move the latest
into history, write the new latest, prune) or a move over an existing target is
several renames, and a ``kill -9`` between two of them would leave a state no
request asked for (no latest snapshot; neither the target nor the source). So
before each step the volume writes what would undo it to a log, fsynced; what a
step removes or replaces is not destroyed but renamed (or hard-linked) into the
journal directory. The log starts with a random token, which the store writes
into ``dir_commits`` in the same database transaction as the sidecar rows: that
commit is the commit of the whole update. Then the log is unlinked and the kept
files purged. An update that fails is undone in reverse order; a log found at the
next access to the volume (the process died) is rolled forward (only the purge is
left) if its token is in the database, undone otherwise. Every undo step checks
what is on disk, so a step that was logged but never made, or an undo that was
itself interrupted, is handled by running the undo again.

The journal of a volume lives in ``base/.journal/<name>/``, next to its lock
file (same name) and outside every user-visible tree, on the same filesystem as
the volume so that keeping a file is one rename. The callers hold the volume's
exclusive lock for all of this.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from sessionbox.store import _safefs as sfs

LOG = "log"
_TRASH = "t"


def journal_dir(base: Path, parts: Sequence[str]) -> Path:
    return base / ".journal" / sfs.volume_lock_file(base, parts).stem


def pending(base: Path, parts: Sequence[str]) -> bool:
    """Whether an interrupted update of this volume waits to be undone (one ``stat``)."""
    return (journal_dir(base, parts) / LOG).exists()


def forget(base: Path, parts: Sequence[str]) -> None:
    """Remove a deleted volume's journal directory, so they do not pile up."""
    place = journal_dir(base, parts)
    with suppress(FileNotFoundError):
        sfs.remove_under(place.parent, [place.name])


class Journal:
    """The undo log of the update in progress on one volume (made on its first change)."""

    def __init__(self, base: Path, parts: Sequence[str]) -> None:
        self._base = base
        self._parts = list(parts)
        self._dir = journal_dir(base, parts)
        self._dir_fd = -1
        self._log_fd = -1
        self._count = 0
        self.token = secrets.token_hex(16)
        """Recorded in the database by the transaction that commits this update."""

    # -- recording (each call comes before the step it guards) ---------------------

    def created(self, path: Sequence[str]) -> None:
        """``path`` (absent now) is about to be made: the undo removes whatever is there."""
        self._note({"op": "created", "path": list(path)})

    def moved(self, src: Sequence[str], dst: Sequence[str]) -> None:
        """``src`` is about to be renamed to ``dst`` (absent now): the undo renames it back."""
        self._note({"op": "moved", "src": list(src), "dst": list(dst)})

    def mode(self, path: Sequence[str], old: int) -> None:
        """``path``'s permission bits are about to change from ``old``."""
        self._note({"op": "mode", "path": list(path), "mode": old})

    def keep(self, dir_fd: int, name: str, path: Sequence[str], *, link: bool) -> None:
        """Take ``name`` out of the tree into the journal, or hard-link it there (``link``).

        ``link`` is for a file about to be replaced by a rename (its old inode stays
        reachable from the journal); otherwise this *is* the removal, one rename
        whatever the size of the tree.
        """
        self._open()
        trash = f"{_TRASH}{self._count}"
        self._note({"op": "kept", "path": list(path), "trash": trash})
        if link:
            os.link(name, trash, src_dir_fd=dir_fd, dst_dir_fd=self._dir_fd, follow_symlinks=False)
        else:
            os.rename(name, trash, src_dir_fd=dir_fd, dst_dir_fd=self._dir_fd)
        os.fsync(self._dir_fd)

    # -- ending ----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self._log_fd >= 0

    def commit(self) -> None:
        """The update is in the database: make it final on disk, then drop what was kept."""
        if not self.active:
            return
        os.close(self._log_fd)
        self._log_fd = -1
        try:
            os.unlink(LOG, dir_fd=self._dir_fd)
            os.fsync(self._dir_fd)
            self._finish()
        except BaseException:
            self.abandon()  # the next access settles it: the database says committed
            raise

    def rollback(self) -> None:
        """Undo every logged step of this update, newest first."""
        if not self.active:
            return
        os.close(self._log_fd)
        self._log_fd = -1
        try:
            undo_log(self._base, self._parts, self._dir_fd, _read_log(self._dir_fd) or [])
            self._finish()
        except BaseException:
            self.abandon()  # the log stays: the next access undoes the rest
            raise
        self.token = secrets.token_hex(16)  # a retried attempt is another update

    def abandon(self) -> None:
        """Leave the log for the next access to settle (the database cannot say now)."""
        for fd in (self._log_fd, self._dir_fd):
            if fd >= 0:
                os.close(fd)
        self._log_fd = self._dir_fd = -1

    def recover(self, committed: Callable[[str], bool]) -> str | None:
        """Settle an update a crashed process left: "undone", "kept", or None if none.

        ``committed(token)`` says whether the database holds the update's commit.
        """
        try:
            fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            records = _read_log(fd)
            if records is None:
                return None
            token = records[0].get("token") if records else None
            if isinstance(token, str) and committed(token):
                os.unlink(LOG, dir_fd=fd)
                os.fsync(fd)
                outcome = "kept"
            else:
                undo_log(self._base, self._parts, fd, records)
                outcome = "undone"
            _purge(fd)
            return outcome
        finally:
            os.close(fd)

    # -- internals -------------------------------------------------------------------

    def _open(self) -> None:
        if self._dir_fd < 0:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._dir_fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            _purge(self._dir_fd)  # a commit's purge cut short by a crash
        if self._log_fd < 0:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
            self._log_fd = os.open(LOG, flags, 0o600, dir_fd=self._dir_fd)
            self._count += 1
            begin = json.dumps({"op": "begin", "token": self.token}) + "\n"
            os.write(self._log_fd, begin.encode())
            os.fsync(self._log_fd)
            os.fsync(self._dir_fd)

    def _note(self, record: dict[str, Any]) -> None:
        self._open()
        self._count += 1
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        os.write(self._log_fd, line)
        os.fsync(self._log_fd)

    def _finish(self) -> None:
        _purge(self._dir_fd)
        os.close(self._dir_fd)
        self._dir_fd = -1
        self._count = 0


def _purge(dir_fd: int) -> None:
    """Remove what a finished update kept (everything but a log still to undo)."""
    with os.scandir(dir_fd) as found:
        names = [item.name for item in found if item.name != LOG]
    for name in names:
        sfs.remove(dir_fd, name)


def _read_log(dir_fd: int) -> list[dict[str, Any]] | None:
    """The records of the log in ``dir_fd``; None if there is no log."""
    try:
        fd = os.open(LOG, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    try:
        lines = b"".join(sfs.read_pieces(fd)).splitlines()
    finally:
        os.close(fd)
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            break  # the line being written when the process died: its step never began
    return records


def undo_log(base: Path, parts: Sequence[str], dir_fd: int, records: list[dict[str, Any]]) -> None:
    """Undo the steps of ``records`` (``dir_fd``'s log), newest first, then drop the log."""
    root = sfs.open_root(base, parts, create=False)
    if root is not None:
        try:
            for record in reversed(records):
                _undo(root, dir_fd, record)
            os.fsync(root)
        finally:
            os.close(root)
    os.unlink(LOG, dir_fd=dir_fd)
    os.fsync(dir_fd)


def _parent(root: int, path: Sequence[str]) -> int | None:
    fd = os.dup(root)
    for part in path[:-1]:
        try:
            child = sfs.open_child_dir(fd, part)
        finally:
            os.close(fd)
        if child is None:
            return None
        fd = child
    return fd


def _undo(root: int, journal_fd: int, record: dict[str, Any]) -> None:
    op = record["op"]
    if op == "begin":
        return
    if op == "moved":
        src, dst = record["src"], record["dst"]
        src_fd, dst_fd = _parent(root, src), _parent(root, dst)
        try:
            if (
                src_fd is not None
                and dst_fd is not None
                and sfs.lstat_at(src_fd, src[-1]) is None
                and sfs.lstat_at(dst_fd, dst[-1]) is not None
            ):
                os.rename(dst[-1], src[-1], src_dir_fd=dst_fd, dst_dir_fd=src_fd)
                os.fsync(src_fd)
        finally:
            for fd in (src_fd, dst_fd):
                if fd is not None:
                    os.close(fd)
        return
    path = record["path"]
    parent = _parent(root, path)
    if parent is None:
        return
    try:
        if op == "created":
            sfs.remove(parent, path[-1])
        elif op == "kept":
            if sfs.lstat_at(journal_fd, record["trash"]) is None:
                return  # logged, never taken
            found = sfs.lstat_at(parent, path[-1])
            if found is not None and stat.S_ISDIR(found.st_mode):
                sfs.remove(parent, path[-1])
            os.rename(record["trash"], path[-1], src_dir_fd=journal_fd, dst_dir_fd=parent)
        elif op == "mode":
            found = sfs.lstat_at(parent, path[-1])
            if found is not None and stat.S_ISREG(found.st_mode):
                fd = os.open(path[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=parent)
                try:
                    os.fchmod(fd, record["mode"])
                finally:
                    os.close(fd)
        os.fsync(parent)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
    finally:
        os.close(parent)
